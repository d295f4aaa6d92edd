// Bootstrap intervals for the Chinchilla fit (Besiroglu et al. 2024 found
// the paper's own intervals implausibly narrow; SCIENCE.md asks for these on
// every parameter and prediction).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "fitting/chinchilla_fit.h"
#include "fitting/observation.h"

namespace scalelaw::fitting {

struct Interval {
  double lo = 0;
  double hi = 0;
};

// The central `level` percentile interval of `values` (linear interpolation
// between order statistics). `values` must not be empty.
Interval PercentileInterval(std::vector<double> values, double level);

struct BootstrapOptions {
  int resamples = 200;
  double level = 0.95;
  // Seeds the one std::mt19937_64 that draws every resample, in order, before
  // any fitting: the same seed gives the same intervals on any thread count.
  uint64_t seed = 0;
  int num_threads = 2;
};

struct ChinchillaBootstrap {
  int resamples = 0;  // fits that succeeded
  int failed = 0;     // resamples whose fit returned an error
  double level = 0;
  Interval E, A, B, alpha, beta;
  // One fitted law per successful resample, for intervals on predictions
  // (e.g. PercentileInterval of each sample's Loss(N, D)).
  std::vector<ChinchillaParams> samples;
};

// Resamples the fit's points (those left after options.exclude_ids) with
// replacement and refits each resample. Each refit starts from the
// full-data optimum and from the start that won it, not the 4,500-point
// grid: the resample's optimum lies near the full-data one, and a full grid
// per resample would cost hundreds of times more. Errors: those of
// FitChinchilla for the inputs, InvalidArgument for bad bootstrap options,
// Internal when every resample fails.
absl::StatusOr<ChinchillaBootstrap> BootstrapChinchilla(
    const std::vector<Observation>& observations, const ChinchillaFitResult& point_fit,
    const ChinchillaFitOptions& fit_options, const BootstrapOptions& options);

}  // namespace scalelaw::fitting
