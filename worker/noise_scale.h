// Gradient noise scale (McCandlish et al. 2018, "An Empirical Model of
// Large-Batch Training", appendix A.1).
//
// With gradient estimates at two batch sizes B_small < B_big from the same
// step, E|G_B|^2 = |G|^2 + tr(Sigma) / B, so
//   |G|^2     ~= (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small)
//   tr(Sigma) ~= (|G_small|^2 - |G_big|^2) / (1 / B_small - 1 / B_big)
//   B_simple   = tr(Sigma) / |G|^2
// Each single-step estimate is very noisy (|G|^2 is often negative), so
// NoiseScaleEma keeps separate moving averages of |G|^2 and tr(Sigma) and
// divides the averages. On one device with k accumulated micro-batches of b
// sequences: B_small = b with |G_small|^2 the mean of the micro-batch squared
// norms, B_big = k b with |G_big|^2 the squared norm of the accumulated mean.
// Batch sizes are in sequences, so B_simple is too.
#pragma once

#include <cstdint>

namespace scalelaw::worker {

struct NoiseEstimate {
  double grad_sq = 0.0;      // |G|^2, unbiased estimate of the true gradient's squared norm
  double trace_sigma = 0.0;  // tr(Sigma), per-example gradient covariance trace
};

// One step's unbiased estimates. Requires 0 < b_small < b_big.
NoiseEstimate EstimateNoise(double b_small, double g_small_sq, double b_big, double g_big_sq);

// Bias-corrected exponential moving averages of |G|^2 and tr(Sigma).
// Not thread-safe.
class NoiseScaleEma {
 public:
  explicit NoiseScaleEma(double decay = 0.95) : decay_(decay) {}

  void Add(const NoiseEstimate& estimate);

  // B_simple = EMA(tr Sigma) / EMA(|G|^2); 0 before the first estimate or
  // while the averaged |G|^2 is not positive (too noisy to say).
  double BSimple() const;
  double grad_sq() const;
  double trace_sigma() const;
  uint64_t count() const { return count_; }

  // The raw (not bias-corrected) averages, for checkpoints: Restore(state())
  // gives an EMA that continues exactly like this one.
  struct State {
    double grad_sq = 0.0;
    double trace_sigma = 0.0;
    double weight = 0.0;
    uint64_t count = 0;
  };
  State state() const { return {grad_sq_, trace_sigma_, weight_, count_}; }
  void Restore(const State& state) {
    grad_sq_ = state.grad_sq;
    trace_sigma_ = state.trace_sigma;
    weight_ = state.weight;
    count_ = state.count;
  }

 private:
  double decay_;
  double grad_sq_ = 0.0;
  double trace_sigma_ = 0.0;
  double weight_ = 0.0;  // 1 - decay^count, the bias correction
  uint64_t count_ = 0;
};

}  // namespace scalelaw::worker
