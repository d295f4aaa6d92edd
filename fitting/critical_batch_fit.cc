#include "fitting/critical_batch_fit.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "ceres/ceres.h"
#include "fitting/csv_table.h"

namespace scalelaw::fitting {
namespace {

// Residual of one measurement in log space, θ = (b, s):
//
//   r(θ) = b − s·log L − log B_simple,   log B_crit(L) = log B* − (1/α_B)·log L
//
// with B* = exp(b), s = 1/α_B (Kaplan et al. 2020, eq. 5.3).
struct CriticalBatchLogResidual {
  CriticalBatchLogResidual(double log_loss, double log_noise_scale)
      : log_loss(log_loss), log_noise_scale(log_noise_scale) {}

  template <typename T>
  bool operator()(const T* const theta, T* residual) const {
    residual[0] = theta[0] - theta[1] * log_loss - log_noise_scale;
    return true;
  }

  double log_loss;
  double log_noise_scale;
};

}  // namespace

double CriticalBatchParams::CriticalBatch(double loss) const {
  return B_star / std::pow(loss, 1.0 / alpha_B);
}

absl::StatusOr<CriticalBatchFitResult> FitCriticalBatch(const std::vector<NoiseScalePoint>& points,
                                                        const CriticalBatchFitOptions& options) {
  if (!(options.huber_delta > 0) || !std::isfinite(options.huber_delta)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "critical batch fit: huber_delta must be positive and finite, got ", options.huber_delta));
  }
  const std::set<std::string> excluded(options.exclude_ids.begin(), options.exclude_ids.end());
  std::set<std::string> seen;
  std::vector<double> log_loss, log_b;
  std::vector<std::string> ids;
  for (size_t i = 0; i < points.size(); ++i) {
    const NoiseScalePoint& point = points[i];
    if (!(point.loss > 0) || !std::isfinite(point.loss) || !(point.noise_scale > 0) ||
        !std::isfinite(point.noise_scale)) {
      return absl::InvalidArgumentError(
          absl::StrCat("noise-scale point '", point.id, "' (index ", i,
                       "): loss and noise_scale must be positive and finite, got ", point.loss,
                       " and ", point.noise_scale));
    }
    seen.insert(point.id);
    if (excluded.count(point.id) > 0) continue;
    log_loss.push_back(std::log(point.loss));
    log_b.push_back(std::log(point.noise_scale));
    ids.push_back(point.id);
  }
  for (const std::string& id : options.exclude_ids) {
    if (seen.count(id) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("critical batch fit: excluded id '", id, "' names no point"));
    }
  }
  const size_t n = log_loss.size();
  if (n < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("critical batch fit needs at least 2 points, got ", n));
  }
  double mean_x = 0, mean_y = 0;
  for (size_t i = 0; i < n; ++i) mean_x += log_loss[i] / n, mean_y += log_b[i] / n;
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxx += (log_loss[i] - mean_x) * (log_loss[i] - mean_x);
    sxy += (log_loss[i] - mean_x) * (log_b[i] - mean_y);
  }
  if (!(sxx > 0)) {
    return absl::InvalidArgumentError(
        "critical batch fit: every point has the same loss, so the exponent is undetermined");
  }
  // log B = b − s·log L: the least-squares slope is −s.
  const double s_ols = -sxy / sxx;
  std::vector<std::array<double, 2>> starts;
  for (double s : {s_ols, 1.0, 5.0, 20.0}) starts.push_back({mean_y + s * mean_x, s});

  ceres::Solver::Options solver_options;
  solver_options.linear_solver_type = ceres::DENSE_QR;
  solver_options.max_num_iterations = options.max_iterations;
  solver_options.function_tolerance = 1e-15;
  solver_options.gradient_tolerance = 1e-15;
  solver_options.parameter_tolerance = 1e-14;
  solver_options.logging_type = ceres::SILENT;

  CriticalBatchFitResult result;
  result.objective = std::numeric_limits<double>::infinity();
  std::array<double, 2> best{};
  bool found = false;
  for (const std::array<double, 2>& start : starts) {
    std::array<double, 2> theta = start;
    ceres::Problem problem;
    for (size_t i = 0; i < n; ++i) {
      // HuberLoss(δ) on r² is 2·Huber_δ(r), halved by Ceres: Σ Huber_δ(r_i).
      problem.AddResidualBlock(new ceres::AutoDiffCostFunction<CriticalBatchLogResidual, 1, 2>(
                                   new CriticalBatchLogResidual(log_loss[i], log_b[i])),
                               new ceres::HuberLoss(options.huber_delta), theta.data());
    }
    ceres::Solver::Summary summary;
    ceres::Solve(solver_options, &problem, &summary);
    if (!std::isfinite(summary.final_cost) || !(theta[1] > 0) ||
        summary.final_cost >= result.objective) {
      continue;
    }
    found = true;
    best = theta;
    result.objective = summary.final_cost;
    result.termination = ceres::TerminationTypeToString(summary.termination_type);
    result.converged = summary.termination_type == ceres::CONVERGENCE;
    result.iterations = summary.num_successful_steps + summary.num_unsuccessful_steps;
  }
  if (!found) {
    return absl::InternalError(
        "critical batch fit: no start gave a positive exponent (the noise scale should grow "
        "as the loss falls)");
  }
  result.params = {.B_star = std::exp(best[0]), .alpha_B = 1.0 / best[1]};
  result.n_points = static_cast<int>(n);
  result.excluded_ids = options.exclude_ids;
  result.huber_delta = options.huber_delta;
  result.n_starts = static_cast<int>(starts.size());
  for (size_t i = 0; i < n; ++i) {
    double r = 0;
    CriticalBatchLogResidual(log_loss[i], log_b[i])(best.data(), &r);
    result.residual_ids.push_back(ids[i]);
    result.residuals.push_back(r);
  }
  return result;
}

absl::StatusOr<std::vector<NoiseScalePoint>> ReadNoiseScaleCsv(const std::string& path) {
  absl::StatusOr<CsvTable> table = ReadCsvTable(path);
  if (!table.ok()) return table.status();
  absl::StatusOr<int> loss_col = table->Column({"loss"}, true);
  if (!loss_col.ok()) return loss_col.status();
  absl::StatusOr<int> noise_col = table->Column({"noise_scale", "B_simple", "b_noise"}, true);
  if (!noise_col.ok()) return noise_col.status();
  absl::StatusOr<int> id_col = table->Column({"id"}, false);
  if (!id_col.ok()) return id_col.status();
  std::vector<NoiseScalePoint> points;
  for (size_t row = 0; row < table->rows.size(); ++row) {
    NoiseScalePoint point;
    absl::StatusOr<double> loss = table->Number(row, *loss_col, true);
    if (!loss.ok()) return loss.status();
    absl::StatusOr<double> noise = table->Number(row, *noise_col, true);
    if (!noise.ok()) return noise.status();
    point.loss = *loss;
    point.noise_scale = *noise;
    point.id = *id_col >= 0 && !table->rows[row][*id_col].empty()
                   ? table->rows[row][*id_col]
                   : absl::StrCat("line:", table->line_numbers[row]);
    points.push_back(std::move(point));
  }
  return points;
}

}  // namespace scalelaw::fitting
