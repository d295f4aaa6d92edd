#include "worker/noise_scale.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace scalelaw::worker
