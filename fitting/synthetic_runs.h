// Runs drawn from a known law, for tests, benchmarks and demonstrations.
#pragma once

#include <random>
#include <vector>

#include "fitting/chinchilla_fit.h"
#include "fitting/observation.h"

namespace scalelaw::fitting {

struct SyntheticGrid {
  double min_params = 1e7;
  double max_params = 1e10;
  int n_params = 10;  // log-spaced sizes
  double min_tokens_per_param = 2;
  double max_tokens_per_param = 200;
  int n_tokens = 10;              // log-spaced tokens-per-parameter ratios
  double log_noise_sigma = 0.01;  // σ of the log-normal noise on the loss
};

// n_params·n_tokens runs with loss = L(N, D)·exp(σ·ε), ε ~ N(0, 1), from the
// caller's generator (so a seed reproduces the data). Ids are "r0", "r1", …
std::vector<Observation> SyntheticChinchillaRuns(const ChinchillaParams& law,
                                                 const SyntheticGrid& grid, std::mt19937_64& rng);

}  // namespace scalelaw::fitting
