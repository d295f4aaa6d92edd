#include "fitting/chinchilla_cost.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <utility>

#include "fitting/chinchilla_kernel.h"

namespace scalelaw::fitting {

ChinchillaObjectiveFunction::ChinchillaObjectiveFunction(std::vector<double> log_params,
                                                         std::vector<double> log_tokens,
                                                         std::vector<double> log_loss,
                                                         double huber_delta,
                                                         std::vector<double> weights)
    : log_params_(std::move(log_params)),
      log_tokens_(std::move(log_tokens)),
      log_loss_(std::move(log_loss)),
      weights_(std::move(weights)),
      huber_delta_(huber_delta) {
  if (weights_.empty()) weights_.assign(log_loss_.size(), 1.0);
  std::map<double, int> index;
  for (double log_size : log_params_) {
    if (index.emplace(log_size, static_cast<int>(log_sizes_.size())).second) {
      log_sizes_.push_back(log_size);
    }
    size_of_point_.push_back(index.at(log_size));
  }
}

bool ChinchillaObjectiveFunction::Evaluate(const double* theta, double* cost,
                                           double* gradient) const {
  double scratch[5];
  double* g = gradient != nullptr ? gradient : scratch;
  // Per-thread scratch for the per-size terms: one function serves threads.
  // Aligned to 64 bytes in every thread: the vectorised kernel peels scalar
  // iterations up to an aligned address, and scalar and SIMD exp differ in
  // the last bit, so an address-dependent peel made results depend on the
  // thread that evaluated them.
  thread_local std::vector<double> size_terms_storage;
  size_terms_storage.resize(log_sizes_.size() + 8);
  double* size_terms_data = size_terms_storage.data();
  size_terms_data += (8 - (reinterpret_cast<uintptr_t>(size_terms_data) / sizeof(double)) % 8) % 8;
  double min_sum = 0;
  *cost = ChinchillaHuberKernelBySize(log_sizes_.data(), log_sizes_.size(), size_of_point_.data(),
                                      log_tokens_.data(), log_loss_.data(), weights_.data(),
                                      log_loss_.size(), theta, huber_delta_, size_terms_data, g,
                                      &min_sum);
  // Far from sensible θ the unshifted terms over- or underflow; redo the
  // sum with the max shift (the smallest normal double is ~2.2e-308).
  if (!std::isfinite(*cost) || !(min_sum > 1e-290)) {
    *cost = ChinchillaHuberKernel(log_params_.data(), log_tokens_.data(), log_loss_.data(),
                                  weights_.data(), log_loss_.size(), theta, huber_delta_, g);
  }
  // Ceres treats a false return as a failed step and shortens it.
  return std::isfinite(*cost) && std::isfinite(g[0]) && std::isfinite(g[1]) &&
         std::isfinite(g[2]) && std::isfinite(g[3]) && std::isfinite(g[4]);
}

}  // namespace scalelaw::fitting
