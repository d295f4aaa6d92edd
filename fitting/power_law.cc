#include "fitting/power_law.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "fitting/huber.h"
#include "fitting/line_fit.h"
#include "fitting/log_sum_exp.h"
#include "fitting/multi_start_fit.h"

namespace scalelaw::fitting {
namespace {

constexpr size_t kNumParameters = 3;

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
    residual[0] = LogSumExp<T>(theta[0] - theta[2] * log_x, theta[1]) - log_loss;
    return true;
  }

  double log_x;
  double log_loss;
};

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
  SCALELAW_RETURN_IF_ERROR(ValidateHuberDelta("power-law fit", options.huber_delta));
  std::vector<Observation> used;
  SCALELAW_RETURN_IF_ERROR(FilterExcluded(observations, options.exclude_ids, &used));
  if (used.size() < kNumParameters) {
    return absl::InvalidArgumentError(absl::StrCat("power-law fit needs at least ", kNumParameters,
                                                   " points (one per parameter), got ",
                                                   used.size()));
  }
  const std::vector<double> x = AxisValues(used, options.axis);
  std::vector<double> log_x;
  std::vector<PowerLawLogResidual> residuals;
  double min_loss = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < used.size(); ++i) {
    log_x.push_back(std::log(x[i]));
    residuals.emplace_back(log_x.back(), std::log(used[i].loss));
    min_loss = std::min(min_loss, used[i].loss);
  }

  // Starts: trial offsets E₀ = q·min L, each with the least-squares line
  // log(L − E₀) = a − α·log x, the law without its offset in closed form;
  // q = 0 is the pure power law (E tiny).
  std::vector<std::array<double, kNumParameters>> starts;
  for (double q : {0.0, 0.25, 0.5, 0.75, 0.9, 0.97, 0.99}) {
    const double offset = q * min_loss;
    std::vector<double> log_excess;
    for (const Observation& obs : used) log_excess.push_back(std::log(obs.loss - offset));
    const LineFit line = FitLine(log_x, log_excess);
    const double e = q > 0 ? std::log(offset) : std::log(min_loss) - 10.0;
    starts.push_back({line.intercept, e, -line.slope});
  }

  const MultiStartFit<kNumParameters> fit =
      FitFromStarts(residuals, starts, options.huber_delta, options.max_iterations);
  if (fit.best_start_index < 0) {
    return absl::InternalError("power-law fit: no start reached a finite objective");
  }
  PowerLawFitResult result;
  result.params = {.E = std::exp(fit.theta[1]), .A = std::exp(fit.theta[0]), .alpha = fit.theta[2]};
  result.axis = options.axis;
  RecordSolve(fit, used.size(), options, result);
  result.huber_delta = options.huber_delta;
  result.n_starts = static_cast<int>(starts.size());
  result.best_start_index = fit.best_start_index;
  for (const Observation& obs : used) result.residual_ids.push_back(obs.id);
  result.residuals = ResidualsAt(residuals, fit.theta);
  return result;
}

}  // namespace scalelaw::fitting
