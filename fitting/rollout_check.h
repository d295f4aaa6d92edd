// Leave-future-out validation ("rollout") of Chinchilla approach 3: for each
// of the K largest compute budgets in turn, fit the law on the smaller
// budgets only, bootstrap it, and predict every run of that budget with a
// prediction interval (PredictLoss). This is how the law is used — trained
// on the budgets already spent, asked about the next one — so its errors and
// the intervals' coverage say more about a forecast than the residuals of a
// fit that saw every run. The extrapolation check of SCIENCE.md's "Fit
// hygiene" is one fold of it without intervals (CheckExtrapolation).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fitting/bootstrap.h"
#include "fitting/chinchilla_fit.h"
#include "fitting/observation.h"

namespace scalelaw::fitting {

struct RolloutOptions {
  // K: how many of the largest compute budgets are held out, one per fold.
  int budgets = 2;
  // Runs whose ComputeOf lies within this fraction above the smallest
  // compute of a budget belong to that budget: runs planned for one IsoFLOP
  // budget differ in compute by rounding of N and D, and must not be split
  // into a "past" and a "future" of one another.
  double budget_tolerance = 0.01;
  // Each fold's fit: the caller's exclusions, param count and Huber δ.
  // Excluded runs are neither fitted nor held out.
  ChinchillaFitOptions fit;
  // Each fold's bootstrap; `level` is the prediction intervals' level.
  BootstrapOptions bootstrap{.resamples = 100, .level = 0.9};
};

// A fold fits approach 3 only with at least this many past runs (one per
// parameter) and this many distinct model sizes (A, α and E need 3).
inline constexpr int kRolloutMinPastRuns = 5;
inline constexpr int kRolloutMinPastSizes = 3;

// One held-out run and the past fit's prediction of it.
struct RolloutRun {
  std::string id;
  double params = 0;   // N
  double tokens = 0;   // D
  double compute = 0;  // ComputeOf(run), FLOPs
  double actual = 0;   // measured loss, nats per token
  double predicted = 0;
  Interval parameter_interval;   // the law's uncertainty alone
  Interval prediction_interval;  // plus the past fit's residual scatter
  // (predicted − actual) / actual, signed: positive when the law was too
  // pessimistic. Not finite when the prediction is not.
  double relative_error = 0;
  bool inside = false;  // actual ∈ prediction_interval
};

struct RolloutFold {
  int rank = 0;        // 1 = the largest budget
  double compute = 0;  // the budget: the smallest ComputeOf of its runs
  int n_held_out = 0;  // runs of this budget
  int n_fitted = 0;    // past runs: those of every smaller budget
  int n_sizes = 0;     // distinct params among the past runs
  // Why the fold was not fitted (too few past runs or sizes, or the fit or
  // its bootstrap failed); empty when it ran, and then the fields below hold.
  std::string skipped;
  ChinchillaFitResult fit;  // the past fit
  int bootstrap_resamples = 0;
  int bootstrap_failed = 0;
  double residual_scale = 0;     // LossPrediction::residual_scale of the past fit
  std::vector<RolloutRun> runs;  // the held-out runs, in input order
};

struct RolloutCheck {
  int budgets = 0;    // K, as asked for
  int n_budgets = 0;  // distinct compute budgets among the runs used
  double level = 0;
  std::vector<RolloutFold> folds;  // largest budget first
  // Over the runs of the folds that ran.
  int n_predicted = 0;
  int n_inside = 0;
  double coverage = 0;                   // n_inside / n_predicted; NaN when 0
  double median_abs_relative_error = 0;  // NaN when no run was predicted
};

// The distinct compute budgets of `runs` (ascending, by ComputeOf grouped as
// RolloutOptions::budget_tolerance describes): each is the indices of its
// runs, in input order.
std::vector<std::vector<size_t>> ComputeBudgets(const std::vector<Observation>& runs,
                                                double tolerance);

// Runs the rollout on the runs left after options.fit.exclude_ids. A fold
// that cannot be fitted is skipped with its reason, not an error. Errors:
// InvalidArgument for bad observations, an unknown excluded id, budgets < 1
// or more than the runs have, a bad tolerance or bad bootstrap options.
// Thread-safe; spawns up to the fit's and bootstrap's num_threads threads.
absl::StatusOr<RolloutCheck> CheckRollout(const std::vector<Observation>& observations,
                                          const RolloutOptions& options);

}  // namespace scalelaw::fitting
