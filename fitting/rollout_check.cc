#include "fitting/rollout_check.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "fitting/prediction_interval.h"

namespace scalelaw::fitting {
namespace {

absl::Status ValidateRolloutOptions(const RolloutOptions& options) {
  if (!(std::isfinite(options.budget_tolerance) && options.budget_tolerance >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout: budget_tolerance must be a non-negative fraction, got ",
                     options.budget_tolerance));
  }
  // Checked here as well as in the bootstrap, so that bad options are an
  // error even when every fold is skipped before bootstrapping.
  if (options.bootstrap.resamples < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rollout: bootstrap resamples must be at least 2, got ", options.bootstrap.resamples));
  }
  if (!(options.bootstrap.level > 0 && options.bootstrap.level < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rollout: level must lie strictly between 0 and 1, got ", options.bootstrap.level));
  }
  return absl::OkStatus();
}

// Fits, bootstraps and predicts one fold whose past is `past`; on failure
// records the reason in fold->skipped.
void RunFold(const std::vector<Observation>& past, const std::vector<const Observation*>& future,
             const RolloutOptions& options, RolloutFold* fold) {
  ChinchillaFitOptions fit_options = options.fit;
  fit_options.exclude_ids.clear();  // already applied to every run
  absl::StatusOr<ChinchillaFitResult> fit = FitChinchilla(past, fit_options);
  if (!fit.ok()) {
    fold->skipped = absl::StrCat("fit failed: ", fit.status().message());
    return;
  }
  // With few past runs most resamples can lack 5 distinct points, and now
  // and then all do: that says the past is too small, not that the input is
  // wrong, so the fold is skipped rather than the whole check failed.
  absl::StatusOr<ChinchillaBootstrap> bootstrap =
      BootstrapChinchilla(past, *fit, fit_options, options.bootstrap);
  if (!bootstrap.ok()) {
    fold->skipped = absl::StrCat("bootstrap failed: ", bootstrap.status().message());
    return;
  }
  fold->bootstrap_resamples = bootstrap->resamples;
  fold->bootstrap_failed = bootstrap->failed;
  for (const Observation* run : future) {
    const LossPrediction prediction = PredictLoss(*fit, *bootstrap, run->params, run->tokens);
    RolloutRun out;
    out.id = run->id;
    out.params = run->params;
    out.tokens = run->tokens;
    out.compute = ComputeOf(*run);
    out.actual = run->loss;
    out.predicted = prediction.loss;
    out.parameter_interval = prediction.parameter_interval;
    out.prediction_interval = prediction.prediction_interval;
    out.relative_error = (out.predicted - out.actual) / out.actual;
    // NaN bounds compare false, so an interval that could not be formed
    // never counts as covering.
    out.inside =
        out.actual >= out.prediction_interval.lo && out.actual <= out.prediction_interval.hi;
    fold->residual_scale = prediction.residual_scale;
    fold->runs.push_back(std::move(out));
  }
  fold->fit = *std::move(fit);
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

}  // namespace

std::vector<std::vector<size_t>> ComputeBudgets(const std::vector<Observation>& runs,
                                                double tolerance) {
  std::vector<size_t> order(runs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t lhs, size_t rhs) {
    return ComputeOf(runs[lhs]) < ComputeOf(runs[rhs]);
  });
  // Anchored at each budget's smallest compute rather than chained from run
  // to run, so a dense sweep cannot merge into one budget 1% at a time.
  std::vector<std::vector<size_t>> budgets;
  double anchor = 0;
  for (size_t i : order) {
    const double compute = ComputeOf(runs[i]);
    if (budgets.empty() || compute > anchor * (1 + tolerance)) {
      budgets.emplace_back();
      anchor = compute;
    }
    budgets.back().push_back(i);
  }
  for (std::vector<size_t>& budget : budgets) std::sort(budget.begin(), budget.end());
  return budgets;
}

absl::StatusOr<RolloutCheck> CheckRollout(const std::vector<Observation>& observations,
                                          const RolloutOptions& options) {
  SCALELAW_RETURN_IF_ERROR(ValidateObservations(observations));
  SCALELAW_RETURN_IF_ERROR(ValidateRolloutOptions(options));
  std::vector<Observation> used;
  SCALELAW_RETURN_IF_ERROR(FilterExcluded(observations, options.fit.exclude_ids, &used));
  const std::vector<std::vector<size_t>> budgets = ComputeBudgets(used, options.budget_tolerance);
  const int n_budgets = static_cast<int>(budgets.size());
  if (options.budgets < 1 || options.budgets > n_budgets) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "rollout: budgets must be between 1 and the %d distinct compute budgets of the %d runs "
        "used (runs within %g%% of one compute are one budget), got %d",
        n_budgets, used.size(), 100 * options.budget_tolerance, options.budgets));
  }

  RolloutCheck check;
  check.budgets = options.budgets;
  check.n_budgets = n_budgets;
  check.level = options.bootstrap.level;
  std::vector<double> abs_errors;
  for (int rank = 1; rank <= options.budgets; ++rank) {
    const int held_out = n_budgets - rank;
    RolloutFold fold;
    fold.rank = rank;
    fold.compute = std::numeric_limits<double>::infinity();
    std::vector<const Observation*> future;
    for (size_t i : budgets[held_out]) {
      fold.compute = std::min(fold.compute, ComputeOf(used[i]));
      future.push_back(&used[i]);
    }
    fold.n_held_out = static_cast<int>(future.size());
    // The past in input order, so the fold's fit sees its runs as the full
    // fit would.
    std::vector<bool> in_past(used.size(), false);
    for (int b = 0; b < held_out; ++b) {
      for (size_t i : budgets[b]) in_past[i] = true;
    }
    std::vector<Observation> past;
    std::set<double> sizes;
    for (size_t i = 0; i < used.size(); ++i) {
      if (!in_past[i]) continue;
      past.push_back(used[i]);
      sizes.insert(used[i].params);
    }
    fold.n_fitted = static_cast<int>(past.size());
    fold.n_sizes = static_cast<int>(sizes.size());
    if (fold.n_fitted < kRolloutMinPastRuns) {
      fold.skipped = absl::StrCat("too few past runs: ", fold.n_fitted, " below this budget, need ",
                                  kRolloutMinPastRuns);
    } else if (fold.n_sizes < kRolloutMinPastSizes) {
      fold.skipped = absl::StrCat("too few past model sizes: ", fold.n_sizes,
                                  " below this budget, need ", kRolloutMinPastSizes);
    } else {
      RunFold(past, future, options, &fold);
    }
    for (const RolloutRun& run : fold.runs) {
      ++check.n_predicted;
      check.n_inside += run.inside;
      // A non-finite prediction is a total miss and must rank as the worst.
      abs_errors.push_back(std::isfinite(run.relative_error)
                               ? std::abs(run.relative_error)
                               : std::numeric_limits<double>::infinity());
    }
    check.folds.push_back(std::move(fold));
  }
  if (check.n_predicted > 0) {
    check.coverage = static_cast<double>(check.n_inside) / check.n_predicted;
    check.median_abs_relative_error = Median(std::move(abs_errors));
  } else {
    check.coverage = std::nan("");
    check.median_abs_relative_error = std::nan("");
  }
  return check;
}

}  // namespace scalelaw::fitting
