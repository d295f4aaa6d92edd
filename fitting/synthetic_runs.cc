#include "fitting/synthetic_runs.h"

#include <cmath>
#include <string>

namespace scalelaw::fitting {
namespace {

double LogSpaced(double lo, double hi, int i, int n) {
  if (n <= 1) return lo;
  return std::exp(std::log(lo) + (std::log(hi) - std::log(lo)) * i / (n - 1));
}

}  // namespace

std::vector<Observation> SyntheticChinchillaRuns(const ChinchillaParams& law,
                                                 const SyntheticGrid& grid, std::mt19937_64& rng) {
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<Observation> runs;
  for (int i = 0; i < grid.n_params; ++i) {
    const double params = LogSpaced(grid.min_params, grid.max_params, i, grid.n_params);
    for (int j = 0; j < grid.n_tokens; ++j) {
      const double tokens = params * LogSpaced(grid.min_tokens_per_param, grid.max_tokens_per_param,
                                               j, grid.n_tokens);
      Observation obs;
      obs.params = params;
      obs.tokens = tokens;
      obs.loss = law.Loss(params, tokens) * std::exp(grid.log_noise_sigma * noise(rng));
      obs.flops = 6.0 * params * tokens;
      obs.id = "r" + std::to_string(runs.size());
      runs.push_back(obs);
    }
  }
  return runs;
}

}  // namespace scalelaw::fitting
