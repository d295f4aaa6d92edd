#include "fitting/extrapolation_check.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace scalelaw::fitting {
namespace {

constexpr int kChinchillaParameters = 5;

}  // namespace

double ExtrapolationRelativeError(double predicted, double actual) {
  // A degenerate refit can predict NaN or inf: a total failure to
  // extrapolate, which must not vanish from the maximum (NaN compares false).
  if (!std::isfinite(predicted)) return std::numeric_limits<double>::infinity();
  return std::abs(predicted - actual) / actual;
}

bool ExtrapolationCheckApplies(int n_used, int held_out) {
  return held_out >= 1 && n_used - held_out >= kChinchillaParameters;
}

absl::StatusOr<ExtrapolationCheck> CheckExtrapolation(const std::vector<Observation>& observations,
                                                      const ChinchillaFitOptions& fit_options,
                                                      int held_out) {
  SCALELAW_RETURN_IF_ERROR(ValidateObservations(observations));
  std::vector<Observation> used;
  SCALELAW_RETURN_IF_ERROR(FilterExcluded(observations, fit_options.exclude_ids, &used));
  if (!ExtrapolationCheckApplies(static_cast<int>(used.size()), held_out)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "extrapolation check: holding out ", held_out, " of ", used.size(),
        " runs needs at least 1 held out and ", kChinchillaParameters, " left to refit"));
  }
  std::vector<size_t> order(used.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t lhs, size_t rhs) {
    return ComputeOf(used[lhs]) > ComputeOf(used[rhs]);
  });
  std::vector<bool> is_held_out(used.size(), false);
  for (int k = 0; k < held_out; ++k) is_held_out[order[k]] = true;
  std::vector<Observation> kept;
  for (size_t i = 0; i < used.size(); ++i) {
    if (!is_held_out[i]) kept.push_back(used[i]);
  }

  ChinchillaFitOptions refit_options = fit_options;
  refit_options.exclude_ids.clear();
  SCALELAW_ASSIGN_OR_RETURN(ChinchillaFitResult refit, FitChinchilla(kept, refit_options));

  ExtrapolationCheck check;
  check.held_out = held_out;
  for (int k = 0; k < held_out; ++k) {
    const Observation& run = used[order[k]];
    ExtrapolationPoint point;
    point.id = run.id;
    point.compute = ComputeOf(run);
    point.actual = run.loss;
    point.predicted = refit.params.Loss(run.params, run.tokens);
    point.relative_error = ExtrapolationRelativeError(point.predicted, point.actual);
    check.max_relative_error = std::max(check.max_relative_error, point.relative_error);
    check.points.push_back(std::move(point));
  }
  check.refit = std::move(refit);
  return check;
}

}  // namespace scalelaw::fitting
