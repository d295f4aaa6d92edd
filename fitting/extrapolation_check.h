// The extrapolation check of SCIENCE.md's "Fit hygiene": refit Chinchilla
// approach 3 without the k largest-compute runs and report how well the
// refit predicts them. A law that only interpolates says little about the
// budget a user is about to spend.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fitting/chinchilla_fit.h"
#include "fitting/observation.h"

namespace scalelaw::fitting {

// One held-out run and the refit's prediction of it.
struct ExtrapolationPoint {
  std::string id;
  double compute = 0;         // ComputeOf(run), FLOPs
  double actual = 0;          // measured loss, nats per token
  double predicted = 0;       // the refit's L(N, D)
  double relative_error = 0;  // |predicted − actual| / actual
};

struct ExtrapolationCheck {
  int held_out = 0;
  std::vector<ExtrapolationPoint> points;  // descending compute
  double max_relative_error = 0;
  ChinchillaFitResult refit;  // the fit without the held-out runs
};

// |predicted − actual| / actual; +inf when the prediction is not finite.
double ExtrapolationRelativeError(double predicted, double actual);

// True when `n_used` fitted points leave enough to refit approach 3 without
// `held_out` of them (at least one point per parameter, 5).
bool ExtrapolationCheckApplies(int n_used, int held_out);

// Leaves out the `held_out` runs of largest ComputeOf among those left after
// fit_options.exclude_ids (ties broken by input order), refits approach 3
// with `fit_options` on the rest, and predicts each held-out run. Errors:
// InvalidArgument when held_out < 1 or too few runs remain (see
// ExtrapolationCheckApplies), plus FitChinchilla's errors.
absl::StatusOr<ExtrapolationCheck> CheckExtrapolation(const std::vector<Observation>& observations,
                                                      const ChinchillaFitOptions& fit_options,
                                                      int held_out);

}  // namespace scalelaw::fitting
