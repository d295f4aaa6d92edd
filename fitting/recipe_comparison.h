// Comparing two training recipes by the compute each needs to reach a loss
// ("AI and Efficiency", Hernandez & Brown 2020): fit each sweep's compute
// frontier L(C) = E + A·C^(−α) and report C_baseline(L*)/C_candidate(L*).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fitting/bootstrap.h"
#include "fitting/observation.h"
#include "fitting/power_law.h"

namespace scalelaw::fitting {

// The compute frontier of a sweep: per compute bucket (BucketCompute, two
// significant figures of ComputeOf) the run of lowest loss, ascending
// compute. Runs that are not the best at their compute say nothing about
// what the recipe can reach with it.
std::vector<Observation> ComputeFrontier(const std::vector<Observation>& runs);

// C(L) = (A/(L − E))^(1/α), the compute at which the frontier law reaches L;
// +∞ when L ≤ E (never reached).
double ComputeToReach(const PowerLawParams& law, double loss);

struct RecipeComparisonOptions {
  int n_losses = 20;                  // points of the multiplier curve
  std::optional<double> target_loss;  // L*, reported on its own
  bool extrapolate = false;           // allow L* outside the covered range
  int bootstrap = 0;                  // resamples of each frontier; 0 = none
  double level = 0.95;
  uint64_t seed = 0;
  double huber_delta = 1e-3;
};

struct MultiplierPoint {
  double loss = 0;
  double multiplier = 0;  // C_baseline(L)/C_candidate(L); > 1: candidate is cheaper
  double baseline_compute = 0;
  double candidate_compute = 0;
  bool has_interval = false;
  Interval interval;          // percentile interval over paired resamples
  bool extrapolated = false;  // outside the loss range both frontiers cover
};

struct FrontierFit {
  PowerLawFitResult fit;
  std::vector<Observation> frontier;
  double min_loss = 0;  // loss range the frontier's points cover
  double max_loss = 0;
};

struct RecipeComparison {
  FrontierFit baseline;
  FrontierFit candidate;
  // Losses both frontiers' points cover: [max of minima, min of maxima].
  double covered_min_loss = 0;
  double covered_max_loss = 0;
  std::vector<MultiplierPoint> curve;  // n_losses points across the covered range
  std::optional<MultiplierPoint> at_target;
  int resamples = 0;  // paired resamples whose both fits succeeded
  int failed = 0;
  double level = 0;
};

// Fits both frontiers (FitPowerLaw on compute) and evaluates the multiplier
// across the covered loss range, and at options.target_loss when given.
// Errors: InvalidArgument when a frontier has fewer than 3 points, when the
// frontiers' loss ranges do not overlap, or when target_loss lies outside
// the covered range and extrapolate is false (the message says so);
// FailedPrecondition when the target is at or below a fitted E (that recipe
// never reaches it). Bootstrap resamples each frontier's points with
// replacement, one std::mt19937_64 seeded with options.seed.
absl::StatusOr<RecipeComparison> CompareRecipes(const std::vector<Observation>& baseline,
                                                const std::vector<Observation>& candidate,
                                                const RecipeComparisonOptions& options = {});

}  // namespace scalelaw::fitting
