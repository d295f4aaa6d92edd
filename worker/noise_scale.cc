#include "worker/noise_scale.h"

namespace scalelaw::worker {

NoiseEstimate EstimateNoise(double b_small, double g_small_sq, double b_big, double g_big_sq) {
  NoiseEstimate estimate;
  estimate.grad_sq = (b_big * g_big_sq - b_small * g_small_sq) / (b_big - b_small);
  estimate.trace_sigma = (g_small_sq - g_big_sq) / (1.0 / b_small - 1.0 / b_big);
  return estimate;
}

void NoiseScaleEma::Add(const NoiseEstimate& estimate) {
  grad_sq_ = decay_ * grad_sq_ + (1.0 - decay_) * estimate.grad_sq;
  trace_sigma_ = decay_ * trace_sigma_ + (1.0 - decay_) * estimate.trace_sigma;
  weight_ = decay_ * weight_ + (1.0 - decay_);
  ++count_;
}

double NoiseScaleEma::grad_sq() const { return count_ == 0 ? 0.0 : grad_sq_ / weight_; }

double NoiseScaleEma::trace_sigma() const { return count_ == 0 ? 0.0 : trace_sigma_ / weight_; }

double NoiseScaleEma::BSimple() const {
  const double g = grad_sq();
  return g > 0.0 ? trace_sigma() / g : 0.0;
}

}  // namespace scalelaw::worker
