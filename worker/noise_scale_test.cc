#include "worker/noise_scale.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace scalelaw::worker {
namespace {

// True |G|^2 = 4 and tr(Sigma) = 64, so E|G_B|^2 = 4 + 64 / B:
// B_small = 8 -> 12, B_big = 32 -> 6, and B_simple = 64 / 4 = 16.
TEST(NoiseScaleTest, RecoversGradientAndTraceFromExpectedNorms) {
  const NoiseEstimate e = EstimateNoise(/*b_small=*/8, /*g_small_sq=*/12, /*b_big=*/32,
                                        /*g_big_sq=*/6);
  EXPECT_DOUBLE_EQ(e.grad_sq, 4.0);       // (32*6 - 8*12) / (32 - 8) = 96 / 24
  EXPECT_DOUBLE_EQ(e.trace_sigma, 64.0);  // (12 - 6) / (1/8 - 1/32) = 6 / (3/32)
  NoiseScaleEma ema;
  ema.Add(e);
  EXPECT_DOUBLE_EQ(ema.BSimple(), 16.0);
}

TEST(NoiseScaleTest, EmaAveragesNumeratorAndDenominatorSeparately) {
  NoiseScaleEma ema(/*decay=*/0.5);
  EXPECT_EQ(ema.BSimple(), 0.0);
  ema.Add({/*grad_sq=*/4.0, /*trace_sigma=*/64.0});
  EXPECT_DOUBLE_EQ(ema.grad_sq(), 4.0);  // bias-corrected: the first estimate itself
  ema.Add({/*grad_sq=*/2.0, /*trace_sigma=*/48.0});
  // Weights 0.25 and 0.5, normalised by 0.75.
  EXPECT_DOUBLE_EQ(ema.grad_sq(), (0.25 * 4 + 0.5 * 2) / 0.75);
  EXPECT_DOUBLE_EQ(ema.trace_sigma(), (0.25 * 64 + 0.5 * 48) / 0.75);
  // Ratio of averages (20), not average of ratios ((16 + 24) / 2 weighted).
  EXPECT_DOUBLE_EQ(ema.BSimple(), 20.0);
}

TEST(NoiseScaleTest, NonPositiveGradientEstimateGivesZero) {
  NoiseScaleEma ema;
  ema.Add({/*grad_sq=*/-1.0, /*trace_sigma=*/10.0});
  EXPECT_EQ(ema.BSimple(), 0.0);
}

// Linear regression y = x.w* + e with x ~ N(0, I_d), e ~ N(0, s^2), squared
// loss l = (x.w - y)^2 / 2 at a fixed w = w* + delta. The per-example gradient
// is g = x (x.delta - e), so in closed form (Gaussian fourth moments):
//   G = E g = delta,                  |G|^2 = |delta|^2
//   Sigma = (|delta|^2 + s^2) I + delta delta^T,
//   tr(Sigma) = d (|delta|^2 + s^2) + |delta|^2.
// Micro-batches of b examples, k of them a step, as the trainer measures them.
TEST(NoiseScaleTest, MatchesLinearRegressionInClosedForm) {
  constexpr int kDim = 10, kMicro = 4, kMicroBatches = 4, kSteps = 20000;
  constexpr double kNoise = 1.0;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> delta(kDim);
  double delta_sq = 0;
  for (double& v : delta) {
    v = normal(rng);
    delta_sq += v * v;
  }
  for (double& v : delta) v /= std::sqrt(delta_sq);  // |delta|^2 = 1
  delta_sq = 1.0;
  const double true_trace = kDim * (delta_sq + kNoise * kNoise) + delta_sq;  // 21

  NoiseScaleEma ema(0.999);
  double grad_sq_sum = 0, trace_sum = 0;
  std::vector<double> micro(kDim), big(kDim), x(kDim);
  for (int step = 0; step < kSteps; ++step) {
    std::fill(big.begin(), big.end(), 0.0);
    double micro_sq_sum = 0;
    for (int m = 0; m < kMicroBatches; ++m) {
      std::fill(micro.begin(), micro.end(), 0.0);
      for (int i = 0; i < kMicro; ++i) {
        double residual = -kNoise * normal(rng);  // x.delta - e
        for (int j = 0; j < kDim; ++j) {
          x[j] = normal(rng);
          residual += x[j] * delta[j];
        }
        for (int j = 0; j < kDim; ++j) micro[j] += x[j] * residual / kMicro;
      }
      double sq = 0;
      for (int j = 0; j < kDim; ++j) {
        sq += micro[j] * micro[j];
        big[j] += micro[j] / kMicroBatches;
      }
      micro_sq_sum += sq;
    }
    double big_sq = 0;
    for (double v : big) big_sq += v * v;
    const NoiseEstimate e =
        EstimateNoise(kMicro, micro_sq_sum / kMicroBatches, kMicro * kMicroBatches, big_sq);
    grad_sq_sum += e.grad_sq;
    trace_sum += e.trace_sigma;
    ema.Add(e);
  }
  // Both estimates are unbiased: their means over 20,000 steps are within 3%
  // (about 3 standard errors; the seed is fixed, so the test is deterministic).
  EXPECT_NEAR(grad_sq_sum / kSteps, delta_sq, 0.03 * delta_sq);
  EXPECT_NEAR(trace_sum / kSteps, true_trace, 0.03 * true_trace);
  // The EMA's ratio (what the trainer reports) is within 10% of tr(Sigma)/|G|^2 = 21.
  EXPECT_NEAR(ema.BSimple(), true_trace / delta_sq, 0.10 * true_trace / delta_sq);
}

}  // namespace
}  // namespace scalelaw::worker
