#include "fitting/bootstrap.h"

#include <random>

#include "fitting/synthetic_runs.h"
#include "gtest/gtest.h"

namespace scalelaw::fitting {
namespace {

constexpr ChinchillaParams kChinchilla{
    .E = 1.69, .A = 406.4, .B = 410.7, .alpha = 0.34, .beta = 0.28};

TEST(PercentileIntervalTest, InterpolatesBetweenOrderStatistics) {
  // 0..100: the 2.5% and 97.5% quantiles are 2.5 and 97.5.
  std::vector<double> values;
  for (int i = 100; i >= 0; --i) values.push_back(i);
  const Interval interval = PercentileInterval(values, 0.95);
  EXPECT_NEAR(interval.lo, 2.5, 1e-12);
  EXPECT_NEAR(interval.hi, 97.5, 1e-12);
}

class BootstrapChinchillaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937_64 rng(99);
    SyntheticGrid grid;
    grid.n_params = 8;
    grid.n_tokens = 8;
    grid.log_noise_sigma = 0.01;
    runs_ = SyntheticChinchillaRuns(kChinchilla, grid, rng);
    options_.starts = {{6, 6, 0.5, 0.3, 0.3}, {0, 0, 0, 0.5, 0.5}, {10, 10, 1, 1, 1}};
    absl::StatusOr<ChinchillaFitResult> fit = FitChinchilla(runs_, options_);
    ASSERT_TRUE(fit.ok()) << fit.status();
    fit_ = *fit;
  }

  std::vector<Observation> runs_;
  ChinchillaFitOptions options_;
  ChinchillaFitResult fit_;
};

TEST_F(BootstrapChinchillaTest, IntervalsContainThePointFitAndTheTruth) {
  BootstrapOptions options;
  options.resamples = 60;
  options.seed = 1;
  const absl::StatusOr<ChinchillaBootstrap> boot =
      BootstrapChinchilla(runs_, fit_, options_, options);
  ASSERT_TRUE(boot.ok()) << boot.status();
  EXPECT_EQ(boot->resamples + boot->failed, 60);
  EXPECT_GE(boot->resamples, 55);
  EXPECT_LT(boot->alpha.lo, fit_.params.alpha);
  EXPECT_GT(boot->alpha.hi, fit_.params.alpha);
  EXPECT_LT(boot->alpha.lo, boot->alpha.hi);
  EXPECT_LT(boot->E.lo, 1.69 + 0.05);
  EXPECT_GT(boot->E.hi, 1.69 - 0.05);
  // Noise of 1% should not pin the exponent to three decimals.
  EXPECT_GT(boot->beta.hi - boot->beta.lo, 1e-3);
}

TEST_F(BootstrapChinchillaTest, SameSeedSameIntervalsOnAnyThreadCount) {
  BootstrapOptions options;
  options.resamples = 12;
  options.seed = 5;
  options.num_threads = 1;
  const absl::StatusOr<ChinchillaBootstrap> one =
      BootstrapChinchilla(runs_, fit_, options_, options);
  options.num_threads = 2;
  const absl::StatusOr<ChinchillaBootstrap> two =
      BootstrapChinchilla(runs_, fit_, options_, options);
  options.seed = 6;
  const absl::StatusOr<ChinchillaBootstrap> other =
      BootstrapChinchilla(runs_, fit_, options_, options);
  ASSERT_TRUE(one.ok() && two.ok() && other.ok());
  EXPECT_EQ(one->alpha.lo, two->alpha.lo);
  EXPECT_EQ(one->beta.hi, two->beta.hi);
  EXPECT_NE(one->alpha.lo, other->alpha.lo);
}

TEST_F(BootstrapChinchillaTest, RejectsBadOptions) {
  BootstrapOptions options;
  options.level = 1.0;
  EXPECT_FALSE(BootstrapChinchilla(runs_, fit_, options_, options).ok());
  options.level = 0.9;
  options.resamples = 1;
  EXPECT_FALSE(BootstrapChinchilla(runs_, fit_, options_, options).ok());
}

}  // namespace
}  // namespace scalelaw::fitting
