// Bootstrap intervals for the Chinchilla fit (Besiroglu et al. 2024 found
// the paper's own intervals implausibly narrow; SCIENCE.md asks for these on
// every parameter and prediction) and for the IsoFLOP exponents.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "fitting/chinchilla_fit.h"
#include "fitting/envelope_fit.h"
#include "fitting/isoflop_fit.h"
#include "fitting/observation.h"

namespace scalelaw::fitting {

struct Interval {
  double lo = 0;
  double hi = 0;
};

// The central `level` percentile interval of `values` (linear interpolation
// between order statistics). `values` must not be empty.
Interval PercentileInterval(std::vector<double> values, double level);

// What one bootstrap draw picks with replacement.
enum class ResampleUnit {
  // Runs: n draws from the n runs (the ordinary bootstrap).
  kPoint,
  // Whole model sizes (a cluster bootstrap): k draws from the k distinct
  // params values, each draw bringing every run of that size. Runs of one
  // size share a training recipe and errors, so they are not independent;
  // this interval is the honest one when few sizes were trained.
  kSize,
};

// "point" or "size"; InvalidArgument otherwise.
absl::StatusOr<ResampleUnit> ParseResampleUnit(const std::string& name);
const char* ResampleUnitName(ResampleUnit unit);

struct BootstrapOptions {
  int resamples = 200;
  double level = 0.95;
  // Seeds the one std::mt19937_64 that draws every resample, in order, before
  // any fitting: the same seed gives the same intervals on any thread count.
  uint64_t seed = 0;
  int num_threads = 2;
  ResampleUnit unit = ResampleUnit::kPoint;
};

struct ChinchillaBootstrap {
  int resamples = 0;  // fits that converged, the ones the intervals use
  // Resamples left out of the intervals: the refit did not converge from
  // either warm start, or (by size) the draw held fewer than 3 distinct
  // sizes, too few to identify A, α and E.
  int failed = 0;
  std::string first_failure;  // why the first failed one failed; "" if none
  double level = 0;
  ResampleUnit unit = ResampleUnit::kPoint;
  Interval E, A, B, alpha, beta;
  // One fitted law per successful resample, for intervals on predictions
  // (e.g. PercentileInterval of each sample's Loss(N, D)).
  std::vector<ChinchillaParams> samples;
};

// Percentile interval of f(law) over a bootstrap's laws (a prediction, an
// optimum): laws for which f is not finite (e.g. no optimum) are skipped, and
// an interval of NaNs comes back when none is.
template <typename F>
Interval DerivedInterval(const ChinchillaBootstrap& bootstrap, F f) {
  std::vector<double> values;
  for (const ChinchillaParams& law : bootstrap.samples) {
    const double value = f(law);
    if (std::isfinite(value)) values.push_back(value);
  }
  if (values.empty()) return {std::nan(""), std::nan("")};
  return PercentileInterval(std::move(values), bootstrap.level);
}

// Resamples the fit's points (those left after options.exclude_ids) with
// replacement, by run or by model size, and refits each resample. A resample
// is fitted as its distinct runs weighted by how often each was drawn (the
// same objective as fitting the duplicates, at ~63% of the cost), with one
// tight BFGS solve started from the full-data optimum — the resample's
// optimum lies near it — and, only if that does not converge, a second from
// the grid start that won the full fit. A 4,500-start grid per resample
// would cost hundreds of times more. Errors: those of FitChinchilla for the
// inputs, InvalidArgument for bad bootstrap options, Internal when every
// resample fails. Thread-safe; spawns up to options.num_threads threads.
absl::StatusOr<ChinchillaBootstrap> BootstrapChinchilla(
    const std::vector<Observation>& observations, const ChinchillaFitResult& point_fit,
    const ChinchillaFitOptions& fit_options, const BootstrapOptions& options);

struct IsoflopBootstrap {
  int resamples = 0;  // resamples whose IsoFLOP fit succeeded
  int failed = 0;     // e.g. a budget's draw lost its minimum
  std::string first_failure;
  double level = 0;
  Interval a, b;  // N_opt ∝ C^a, D_opt ∝ C^b
  Interval params_coefficient, tokens_coefficient;
};

// Resamples runs with replacement within each IsoFLOP budget (the groups
// FitIsoflop forms), so every resample keeps the design's budgets, and refits
// the parabolas and the power laws. options.unit must be kPoint. Errors:
// those of FitIsoflop for the inputs, InvalidArgument for bad options,
// Internal when every resample fails.
absl::StatusOr<IsoflopBootstrap> BootstrapIsoflop(const std::vector<Observation>& observations,
                                                  const IsoflopFitOptions& fit_options,
                                                  const BootstrapOptions& options);

struct EnvelopeBootstrap {
  int resamples = 0;  // resamples whose envelope fit succeeded
  int failed = 0;     // e.g. too few FLOP values left with an interior minimum
  std::string first_failure;
  double level = 0;
  Interval a, b;  // N_opt ∝ C^a, D_opt ∝ C^b
};

// Approach 1's bootstrap is by model size: each resample draws the training
// curves (runs) with replacement and takes the envelope of the distinct ones
// drawn (a second copy of a curve cannot change a minimum). Points along one
// curve are not independent, and the envelope's staircase over the sampled
// sizes is the main error, which this resampling shows. options.unit is
// ignored. Errors: those of FitEnvelope for the inputs, InvalidArgument for
// bad options, Internal when every resample fails.
absl::StatusOr<EnvelopeBootstrap> BootstrapEnvelope(const std::vector<CurvePoint>& points,
                                                    const EnvelopeFitOptions& fit_options,
                                                    const BootstrapOptions& options);

}  // namespace scalelaw::fitting
