#include "fitting/chinchilla_mle.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "ceres/autodiff_first_order_function.h"
#include "ceres/gradient_problem.h"
#include "ceres/gradient_problem_solver.h"
#include "common/status_macros.h"
#include "fitting/chinchilla_cost.h"

namespace scalelaw::fitting {
namespace {

// P(|u| ≤ q) under the unit-scale Huber density with threshold c.
double CentralMass(double c, double q) {
  const double z = HuberDensityNormaliser(c);
  const double sqrt_2pi = std::sqrt(2 * std::numbers::pi);
  if (q <= c) return sqrt_2pi * std::erf(q / std::sqrt(2.0)) / z;
  // Gaussian core plus the two exponential tails from c to q.
  return (sqrt_2pi * std::erf(c / std::sqrt(2.0)) +
          2 * (std::exp(-0.5 * c * c) - std::exp(0.5 * c * c - c * q)) / c) /
         z;
}

// −log likelihood of the residuals, x = (a, b, e, α, β, log σ):
//
//   NLL = Σ_i ρ_c(r_i/σ) + n·log σ + n·log Z(c),
//   r_i = LSE(a − α·log N_i, b − β·log D_i, e) − log L_i
struct HuberNegativeLogLikelihood {
  HuberNegativeLogLikelihood(std::vector<ChinchillaLogResidual> points, double c)
      : points(std::move(points)), c(c), log_z(std::log(HuberDensityNormaliser(c))) {}

  template <typename T>
  bool operator()(const T* const x, T* cost) const {
    using std::abs;
    using std::exp;
    const T log_sigma = x[5];
    const T inv_sigma = exp(-log_sigma);
    T total = T(0.0);
    for (const ChinchillaLogResidual& point : points) {
      T r;
      point(x, &r);
      const T u = r * inv_sigma;
      total += abs(u) <= T(c) ? T(0.5) * u * u : T(c) * abs(u) - T(0.5 * c * c);
    }
    const double n = static_cast<double>(points.size());
    *cost = total + n * log_sigma + T(n * log_z);
    return true;
  }

  std::vector<ChinchillaLogResidual> points;
  double c;
  double log_z;
};

}  // namespace

double HuberDensityNormaliser(double c) {
  return std::sqrt(2 * std::numbers::pi) * std::erf(c / std::sqrt(2.0)) +
         2 * std::exp(-0.5 * c * c) / c;
}

double HuberDensityHalfWidth(double c, double level) {
  double lo = 0, hi = 1;
  while (CentralMass(c, hi) < level) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-14 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (CentralMass(c, mid) < level ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

Interval ChinchillaMleResult::PredictionInterval(double params, double tokens, double level) const {
  const double loss = this->params.Loss(params, tokens);
  const double half_width = HuberDensityHalfWidth(huber_c, level) * sigma;
  return {loss * std::exp(-half_width), loss * std::exp(half_width)};
}

absl::StatusOr<ChinchillaMleResult> FitChinchillaMle(const std::vector<Observation>& observations,
                                                     const ChinchillaFitResult& point_fit,
                                                     const ChinchillaFitOptions& fit_options,
                                                     const ChinchillaMleOptions& options) {
  if (!(options.huber_c > 0) || !std::isfinite(options.huber_c)) {
    return absl::InvalidArgumentError(
        absl::StrCat("chinchilla mle: huber_c must be positive and finite, got ", options.huber_c));
  }
  SCALELAW_RETURN_IF_ERROR(ValidateObservations(observations));
  std::vector<Observation> used;
  SCALELAW_RETURN_IF_ERROR(FilterExcluded(observations, fit_options.exclude_ids, &used));
  std::vector<ChinchillaLogResidual> points;
  for (const Observation& obs : used) {
    points.emplace_back(std::log(obs.params), std::log(obs.tokens), std::log(obs.loss));
  }
  // Robust starting scale: 1.4826·MAD is σ for normal residuals.
  std::vector<double> abs_residuals;
  for (const ChinchillaLogResidual& point : points) {
    double r = 0;
    point(point_fit.theta.data(), &r);
    abs_residuals.push_back(std::abs(r));
  }
  std::nth_element(abs_residuals.begin(), abs_residuals.begin() + abs_residuals.size() / 2,
                   abs_residuals.end());
  double sigma0 = 1.4826 * abs_residuals[abs_residuals.size() / 2];
  if (!(sigma0 > 0)) sigma0 = *std::max_element(abs_residuals.begin(), abs_residuals.end());
  if (!(sigma0 > 0)) {
    return absl::InvalidArgumentError(
        "chinchilla mle: the law fits every point exactly, so the residual scale is zero and "
        "the likelihood has no maximum");
  }

  std::array<double, 6> x;
  std::copy(point_fit.theta.begin(), point_fit.theta.end(), x.begin());
  x[5] = std::log(sigma0);
  const ceres::GradientProblem problem(
      new ceres::AutoDiffFirstOrderFunction<HuberNegativeLogLikelihood, 6>(
          new HuberNegativeLogLikelihood(points, options.huber_c)));
  ceres::GradientProblemSolver::Options solver;
  solver.line_search_direction_type = ceres::BFGS;
  solver.line_search_type = ceres::WOLFE;
  solver.line_search_interpolation_type = ceres::BISECTION;
  solver.max_num_iterations = options.max_iterations;
  solver.function_tolerance = 1e-13;
  solver.gradient_tolerance = 1e-10;
  solver.parameter_tolerance = 1e-12;
  solver.logging_type = ceres::SILENT;
  ceres::GradientProblemSolver::Summary summary;
  ceres::Solve(solver, problem, x.data(), &summary);
  if (!std::isfinite(summary.final_cost)) {
    return absl::InternalError(
        absl::StrCat("chinchilla mle: solver ended at a non-finite "
                     "likelihood: ",
                     summary.message));
  }

  ChinchillaMleResult result;
  std::copy(x.begin(), x.begin() + 5, result.theta.begin());
  result.params = ParamsFromTheta(result.theta);
  result.sigma = std::exp(x[5]);
  result.huber_c = options.huber_c;
  result.negative_log_likelihood = summary.final_cost;
  result.termination = ceres::TerminationTypeToString(summary.termination_type);
  result.converged = summary.termination_type == ceres::CONVERGENCE;
  result.iterations = std::max(0, static_cast<int>(summary.iterations.size()) - 1);
  result.n_points = static_cast<int>(used.size());
  result.excluded_ids = fit_options.exclude_ids;
  for (size_t i = 0; i < used.size(); ++i) {
    double r = 0;
    points[i](result.theta.data(), &r);
    result.residual_ids.push_back(used[i].id);
    result.residuals.push_back(r);
  }
  return result;
}

}  // namespace scalelaw::fitting
