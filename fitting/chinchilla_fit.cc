#include "fitting/chinchilla_fit.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "ceres/first_order_function.h"
#include "ceres/gradient_problem.h"
#include "ceres/gradient_problem_solver.h"
#include "common/status_macros.h"
#include "fitting/chinchilla_cost.h"
#include "fitting/huber.h"
#include "fitting/parallel_for.h"

namespace scalelaw::fitting {
namespace {

constexpr int kNumParameters = 5;

// Where one start's minimisation ended.
struct StartOutcome {
  ChinchillaTheta theta{};
  double objective = std::numeric_limits<double>::infinity();
  bool converged = false;
  int iterations = 0;
};

ceres::GradientProblemSolver::Options SolverOptions(int max_iterations, double function_tolerance,
                                                    double gradient_tolerance,
                                                    double parameter_tolerance) {
  ceres::GradientProblemSolver::Options solver;
  // BFGS rather than L-BFGS: with five parameters the dense inverse-Hessian
  // estimate is free and converges superlinearly near the optimum.
  solver.line_search_direction_type = ceres::BFGS;
  solver.line_search_type = ceres::WOLFE;
  // Bisection: cubic interpolation gains nothing here and logs a warning
  // whenever its polynomial degenerates, which on flat stretches of this
  // objective is often.
  solver.line_search_interpolation_type = ceres::BISECTION;
  solver.max_num_iterations = max_iterations;
  solver.function_tolerance = function_tolerance;
  solver.gradient_tolerance = gradient_tolerance;
  solver.parameter_tolerance = parameter_tolerance;
  solver.logging_type = ceres::SILENT;
  return solver;
}

// Forwards to a function that outlives it, so each solve can wrap the one
// shared objective in a ceres::GradientProblem of its own. Threads must not
// share a problem: GradientProblem::Evaluate writes the gradient through a
// scratch buffer the problem owns (Ceres 2.1 documents the call as not
// thread safe), and a shared one let a solve step along another thread's
// gradient, so the fit moved in its last bits with thread scheduling.
class BorrowedFunction final : public ceres::FirstOrderFunction {
 public:
  // `function` must outlive this object and be safe to call concurrently.
  explicit BorrowedFunction(const ceres::FirstOrderFunction& function) : function_(function) {}

  bool Evaluate(const double* theta, double* cost, double* gradient) const override {
    return function_.Evaluate(theta, cost, gradient);
  }
  int NumParameters() const override { return function_.NumParameters(); }

 private:
  const ceres::FirstOrderFunction& function_;
};

int IterationsOf(const ceres::GradientProblemSolver::Summary& summary) {
  // Summary::iterations also holds the state before the first step.
  return std::max(0, static_cast<int>(summary.iterations.size()) - 1);
}

}  // namespace

ceres::GradientProblemSolver::Options ChinchillaSolverOptions(const ChinchillaFitOptions& options,
                                                              bool screen) {
  return screen
             ? SolverOptions(options.max_iterations, options.screen_function_tolerance,
                             options.screen_gradient_tolerance, options.screen_parameter_tolerance)
             : SolverOptions(options.max_iterations, options.function_tolerance,
                             options.gradient_tolerance, options.parameter_tolerance);
}

double ChinchillaParams::Loss(double params, double tokens) const {
  return E + A / std::pow(params, alpha) + B / std::pow(tokens, beta);
}

ChinchillaParams ParamsFromTheta(const ChinchillaTheta& theta) {
  return {.E = std::exp(theta[2]),
          .A = std::exp(theta[0]),
          .B = std::exp(theta[1]),
          .alpha = theta[3],
          .beta = theta[4]};
}

ChinchillaTheta ThetaFromParams(const ChinchillaParams& params) {
  return {std::log(params.A), std::log(params.B), std::log(params.E), params.alpha, params.beta};
}

std::vector<ChinchillaTheta> PaperGrid() {
  std::vector<ChinchillaTheta> grid;
  grid.reserve(6 * 6 * 5 * 5 * 5);
  for (int ia = 0; ia < 6; ++ia)
    for (int ib = 0; ib < 6; ++ib)
      for (int ie = 0; ie < 5; ++ie)
        for (int ial = 0; ial < 5; ++ial)
          for (int ibe = 0; ibe < 5; ++ibe)
            grid.push_back({5.0 * ia, 5.0 * ib, -1.0 + 0.5 * ie, 0.5 * ial, 0.5 * ibe});
  return grid;
}

double ChinchillaObjective(const std::vector<Observation>& observations,
                           const ChinchillaTheta& theta, double huber_delta) {
  double objective = 0;
  for (const Observation& obs : observations) {
    const ChinchillaLogResidual residual(std::log(obs.params), std::log(obs.tokens),
                                         std::log(obs.loss));
    double r = 0;
    residual(theta.data(), &r);
    objective += Huber(r, huber_delta);
  }
  return objective;
}

absl::StatusOr<ChinchillaFitResult> FitChinchilla(const std::vector<Observation>& observations,
                                                  const ChinchillaFitOptions& options) {
  SCALELAW_RETURN_IF_ERROR(ValidateObservations(observations));
  SCALELAW_RETURN_IF_ERROR(ValidateHuberDelta("chinchilla fit", options.huber_delta));
  if (options.num_threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("chinchilla fit: num_threads must be at least 1, got ", options.num_threads));
  }
  std::vector<Observation> used;
  SCALELAW_RETURN_IF_ERROR(FilterExcluded(observations, options.exclude_ids, &used));
  if (used.size() < kNumParameters) {
    return absl::InvalidArgumentError(
        absl::StrCat("chinchilla fit needs at least ", kNumParameters,
                     " points (one per parameter), got ", used.size(),
                     used.size() == observations.size()
                         ? ""
                         : absl::StrCat(" after excluding ", options.exclude_ids.size())));
  }

