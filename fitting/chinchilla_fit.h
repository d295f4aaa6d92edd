// Chinchilla approach 3: the parametric fit L(N, D) = E + A/N^α + B/D^β
// (Hoffmann et al. 2022, §3.3 and App. D.2; Besiroglu et al. 2024).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ceres/gradient_problem_solver.h"
#include "fitting/observation.h"

namespace scalelaw::fitting {

// L(N, D) = E + A/N^α + B/D^β, loss in nats per token.
struct ChinchillaParams {
  double E = 0;
  double A = 0;
  double B = 0;
  double alpha = 0;
  double beta = 0;

  double Loss(double params, double tokens) const;
};

// The fit's own coordinates θ = (a, b, e, α, β) with A = exp(a), B = exp(b),
// E = exp(e): the order of the paper's initialisation grid.
using ChinchillaTheta = std::array<double, 5>;

ChinchillaParams ParamsFromTheta(const ChinchillaTheta& theta);
ChinchillaTheta ThetaFromParams(const ChinchillaParams& params);

// The paper's grid of starting points: α, β ∈ {0, 0.5, …, 2},
// e ∈ {−1, −0.5, …, 1}, a, b ∈ {0, 5, …, 25}; 6·6·5·5·5 = 4,500 starts, in
// the order of itertools.product(a, b, e, α, β).
std::vector<ChinchillaTheta> PaperGrid();

struct ChinchillaFitOptions {
  // δ of the Huber penalty on log-loss residuals (paper: 10⁻³).
  double huber_delta = 1e-3;
  // Runs (by Observation::id) left out of the fit, e.g. badly undertrained.
  std::vector<std::string> exclude_ids;
  // Which parameter count the caller put in Observation::params ("total",
  // "non_embedding", …); echoed into the result, never interpreted.
  std::string param_count;
  // Starting points; empty means PaperGrid().
  std::vector<ChinchillaTheta> starts;
  // Threads over starts; the result does not depend on it.
  int num_threads = 2;
  // Every start is first minimised to the screening tolerances; the
  // `polish_count` best distinct end points are then continued to the tight
  // tolerances and the lowest objective wins. The screen is at least as tight
  // as SciPy's L-BFGS-B defaults (ftol 2.2e-9 absolute on an objective of
  // ~1e-3, gtol 1e-5) and polishing only candidates for the optimum saves a
  // third of the work for the same optimum; polish_count = 0 runs every
  // start to the tight tolerances instead.
  int polish_count = 16;
  double screen_function_tolerance = 1e-8;
  double screen_gradient_tolerance = 1e-6;
  double screen_parameter_tolerance = 1e-8;
  // Tight on purpose: loose tolerances stop early on this objective
  // (Besiroglu et al. 2024). Ceres' function tolerance is relative.
  int max_iterations = 1000;
  double function_tolerance = 1e-13;
  double gradient_tolerance = 1e-12;
  double parameter_tolerance = 1e-12;
};

struct ChinchillaFitResult {
  ChinchillaParams params;
  ChinchillaTheta theta{};
  // Σ_i Huber_δ(log L̂_i − log L_i) at the optimum: a sum, not a mean.
  double objective = 0;
  // The winning start's solver summary (its final, tight run); iterations
  // count screening and polishing together.
  std::string termination;  // "CONVERGENCE", "NO_CONVERGENCE", …
  std::string termination_message;
  bool converged = false;
  int iterations = 0;
  // Inputs as used.
  int n_points = 0;
  std::vector<std::string> excluded_ids;
  std::string param_count;
  double huber_delta = 0;
  // Multi-start bookkeeping: which start won and how many converged.
  int n_starts = 0;
  int n_starts_converged = 0;
  int best_start_index = -1;
  ChinchillaTheta best_start{};
  long total_iterations = 0;  // over every start's screening run
  // Per used point, in input order: id and log L̂ − log L.
  std::vector<std::string> residual_ids;
  std::vector<double> residuals;
};

// Fits approach 3 by minimising Σ_i Huber_δ(LSE(a − α·log N_i, b − β·log D_i,
// e) − log L_i) from every start and keeping the lowest objective (ties go to
// the earlier start, so the answer does not depend on num_threads). Errors:
// InvalidArgument for bad observations, an unknown excluded id, fewer than
// 5 points after exclusion, or bad options; Internal when no start reaches a
// finite objective. Thread-safe; spawns up to num_threads threads.
absl::StatusOr<ChinchillaFitResult> FitChinchilla(const std::vector<Observation>& observations,
                                                  const ChinchillaFitOptions& options = {});

// The solver settings FitChinchilla uses: BFGS with a Wolfe line search, at
// the tight tolerances of `options` (or, with `screen`, the screening ones).
// For callers that run their own solves on the same objective, such as the
// bootstrap's warm-started refits.
ceres::GradientProblemSolver::Options ChinchillaSolverOptions(const ChinchillaFitOptions& options,
                                                              bool screen = false);

// The fit's objective Σ_i Huber_δ(log L̂_i − log L_i) at `theta`, for
// comparing a fit with published constants on the same data.
double ChinchillaObjective(const std::vector<Observation>& observations,
                           const ChinchillaTheta& theta, double huber_delta = 1e-3);

}  // namespace scalelaw::fitting
