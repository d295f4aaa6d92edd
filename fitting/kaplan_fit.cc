#include "fitting/kaplan_fit.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "ceres/ceres.h"
#include "common/status_macros.h"

namespace scalelaw::fitting {
namespace {

constexpr int kNumParameters = 4;

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
    using std::exp;
    using std::log;
    using std::max;
    const T z0 = theta[2] * (theta[0] - log_params);
    const T z1 = theta[1] - log_tokens;
    const T m = max(z0, z1);  // shift so exp() cannot overflow
    residual[0] = theta[3] * (m + log(exp(z0 - m) + exp(z1 - m))) - log_loss;
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
  if (!(options.huber_delta > 0) || !std::isfinite(options.huber_delta)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kaplan fit: huber_delta must be positive and finite, got ", options.huber_delta));
  }
  std::vector<Observation> used;
  SCALELAW_RETURN_IF_ERROR(FilterExcluded(observations, options.exclude_ids, &used));
  if (used.size() < kNumParameters) {
    return absl::InvalidArgumentError(absl::StrCat("kaplan fit needs at least ", kNumParameters,
                                                   " points (one per parameter), got ",
                                                   used.size()));
  }
  std::vector<double> log_params, log_tokens, log_loss;
  for (const Observation& obs : used) {
    log_params.push_back(std::log(obs.params));
    log_tokens.push_back(std::log(obs.tokens));
    log_loss.push_back(std::log(obs.loss));
  }
  const std::vector<KaplanTheta> starts = options.starts.empty() ? KaplanGrid() : options.starts;

  ceres::Solver::Options solver_options;
  solver_options.linear_solver_type = ceres::DENSE_QR;
  solver_options.max_num_iterations = options.max_iterations;
  solver_options.function_tolerance = 1e-15;
  solver_options.gradient_tolerance = 1e-15;
  solver_options.parameter_tolerance = 1e-14;
  solver_options.logging_type = ceres::SILENT;

  KaplanFitResult result;
  result.objective = std::numeric_limits<double>::infinity();
  for (size_t s = 0; s < starts.size(); ++s) {
    KaplanTheta theta = starts[s];
    ceres::Problem problem;
    for (size_t i = 0; i < used.size(); ++i) {
      // HuberLoss(δ) on r² is 2·Huber_δ(r) and Ceres halves the total, so
      // the cost is exactly Σ_i Huber_δ(r_i).
      problem.AddResidualBlock(
          new ceres::AutoDiffCostFunction<KaplanLogResidual, 1, kNumParameters>(
              new KaplanLogResidual(log_params[i], log_tokens[i], log_loss[i])),
          new ceres::HuberLoss(options.huber_delta), theta.data());
    }
    ceres::Solver::Summary summary;
    ceres::Solve(solver_options, &problem, &summary);
    const bool converged = summary.termination_type == ceres::CONVERGENCE;
    result.n_starts_converged += converged ? 1 : 0;
    // α_D ≤ 0 or ρ ≤ 0 turns the law upside down (loss growing with scale).
    if (!std::isfinite(summary.final_cost) || !(theta[2] > 0) || !(theta[3] > 0) ||
        summary.final_cost >= result.objective) {
      continue;
    }
    result.objective = summary.final_cost;
    result.theta = theta;
    result.best_start_index = static_cast<int>(s);
    result.termination = ceres::TerminationTypeToString(summary.termination_type);
    result.termination_message = summary.message;
    result.converged = converged;
    result.iterations = summary.num_successful_steps + summary.num_unsuccessful_steps;
  }
  if (result.best_start_index < 0) {
    return absl::InternalError(absl::StrCat("kaplan fit: none of ", starts.size(),
                                            " starts reached a finite objective with positive "
                                            "exponents"));
  }
  result.params = KaplanParamsFromTheta(result.theta);
  result.n_points = static_cast<int>(used.size());
  result.excluded_ids = options.exclude_ids;
  result.param_count = options.param_count;
  result.huber_delta = options.huber_delta;
  result.n_starts = static_cast<int>(starts.size());
  for (size_t i = 0; i < used.size(); ++i) {
    double r = 0;
    KaplanLogResidual(log_params[i], log_tokens[i], log_loss[i])(result.theta.data(), &r);
    result.residual_ids.push_back(used[i].id);
    result.residuals.push_back(r);
  }
  return result;
}

}  // namespace scalelaw::fitting
