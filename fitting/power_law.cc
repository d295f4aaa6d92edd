#include "fitting/power_law.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "ceres/ceres.h"
#include "common/status_macros.h"

namespace scalelaw::fitting {
namespace {

constexpr int kNumParameters = 3;

// Residual of one point in log space, θ = (a, e, α):
//
//   r(θ) = LSE(a − α·log x, e) − log L,   exp(LSE) = A·x^(−α) + E
//
// with A = exp(a), E = exp(e); the one-variable analogue of Hoffmann et al.
// 2022, App. D.2. Fitting log L weighs every decade of x alike.
struct PowerLawLogResidual {
  PowerLawLogResidual(double log_x, double log_loss) : log_x(log_x), log_loss(log_loss) {}

  template <typename T>
  bool operator()(const T* const theta, T* residual) const {
    using std::exp;
    using std::log;
    using std::max;
    const T z0 = theta[0] - theta[2] * log_x;
    const T& z1 = theta[1];
    const T m = max(z0, z1);  // shift so exp() cannot overflow
    residual[0] = m + log(exp(z0 - m) + exp(z1 - m)) - log_loss;
    return true;
  }

  double log_x;
  double log_loss;
};

// Least-squares line log y = a − α·log x: the law without its offset, in
// closed form.
std::array<double, 2> LogLogLine(const std::vector<double>& log_x,
                                 const std::vector<double>& log_y) {
  const double n = static_cast<double>(log_x.size());
  double mean_x = 0, mean_y = 0;
  for (size_t i = 0; i < log_x.size(); ++i) mean_x += log_x[i] / n, mean_y += log_y[i] / n;
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < log_x.size(); ++i) {
    sxx += (log_x[i] - mean_x) * (log_x[i] - mean_x);
    sxy += (log_x[i] - mean_x) * (log_y[i] - mean_y);
  }
  const double slope = sxx > 0 ? sxy / sxx : 0.0;
  return {mean_y - slope * mean_x, -slope};
}

}  // namespace

const char* PowerLawAxisName(PowerLawAxis axis) {
  switch (axis) {
    case PowerLawAxis::kParams:
      return "params";
    case PowerLawAxis::kTokens:
      return "tokens";
    case PowerLawAxis::kCompute:
      return "compute";
  }
  return "params";
}

absl::StatusOr<PowerLawAxis> ParsePowerLawAxis(const std::string& name) {
  for (PowerLawAxis axis : {PowerLawAxis::kParams, PowerLawAxis::kTokens, PowerLawAxis::kCompute}) {
    if (name == PowerLawAxisName(axis)) return axis;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("x axis: expected params, tokens or compute, got '", name, "'"));
}

std::vector<double> AxisValues(const std::vector<Observation>& observations, PowerLawAxis axis) {
  std::vector<double> x;
  x.reserve(observations.size());
  for (const Observation& obs : observations) {
    switch (axis) {
      case PowerLawAxis::kParams:
        x.push_back(obs.params);
        break;
      case PowerLawAxis::kTokens:
        x.push_back(obs.tokens);
        break;
      case PowerLawAxis::kCompute:
        x.push_back(ComputeOf(obs));
        break;
    }
  }
  return x;
}

double PowerLawParams::Loss(double x) const { return E + A * std::pow(x, -alpha); }

absl::StatusOr<PowerLawFitResult> FitPowerLaw(const std::vector<Observation>& observations,
                                              const PowerLawFitOptions& options) {
  SCALELAW_RETURN_IF_ERROR(ValidateObservations(observations));
  if (!(options.huber_delta > 0) || !std::isfinite(options.huber_delta)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "power-law fit: huber_delta must be positive and finite, got ", options.huber_delta));
  }
  std::vector<Observation> used;
  SCALELAW_RETURN_IF_ERROR(FilterExcluded(observations, options.exclude_ids, &used));
  if (used.size() < kNumParameters) {
    return absl::InvalidArgumentError(absl::StrCat("power-law fit needs at least ", kNumParameters,
                                                   " points (one per parameter), got ",
                                                   used.size()));
  }
  const std::vector<double> x = AxisValues(used, options.axis);
  std::vector<double> log_x, log_loss;
  double min_loss = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < used.size(); ++i) {
    log_x.push_back(std::log(x[i]));
    log_loss.push_back(std::log(used[i].loss));
    min_loss = std::min(min_loss, used[i].loss);
  }

  // Starts: trial offsets E₀ = q·min L, each with the closed-form line
  // through (log x, log(L − E₀)); q = 0 is the pure power law (E tiny).
  std::vector<std::array<double, 3>> starts;
  for (double q : {0.0, 0.25, 0.5, 0.75, 0.9, 0.97, 0.99}) {
    const double offset = q * min_loss;
    std::vector<double> log_excess;
    for (const Observation& obs : used) log_excess.push_back(std::log(obs.loss - offset));
    const auto [a, alpha] = LogLogLine(log_x, log_excess);
    const double e = q > 0 ? std::log(offset) : std::log(min_loss) - 10.0;
    starts.push_back({a, e, alpha});
  }

  ceres::Solver::Options solver_options;
  solver_options.linear_solver_type = ceres::DENSE_QR;
  solver_options.max_num_iterations = options.max_iterations;
  solver_options.function_tolerance = 1e-15;
  solver_options.gradient_tolerance = 1e-15;
  solver_options.parameter_tolerance = 1e-14;
  solver_options.logging_type = ceres::SILENT;

  PowerLawFitResult result;
  result.objective = std::numeric_limits<double>::infinity();
  std::array<double, 3> best_theta{};
  for (size_t s = 0; s < starts.size(); ++s) {
    std::array<double, 3> theta = starts[s];
    ceres::Problem problem;
    for (size_t i = 0; i < used.size(); ++i) {
      // HuberLoss(δ) applied to r² is 2·Huber_δ(r), and Ceres halves the
      // total: the problem's cost is exactly Σ_i Huber_δ(r_i).
      problem.AddResidualBlock(
          new ceres::AutoDiffCostFunction<PowerLawLogResidual, 1, kNumParameters>(
              new PowerLawLogResidual(log_x[i], log_loss[i])),
          new ceres::HuberLoss(options.huber_delta), theta.data());
    }
    ceres::Solver::Summary summary;
    ceres::Solve(solver_options, &problem, &summary);
    if (!std::isfinite(summary.final_cost) || summary.final_cost >= result.objective) continue;
    result.objective = summary.final_cost;
    best_theta = theta;
    result.best_start_index = static_cast<int>(s);
    result.termination = ceres::TerminationTypeToString(summary.termination_type);
    result.termination_message = summary.message;
    result.converged = summary.termination_type == ceres::CONVERGENCE;
    result.iterations = summary.num_successful_steps + summary.num_unsuccessful_steps;
  }
  if (result.best_start_index < 0) {
    return absl::InternalError("power-law fit: no start reached a finite objective");
  }
  result.params = {
      .E = std::exp(best_theta[1]), .A = std::exp(best_theta[0]), .alpha = best_theta[2]};
  result.axis = options.axis;
  result.n_points = static_cast<int>(used.size());
  result.excluded_ids = options.exclude_ids;
  result.param_count = options.param_count;
  result.huber_delta = options.huber_delta;
  result.n_starts = static_cast<int>(starts.size());
  for (size_t i = 0; i < used.size(); ++i) {
    double r = 0;
    PowerLawLogResidual(log_x[i], log_loss[i])(best_theta.data(), &r);
    result.residual_ids.push_back(used[i].id);
    result.residuals.push_back(r);
  }
  return result;
}

}  // namespace scalelaw::fitting
