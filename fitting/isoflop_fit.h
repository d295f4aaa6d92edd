// Chinchilla approach 2: IsoFLOP profiles (Hoffmann et al. 2022, §3.2).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fitting/observation.h"

namespace scalelaw::fitting {

// C rounded to two significant figures (1.23e21 → 1.2e21): runs planned for
// one budget land in one group although their recorded FLOPs differ a little.
double BucketCompute(double compute);

struct IsoflopBudget {
  double compute = 0;     // the budget, C_k (given, or bucketed)
  int n_points = 0;       // runs in its profile
  double params_opt = 0;  // N_opt(C_k): the vertex of the parabola
  double tokens_opt = 0;  // D_opt(C_k) = C_k / (6·N_opt)
  double loss_opt = 0;    // the parabola's minimum
  // False when the vertex lies outside the sizes the profile sampled: an
  // extrapolated optimum, to be read with care.
  bool interior = true;
};

struct IsoflopFitOptions {
  std::vector<std::string> exclude_ids;
  // Profiles with fewer distinct sizes are skipped (a parabola needs 3).
  int min_points_per_budget = 3;
};

struct IsoflopFitResult {
  // N_opt ∝ C^a and D_opt ∝ C^b (b = 1 − a when D = C/(6N)).
  double a = 0;
  double b = 0;
  // The prefactors: N_opt = params_coefficient·C^a, D_opt = tokens_coefficient·C^b.
  double params_coefficient = 0;
  double tokens_coefficient = 0;
  std::vector<IsoflopBudget> budgets;   // ascending compute
  std::vector<double> skipped_budgets;  // too few sizes or no minimum
  int n_points = 0;
  std::vector<std::string> excluded_ids;
};

// Groups runs by their budget, or when they have none by
// BucketCompute(ComputeOf(run)); per group fits
// loss = c₀ + c₁·log N + c₂·(log N)² by least squares and takes the vertex
// N_opt = exp(−c₁ / (2·c₂)) (a group whose c₂ ≤ 0 has no minimum and is
// skipped); then fits log N_opt = log G + a·log C and log D_opt likewise by
// least squares across budgets. Errors: InvalidArgument for bad
// observations, an unknown excluded id, or fewer than 2 usable budgets.
absl::StatusOr<IsoflopFitResult> FitIsoflop(const std::vector<Observation>& observations,
                                            const IsoflopFitOptions& options = {});

}  // namespace scalelaw::fitting
