#include "fitting/kaplan_fit.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "fitting/huber.h"
#include "fitting/log_sum_exp.h"
#include "fitting/multi_start_fit.h"

namespace scalelaw::fitting {
namespace {

constexpr size_t kNumParameters = 4;

// Residual of one point in log space, θ = (n_c, d_c, ρ, α_D):
//
//   r(θ) = α_D · LSE(ρ·(n_c − log N), d_c − log D) − log L
//
// since log L̂ = α_D · log[(N_c/N)^ρ + D_c/D] with N_c = exp(n_c),
// D_c = exp(d_c), ρ = α_N/α_D (Kaplan et al. 2020, eq. 1.5).
struct KaplanLogResidual {
  KaplanLogResidual(double log_params, double log_tokens, double log_loss)
      : log_params(log_params), log_tokens(log_tokens), log_loss(log_loss) {}

  template <typename T>
  bool operator()(const T* const theta, T* residual) const {
    residual[0] =
        theta[3] * LogSumExp<T>(theta[2] * (theta[0] - log_params), theta[1] - log_tokens) -
        log_loss;
    return true;
  }

  double log_params;
  double log_tokens;
  double log_loss;
};

}  // namespace

double KaplanParams::Loss(double params, double tokens) const {
  return std::pow(std::pow(N_c / params, alpha_N / alpha_D) + D_c / tokens, alpha_D);
}

KaplanParams KaplanParamsFromTheta(const KaplanTheta& theta) {
  return {.N_c = std::exp(theta[0]),
          .D_c = std::exp(theta[1]),
          .alpha_N = theta[2] * theta[3],
          .alpha_D = theta[3]};
}

KaplanTheta KaplanThetaFromParams(const KaplanParams& params) {
  return {std::log(params.N_c), std::log(params.D_c), params.alpha_N / params.alpha_D,
          params.alpha_D};
}

std::vector<KaplanTheta> KaplanGrid() {
  std::vector<KaplanTheta> grid;
  for (double n_c : {15.0, 25.0, 35.0})
    for (double d_c : {15.0, 25.0, 35.0})
      for (double ratio : {0.5, 1.0, 2.0})
        for (double alpha_d : {0.05, 0.1, 0.2, 0.4}) grid.push_back({n_c, d_c, ratio, alpha_d});
  return grid;
}

absl::StatusOr<KaplanFitResult> FitKaplan(const std::vector<Observation>& observations,
                                          const KaplanFitOptions& options) {
  SCALELAW_RETURN_IF_ERROR(ValidateObservations(observations));
  SCALELAW_RETURN_IF_ERROR(ValidateHuberDelta("kaplan fit", options.huber_delta));
  std::vector<Observation> used;
  SCALELAW_RETURN_IF_ERROR(FilterExcluded(observations, options.exclude_ids, &used));
  if (used.size() < kNumParameters) {
    return absl::InvalidArgumentError(absl::StrCat("kaplan fit needs at least ", kNumParameters,
                                                   " points (one per parameter), got ",
                                                   used.size()));
  }
  std::vector<KaplanLogResidual> residuals;
  for (const Observation& obs : used) {
    residuals.emplace_back(std::log(obs.params), std::log(obs.tokens), std::log(obs.loss));
  }
  const std::vector<KaplanTheta> starts = options.starts.empty() ? KaplanGrid() : options.starts;

  // α_D ≤ 0 or ρ ≤ 0 turns the law upside down (loss growing with scale).
  const MultiStartFit<kNumParameters> fit =
      FitFromStarts(residuals, starts, options.huber_delta, options.max_iterations,
                    [](const KaplanTheta& theta) { return theta[2] > 0 && theta[3] > 0; });
  if (fit.best_start_index < 0) {
    return absl::InternalError(absl::StrCat("kaplan fit: none of ", starts.size(),
                                            " starts reached a finite objective with positive "
                                            "exponents"));
  }
  KaplanFitResult result;
  result.params = KaplanParamsFromTheta(fit.theta);
  result.theta = fit.theta;
  RecordSolve(fit, used.size(), options, result);
  result.huber_delta = options.huber_delta;
  result.n_starts = static_cast<int>(starts.size());
  result.n_starts_converged = fit.n_starts_converged;
  result.best_start_index = fit.best_start_index;
  for (const Observation& obs : used) result.residual_ids.push_back(obs.id);
  result.residuals = ResidualsAt(residuals, fit.theta);
  return result;
}

}  // namespace scalelaw::fitting
