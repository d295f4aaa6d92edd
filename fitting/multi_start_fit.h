// Multi-start robust least squares for the small log-space law fits (the
// one-variable power law, Kaplan's joint law, the critical batch). Each has
// a few parameters and a non-convex objective, so each runs Ceres from
// several starts and keeps the lowest Huber objective; this is that loop.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "ceres/ceres.h"

namespace scalelaw::fitting {

// Where the winning start ended, with its solver summary.
template <size_t kNumParameters>
struct MultiStartFit {
  std::array<double, kNumParameters> theta{};
  // Σ_i Huber_δ(r_i) at theta; infinite when no start was accepted.
  double objective = std::numeric_limits<double>::infinity();
  int best_start_index = -1;  // -1 when no start was accepted
  std::string termination;    // Ceres' termination type, e.g. "CONVERGENCE"
  std::string termination_message;
  bool converged = false;
  int iterations = 0;  // successful and unsuccessful steps
  // Over every start, accepted or not.
  int n_starts_converged = 0;
};

// The default acceptance test of FitFromStarts: every end point may win.
struct AcceptAnyEndPoint {
  template <typename Theta>
  bool operator()(const Theta&) const {
    return true;
  }
};

// Minimises Σ_i Huber_δ(r_i(θ)) with Ceres' Levenberg–Marquardt from each
// of `starts`, where r_i is the single residual of the autodiff functor
// residuals[i] (`bool operator()(const T* theta, T* residual)`). Keeps the
// lowest finite objective among the end points `accept(theta)` allows (a
// fit rejects, say, an exponent whose sign turns the law upside down); ties
// go to the earlier start. The tolerances are far below what the data can
// resolve: these problems are small, and stopping early would make the
// answer depend on the start. Thread-compatible.
template <typename Residual, size_t kNumParameters, typename Accept = AcceptAnyEndPoint>
MultiStartFit<kNumParameters> FitFromStarts(
    const std::vector<Residual>& residuals,
    const std::vector<std::array<double, kNumParameters>>& starts, double huber_delta,
    int max_iterations, const Accept& accept = {}) {
  ceres::Solver::Options solver_options;
  solver_options.linear_solver_type = ceres::DENSE_QR;
  solver_options.max_num_iterations = max_iterations;
  solver_options.function_tolerance = 1e-15;
  solver_options.gradient_tolerance = 1e-15;
  solver_options.parameter_tolerance = 1e-14;
  solver_options.logging_type = ceres::SILENT;

  MultiStartFit<kNumParameters> best;
  for (size_t s = 0; s < starts.size(); ++s) {
    std::array<double, kNumParameters> theta = starts[s];
    ceres::Problem problem;
    for (const Residual& residual : residuals) {
      // HuberLoss(δ) on r² is 2·Huber_δ(r) and Ceres halves the total, so
      // the cost is exactly Σ_i Huber_δ(r_i) (see huber.h).
      problem.AddResidualBlock(
          new ceres::AutoDiffCostFunction<Residual, 1, static_cast<int>(kNumParameters)>(
              new Residual(residual)),
          new ceres::HuberLoss(huber_delta), theta.data());
    }
    ceres::Solver::Summary summary;
    ceres::Solve(solver_options, &problem, &summary);
    const bool converged = summary.termination_type == ceres::CONVERGENCE;
    best.n_starts_converged += converged ? 1 : 0;
    if (!std::isfinite(summary.final_cost) || !accept(theta) ||
        summary.final_cost >= best.objective) {
      continue;
    }
    best.theta = theta;
    best.objective = summary.final_cost;
    best.best_start_index = static_cast<int>(s);
    best.termination = ceres::TerminationTypeToString(summary.termination_type);
    best.termination_message = summary.message;
    best.converged = converged;
    best.iterations = summary.num_successful_steps + summary.num_unsuccessful_steps;
  }
  return best;
}

// Copies the best solve's summary and the fit's bookkeeping (points used,
// points excluded, how N was counted) into a law's result, whose fields carry
// these names in every law that fits with FitFromStarts. The termination
// message and the parameter count only where the result has them (the
// critical batch fit counts no parameters).
template <size_t kNumParameters, typename Result, typename Options>
void RecordSolve(const MultiStartFit<kNumParameters>& fit, size_t n_points, const Options& options,
                 Result& result) {
  result.objective = fit.objective;
  result.termination = fit.termination;
  if constexpr (requires { result.termination_message; }) {
    result.termination_message = fit.termination_message;
  }
  result.converged = fit.converged;
  result.iterations = fit.iterations;
  result.n_points = static_cast<int>(n_points);
  result.excluded_ids = options.exclude_ids;
  if constexpr (requires { result.param_count; }) result.param_count = options.param_count;
}

// r_i(θ) of each functor, in order: a fit's residuals at its optimum.
template <typename Residual, size_t kNumParameters>
std::vector<double> ResidualsAt(const std::vector<Residual>& residuals,
                                const std::array<double, kNumParameters>& theta) {
  std::vector<double> values;
  values.reserve(residuals.size());
  for (const Residual& residual : residuals) {
    double r = 0;
    residual(theta.data(), &r);
    values.push_back(r);
  }
  return values;
}

}  // namespace scalelaw::fitting
