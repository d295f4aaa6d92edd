#include "fitting/critical_batch_fit.h"

#include <array>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "fitting/csv_table.h"
#include "fitting/huber.h"
#include "fitting/line_fit.h"
#include "fitting/multi_start_fit.h"

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
  SCALELAW_RETURN_IF_ERROR(ValidateHuberDelta("critical batch fit", options.huber_delta));
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
  const LineFit line = FitLine(log_loss, log_b);
  if (!line.ok) {
    return absl::InvalidArgumentError(
        "critical batch fit: every point has the same loss, so the exponent is undetermined");
  }
  // Starts: the least-squares line (log B = b − s·log L, so its slope is −s)
  // and a few steeper slopes through the same centre.
  std::vector<std::array<double, 2>> starts;
  for (double s : {-line.slope, 1.0, 5.0, 20.0}) {
    starts.push_back({line.mean_y + s * line.mean_x, s});
  }

  std::vector<CriticalBatchLogResidual> residuals;
  for (size_t i = 0; i < n; ++i) residuals.emplace_back(log_loss[i], log_b[i]);
  const MultiStartFit<2> fit =
      FitFromStarts(residuals, starts, options.huber_delta, options.max_iterations,
                    [](const std::array<double, 2>& theta) { return theta[1] > 0; });
  if (fit.best_start_index < 0) {
    return absl::InternalError(
        "critical batch fit: no start gave a positive exponent (the noise scale should grow "
        "as the loss falls)");
  }
  CriticalBatchFitResult result;
  result.params = {.B_star = std::exp(fit.theta[0]), .alpha_B = 1.0 / fit.theta[1]};
  RecordSolve(fit, n, options, result);
  result.huber_delta = options.huber_delta;
  result.n_starts = static_cast<int>(starts.size());
  result.residual_ids = ids;
  result.residuals = ResidualsAt(residuals, fit.theta);
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
    point.id = table->RowId(row, *id_col);
    points.push_back(std::move(point));
  }
  return points;
}

}  // namespace scalelaw::fitting