  std::vector<double> log_params, log_tokens, log_loss;
  for (const Observation& obs : used) {
    log_params.push_back(std::log(obs.params));
    log_tokens.push_back(std::log(obs.tokens));
    log_loss.push_back(std::log(obs.loss));
  }
  // Immutable, so every thread's solves share it (see BorrowedFunction).
  const ChinchillaObjectiveFunction objective(log_params, log_tokens, log_loss,
                                              options.huber_delta);
  const std::vector<ChinchillaTheta> starts = options.starts.empty() ? PaperGrid() : options.starts;
  const bool polish = options.polish_count > 0;
  const ceres::GradientProblemSolver::Options tight =
      SolverOptions(options.max_iterations, options.function_tolerance, options.gradient_tolerance,
                    options.parameter_tolerance);
  const ceres::GradientProblemSolver::Options screen =
      polish ? SolverOptions(options.max_iterations, options.screen_function_tolerance,
                             options.screen_gradient_tolerance, options.screen_parameter_tolerance)
             : tight;
  const auto solve = [&](const ceres::GradientProblemSolver::Options& solver_options,
                         const ChinchillaTheta& from, StartOutcome* outcome) {
    const ceres::GradientProblem problem(new BorrowedFunction(objective));
    ceres::GradientProblemSolver::Summary summary;
    outcome->theta = from;
    ceres::Solve(solver_options, problem, outcome->theta.data(), &summary);
    outcome->objective = std::isfinite(summary.final_cost)
                             ? summary.final_cost
                             : std::numeric_limits<double>::infinity();
    outcome->converged = summary.termination_type == ceres::CONVERGENCE;
    outcome->iterations = IterationsOf(summary);
    return summary;
  };

  // Screen: every start, in parallel. Each thread writes only its own slots.
  std::vector<StartOutcome> screened(starts.size());
  ParallelFor(starts.size(), options.num_threads,
              [&](size_t i) { solve(screen, starts[i], &screened[i]); });

  // Rank by objective, ties to the earlier start, so the thread count cannot
  // change the answer.
  std::vector<size_t> order(starts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t lhs, size_t rhs) {
    return screened[lhs].objective < screened[rhs].objective;
  });
  if (!std::isfinite(screened[order[0]].objective)) {
    return absl::InternalError(absl::StrCat("chinchilla fit: none of ", starts.size(),
                                            " starts reached a finite objective"));
  }

  // Polish: continue the best few distinct end points at tight tolerances
  // and keep the lowest; with polishing off the screen was already tight.
  int best_index = static_cast<int>(order[0]);
  StartOutcome best = screened[best_index];
  ceres::GradientProblemSolver::Summary best_summary;
  if (polish) {
    std::vector<size_t> chosen;
    for (size_t i : order) {
      if (static_cast<int>(chosen.size()) >= options.polish_count) break;
      if (!std::isfinite(screened[i].objective)) break;
      const bool duplicate = std::any_of(chosen.begin(), chosen.end(), [&](size_t j) {
        for (int k = 0; k < kNumParameters; ++k) {
          if (std::abs(screened[i].theta[k] - screened[j].theta[k]) > 1e-6) return false;
        }
        return true;
      });
      if (!duplicate) chosen.push_back(i);
    }
    best.objective = std::numeric_limits<double>::infinity();
    for (size_t i : chosen) {
      StartOutcome polished;
      ceres::GradientProblemSolver::Summary summary = solve(tight, screened[i].theta, &polished);
      polished.iterations += screened[i].iterations;
      if (polished.objective < best.objective ||
          (polished.objective == best.objective && static_cast<int>(i) < best_index)) {
        best = polished;
        best_index = static_cast<int>(i);
        best_summary = std::move(summary);
      }
    }
  } else {
    // Summaries are not kept for all starts; re-running the winner from its
    // start reproduces it exactly and costs one start out of thousands.
    best_summary = solve(tight, starts[best_index], &best);
  }

  ChinchillaFitResult result;
  result.theta = best.theta;
  result.params = ParamsFromTheta(best.theta);
  result.objective = best.objective;
  result.termination = ceres::TerminationTypeToString(best_summary.termination_type);
  result.termination_message = best_summary.message;
  result.converged = best.converged;
  result.iterations = best.iterations;
  result.n_points = static_cast<int>(used.size());
  result.excluded_ids = options.exclude_ids;
  result.param_count = options.param_count;
  result.huber_delta = options.huber_delta;
  result.n_starts = static_cast<int>(starts.size());
  result.best_start_index = best_index;
  result.best_start = starts[best_index];
  for (const StartOutcome& outcome : screened) {
    result.n_starts_converged += outcome.converged ? 1 : 0;
    result.total_iterations += outcome.iterations;
  }
  for (size_t i = 0; i < used.size(); ++i) {
    const ChinchillaLogResidual residual(log_params[i], log_tokens[i], log_loss[i]);
    double r = 0;
    residual(result.theta.data(), &r);
    result.residual_ids.push_back(used[i].id);
    result.residuals.push_back(r);
  }
  return result;
}

}  // namespace scalelaw::fitting
