#include "fitting/recipe_comparison.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "fitting/isoflop_fit.h"

namespace scalelaw::fitting {
namespace {

absl::StatusOr<FrontierFit> FitFrontier(const std::vector<Observation>& runs,
                                        const std::string& name, double huber_delta) {
  SCALELAW_RETURN_IF_ERROR(ValidateObservations(runs));
  FrontierFit out;
  out.frontier = ComputeFrontier(runs);
  if (out.frontier.size() < 3) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": the compute frontier has ", out.frontier.size(),
                     " points (one per compute bucket of 2 significant figures); need 3"));
  }
  PowerLawFitOptions options;
  options.axis = PowerLawAxis::kCompute;
  options.huber_delta = huber_delta;
  absl::StatusOr<PowerLawFitResult> fit = FitPowerLaw(out.frontier, options);
  if (!fit.ok()) {
    return absl::Status(fit.status().code(), absl::StrCat(name, ": ", fit.status().message()));
  }
  out.fit = *std::move(fit);
  out.min_loss = std::numeric_limits<double>::infinity();
  out.max_loss = 0;
  for (const Observation& obs : out.frontier) {
    out.min_loss = std::min(out.min_loss, obs.loss);
    out.max_loss = std::max(out.max_loss, obs.loss);
  }
  return out;
}

// Refits `frontier` resampled with replacement; nullopt when the fit fails.
std::optional<PowerLawParams> Refit(const std::vector<Observation>& frontier, double huber_delta,
                                    std::mt19937_64& rng) {
  std::uniform_int_distribution<size_t> pick(0, frontier.size() - 1);
  std::vector<Observation> resample;
  for (size_t i = 0; i < frontier.size(); ++i) resample.push_back(frontier[pick(rng)]);
  PowerLawFitOptions options;
  options.axis = PowerLawAxis::kCompute;
  options.huber_delta = huber_delta;
  absl::StatusOr<PowerLawFitResult> fit = FitPowerLaw(resample, options);
  if (!fit.ok()) return std::nullopt;
  return fit->params;
}

}  // namespace

std::vector<Observation> ComputeFrontier(const std::vector<Observation>& runs) {
  std::map<double, Observation> best;  // by bucket, ascending
  for (const Observation& run : runs) {
    const double bucket = BucketCompute(ComputeOf(run));
    const auto it = best.find(bucket);
    if (it == best.end() || run.loss < it->second.loss) best[bucket] = run;
  }
  std::vector<Observation> frontier;
  for (const auto& [bucket, run] : best) frontier.push_back(run);
  return frontier;
}

double ComputeToReach(const PowerLawParams& law, double loss) {
  if (!(loss > law.E)) return std::numeric_limits<double>::infinity();
  return std::pow(law.A / (loss - law.E), 1.0 / law.alpha);
}

absl::StatusOr<RecipeComparison> CompareRecipes(const std::vector<Observation>& baseline,
                                                const std::vector<Observation>& candidate,
                                                const RecipeComparisonOptions& options) {
  if (options.n_losses < 2 || options.bootstrap < 0 || options.bootstrap == 1 ||
      !(options.level > 0 && options.level < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("compare: need n_losses >= 2, bootstrap 0 or >= 2 and level in (0, 1), got ",
                     options.n_losses, ", ", options.bootstrap, ", ", options.level));
  }
  RecipeComparison result;
  SCALELAW_ASSIGN_OR_RETURN(result.baseline,
                            FitFrontier(baseline, "baseline", options.huber_delta));
  SCALELAW_ASSIGN_OR_RETURN(result.candidate,
                            FitFrontier(candidate, "candidate", options.huber_delta));
  result.covered_min_loss = std::max(result.baseline.min_loss, result.candidate.min_loss);
  result.covered_max_loss = std::min(result.baseline.max_loss, result.candidate.max_loss);
  if (!(result.covered_min_loss < result.covered_max_loss)) {
    return absl::InvalidArgumentError(
        absl::StrCat("compare: the frontiers cover no common loss range (baseline ",
                     result.baseline.min_loss, " to ", result.baseline.max_loss, ", candidate ",
                     result.candidate.min_loss, " to ", result.candidate.max_loss, ")"));
  }
  if (options.target_loss.has_value()) {
    const double target = *options.target_loss;
    const bool outside = target < result.covered_min_loss || target > result.covered_max_loss;
    if (outside && !options.extrapolate) {
      return absl::InvalidArgumentError(absl::StrCat(
          "compare: loss ", target, " lies outside the range both sweeps cover (",
          result.covered_min_loss, " to ", result.covered_max_loss,
          "); set extrapolate (scalelaw compare --extrapolate) to read the fitted frontiers "
          "beyond their data"));
    }
    for (const FrontierFit* side : {&result.baseline, &result.candidate}) {
      if (!(target > side->fit.params.E)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "compare: loss ", target, " is at or below the fitted irreducible loss E = ",
            side->fit.params.E, " of the ", side == &result.baseline ? "baseline" : "candidate",
            ", which therefore never reaches it"));
      }
    }
  }

  // The losses to evaluate: the curve across the covered range, then L*.
  std::vector<double> losses;
  for (int k = 0; k < options.n_losses; ++k) {
    losses.push_back(result.covered_min_loss + (result.covered_max_loss - result.covered_min_loss) *
                                                   k / (options.n_losses - 1));
  }
  if (options.target_loss.has_value()) losses.push_back(*options.target_loss);

  std::vector<std::vector<double>> samples(losses.size());
  if (options.bootstrap > 0) {
    std::mt19937_64 rng(options.seed);
    for (int r = 0; r < options.bootstrap; ++r) {
      const std::optional<PowerLawParams> b =
          Refit(result.baseline.frontier, options.huber_delta, rng);
      const std::optional<PowerLawParams> c =
          Refit(result.candidate.frontier, options.huber_delta, rng);
      if (!b.has_value() || !c.has_value()) {
        ++result.failed;
        continue;
      }
      ++result.resamples;
      for (size_t k = 0; k < losses.size(); ++k) {
        // A resample whose E lies above L never reaches it: an infinite
        // compute, kept so the percentiles stay honest.
        samples[k].push_back(ComputeToReach(*b, losses[k]) / ComputeToReach(*c, losses[k]));
      }
    }
    result.level = options.level;
  }
  for (size_t k = 0; k < losses.size(); ++k) {
    MultiplierPoint point;
    point.loss = losses[k];
    point.baseline_compute = ComputeToReach(result.baseline.fit.params, losses[k]);
    point.candidate_compute = ComputeToReach(result.candidate.fit.params, losses[k]);
    point.multiplier = point.baseline_compute / point.candidate_compute;
    point.extrapolated = losses[k] < result.covered_min_loss || losses[k] > result.covered_max_loss;
    std::vector<double> finite;
    for (double m : samples[k]) {
      if (!std::isnan(m)) finite.push_back(m);
    }
    if (!finite.empty()) {
      point.has_interval = true;
      point.interval = PercentileInterval(finite, options.level);
    }
    if (k < static_cast<size_t>(options.n_losses)) {
      result.curve.push_back(point);
    } else {
      result.at_target = point;
    }
  }
  return result;
}

}  // namespace scalelaw::fitting
