#include "report/report_fits.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace scalelaw::report {
namespace {

// True when some IsoFLOP group (a planned budget, or runs of one bucketed
// compute) holds three or more distinct sizes: only then is there a profile
// to draw.
bool HasIsoflopGroups(const std::vector<fitting::Observation>& runs) {
  std::vector<std::pair<double, double>> keys;  // (group, params)
  for (const fitting::Observation& r : runs) {
    const double group = r.budget > 0 ? r.budget : fitting::BucketCompute(fitting::ComputeOf(r));
    keys.emplace_back(group, r.params);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  int run = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    run = (i > 0 && keys[i].first == keys[i - 1].first) ? run + 1 : 1;
    if (run >= 3) return true;
  }
  return false;
}

}  // namespace

double OptimalQuantityOf(const fitting::ChinchillaParams& law, OptimalQuantity quantity,
                         double compute) {
  absl::StatusOr<fitting::ComputeOptimal> optimal = fitting::OptimalAllocation(law, compute);
  if (!optimal.ok()) return NAN;
  switch (quantity) {
    case OptimalQuantity::kParams:
      return optimal->params;
    case OptimalQuantity::kTokens:
      return optimal->tokens;
    case OptimalQuantity::kLoss:
      return optimal->loss;
  }
  return NAN;
}

fitting::Interval OptimalInterval(const fitting::ChinchillaBootstrap* bootstrap,
                                  OptimalQuantity quantity, double compute, double point) {
  if (bootstrap == nullptr || bootstrap->samples.empty()) return {point, point};
  std::vector<double> values;
  for (const fitting::ChinchillaParams& law : bootstrap->samples) {
    const double v = OptimalQuantityOf(law, quantity, compute);
    if (std::isfinite(v)) values.push_back(v);
  }
  if (values.empty()) return {point, point};
  return fitting::PercentileInterval(values, bootstrap->level);
}

absl::StatusOr<ReportFits> FitReport(const ReportInput& input) {
  const std::string where = input.source.empty() ? "report input" : input.source;
  if (input.runs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": no finished runs to fit (",
                                                   input.excluded.size(),
                                                   " left out); the report needs at least 5"));
  }
  if (absl::Status valid = fitting::ValidateObservations(input.runs); !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", valid.message()));
  }
  for (double budget : input.budgets) {
    if (!(budget > 0) || !std::isfinite(budget)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": budgets: expected positive FLOP counts, got ", budget));
    }
  }

  ReportFits fits;
  fitting::ChinchillaFitOptions options;
  options.param_count = input.param_count;
  options.num_threads = input.num_threads;
  absl::StatusOr<fitting::ChinchillaFitResult> fit = fitting::FitChinchilla(input.runs, options);
  if (!fit.ok()) {
    return absl::Status(fit.status().code(),
                        absl::StrCat(where, ": Chinchilla fit: ", fit.status().message()));
  }
  fits.chinchilla = *std::move(fit);

  if (input.bootstrap > 0) {
    fitting::BootstrapOptions bootstrap_options;
    bootstrap_options.resamples = input.bootstrap;
    bootstrap_options.level = input.level;
    bootstrap_options.seed = input.seed;
    bootstrap_options.num_threads = input.num_threads;
    absl::StatusOr<fitting::ChinchillaBootstrap> bootstrap =
        fitting::BootstrapChinchilla(input.runs, fits.chinchilla, options, bootstrap_options);
    if (bootstrap.ok()) {
      fits.bootstrap = *std::move(bootstrap);
    } else {
      fits.bootstrap_note = std::string(bootstrap.status().message());
    }
  } else {
    fits.bootstrap_note = "no bootstrap asked for (--bootstrap 0)";
  }

  if (HasIsoflopGroups(input.runs)) {
    absl::StatusOr<fitting::IsoflopFitResult> isoflop = fitting::FitIsoflop(input.runs);
    if (isoflop.ok()) {
      fits.isoflop = *std::move(isoflop);
    } else {
      fits.isoflop_note = std::string(isoflop.status().message());
    }
  } else {
    fits.isoflop_note = "no IsoFLOP groups (no budget with 3 or more model sizes)";
  }

  if (input.holdout > 0 &&
      fitting::ExtrapolationCheckApplies(fits.chinchilla.n_points, input.holdout)) {
    absl::StatusOr<fitting::ExtrapolationCheck> check =
        fitting::CheckExtrapolation(input.runs, options, input.holdout);
    if (check.ok()) {
      fits.extrapolation = *std::move(check);
    } else {
      fits.extrapolation_note = std::string(check.status().message());
    }
  } else {
    fits.extrapolation_note = absl::StrCat("too few runs (", fits.chinchilla.n_points,
                                           ") to refit without ", input.holdout, " held out");
  }

  if (input.noise_scales.size() >= 2) {
    absl::StatusOr<fitting::CriticalBatchFitResult> bcrit =
        fitting::FitCriticalBatch(input.noise_scales);
    if (bcrit.ok()) {
      fits.critical_batch = *std::move(bcrit);
    } else {
      fits.critical_batch_note = std::string(bcrit.status().message());
    }
  } else {
    fits.critical_batch_note = "no gradient noise scale measurements";
  }

  double max_compute = 0;
  for (const fitting::Observation& r : input.runs) {
    max_compute = std::max(max_compute, fitting::ComputeOf(r));
  }
  const fitting::ChinchillaBootstrap* bootstrap = fits.bootstrap ? &*fits.bootstrap : nullptr;
  for (double budget : input.budgets) {
    absl::StatusOr<fitting::ComputeOptimal> optimal =
        fitting::OptimalAllocation(fits.chinchilla.params, budget);
    if (!optimal.ok()) {
      // A fit with no finite optimum (e.g. a negative exponent on a tiny
      // sweep) is a result to show, not a reason to withhold the page.
      fits.predictions_note = std::string(optimal.status().message());
      fits.predictions.clear();
      break;
    }
    BudgetPrediction p;
    p.optimal = *optimal;
    p.params = OptimalInterval(bootstrap, OptimalQuantity::kParams, budget, optimal->params);
    p.tokens = OptimalInterval(bootstrap, OptimalQuantity::kTokens, budget, optimal->tokens);
    p.loss = OptimalInterval(bootstrap, OptimalQuantity::kLoss, budget, optimal->loss);
    p.extrapolated = budget > max_compute;
    fits.predictions.push_back(p);
  }
  return fits;
}

}  // namespace scalelaw::report
