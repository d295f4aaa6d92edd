#include "fitting/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

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

// The whole pipeline, point fit then bootstrap, bit for bit on every run and
// thread count: the bootstrap warm-starts from the point fit, so a point fit
// that moved in its last bits moved every resample with it.
TEST_F(BootstrapChinchillaTest, PointFitAndBootstrapBitwiseIdenticalOnAnyRunAndThreadCount) {
  ChinchillaFitOptions fit_options = options_;
  for (double ab : {0.0, 5.0, 10.0})
    for (double e : {-1.0, 0.5})
      for (double exponent : {0.0, 0.5, 1.0, 2.0})
        fit_options.starts.push_back({ab, ab, e, exponent, exponent});
  BootstrapOptions options;
  options.resamples = 12;
  options.seed = 5;
  const auto pipeline = [&](int num_threads) {
    fit_options.num_threads = num_threads;
    options.num_threads = num_threads;
    const absl::StatusOr<ChinchillaFitResult> fit = FitChinchilla(runs_, fit_options);
    EXPECT_TRUE(fit.ok()) << fit.status();
    return fit.ok() ? BootstrapChinchilla(runs_, *fit, fit_options, options)
                    : absl::StatusOr<ChinchillaBootstrap>(fit.status());
  };
  const absl::StatusOr<ChinchillaBootstrap> one = pipeline(1);
  ASSERT_TRUE(one.ok()) << one.status();
  for (int run = 0; run < 20; ++run) {
    const int num_threads = run == 19 ? 4 : 2;
    const absl::StatusOr<ChinchillaBootstrap> boot = pipeline(num_threads);
    ASSERT_TRUE(boot.ok()) << boot.status();
    ASSERT_EQ(boot->samples.size(), one->samples.size());
    for (size_t k = 0; k < one->samples.size(); ++k) {
      const ChinchillaParams& got = boot->samples[k];
      const ChinchillaParams& want = one->samples[k];
      const std::string where = std::to_string(num_threads) + " threads, run " +
                                std::to_string(run) + ", resample " + std::to_string(k);
      EXPECT_EQ(got.E, want.E) << where;
      EXPECT_EQ(got.A, want.A) << where;
      EXPECT_EQ(got.B, want.B) << where;
      EXPECT_EQ(got.alpha, want.alpha) << where;
      EXPECT_EQ(got.beta, want.beta) << where;
    }
    EXPECT_EQ(boot->alpha.lo, one->alpha.lo);
    EXPECT_EQ(boot->alpha.hi, one->alpha.hi);
    EXPECT_EQ(boot->beta.lo, one->beta.lo);
    EXPECT_EQ(boot->beta.hi, one->beta.hi);
    EXPECT_EQ(boot->E.lo, one->E.lo);
    EXPECT_EQ(boot->E.hi, one->E.hi);
  }
}

// The warm-started, weighted refit must find the same optimum as a
// multi-start fit of the resample's duplicated runs: same draws (the
// generator is consumed the same way), same intervals.
TEST_F(BootstrapChinchillaTest, WarmStartMatchesAMultiStartFitOfEachResample) {
  BootstrapOptions options;
  options.resamples = 20;
  options.seed = 11;
  const absl::StatusOr<ChinchillaBootstrap> boot =
      BootstrapChinchilla(runs_, fit_, options_, options);
  ASSERT_TRUE(boot.ok()) << boot.status();
  ASSERT_EQ(boot->failed, 0) << boot->first_failure;

  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<size_t> pick(0, runs_.size() - 1);
  std::vector<double> alpha, beta, E;
  for (int k = 0; k < options.resamples; ++k) {
    std::vector<Observation> resample;
    for (size_t i = 0; i < runs_.size(); ++i) resample.push_back(runs_[pick(rng)]);
    ChinchillaFitOptions refit = options_;
    refit.starts.push_back(fit_.theta);
    const absl::StatusOr<ChinchillaFitResult> fit = FitChinchilla(resample, refit);
    ASSERT_TRUE(fit.ok()) << fit.status();
    EXPECT_NEAR(boot->samples[k].alpha, fit->params.alpha, 1e-5) << "resample " << k;
    EXPECT_NEAR(boot->samples[k].beta, fit->params.beta, 1e-5) << "resample " << k;
    EXPECT_NEAR(boot->samples[k].E, fit->params.E, 1e-5) << "resample " << k;
  }
}

TEST_F(BootstrapChinchillaTest, BySizeDrawsWholeSizesAndIsWider) {
  BootstrapOptions options;
  options.resamples = 60;
  options.seed = 2;
  const absl::StatusOr<ChinchillaBootstrap> by_point =
      BootstrapChinchilla(runs_, fit_, options_, options);
  options.unit = ResampleUnit::kSize;
  const absl::StatusOr<ChinchillaBootstrap> by_size =
      BootstrapChinchilla(runs_, fit_, options_, options);
  ASSERT_TRUE(by_point.ok() && by_size.ok());
  EXPECT_EQ(by_size->unit, ResampleUnit::kSize);
  EXPECT_EQ(by_size->resamples + by_size->failed, 60);
  // 8 sizes: a draw with < 3 distinct sizes has probability ~1e-4.
  EXPECT_GE(by_size->resamples, 55) << by_size->first_failure;
  EXPECT_LT(by_size->alpha.lo, fit_.params.alpha);
  EXPECT_GT(by_size->alpha.hi, fit_.params.alpha);
  // Sizes are the scarce dimension for alpha: resampling them spreads it more.
  EXPECT_GT(by_size->alpha.hi - by_size->alpha.lo, by_point->alpha.hi - by_point->alpha.lo);
}

TEST_F(BootstrapChinchillaTest, BySizeWithTooFewSizesFails) {
  // Three sizes: most draws hold fewer than 3 distinct ones.
  std::vector<double> sizes;
  for (const Observation& run : runs_) sizes.push_back(run.params);
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  std::vector<Observation> three;
  for (const Observation& run : runs_) {
    if (run.params <= sizes[2]) three.push_back(run);
  }
  const absl::StatusOr<ChinchillaFitResult> fit = FitChinchilla(three, options_);
  ASSERT_TRUE(fit.ok()) << fit.status();
  BootstrapOptions options;
  options.resamples = 20;
  options.unit = ResampleUnit::kSize;
  const absl::StatusOr<ChinchillaBootstrap> boot =
      BootstrapChinchilla(three, *fit, options_, options);
  ASSERT_TRUE(boot.ok()) << boot.status();
  EXPECT_GT(boot->failed, 10);
  EXPECT_NE(boot->first_failure.find("distinct model sizes"), std::string::npos);
}

TEST(ResampleUnitTest, ParsesNames) {
  EXPECT_EQ(*ParseResampleUnit("size"), ResampleUnit::kSize);
  EXPECT_EQ(*ParseResampleUnit("point"), ResampleUnit::kPoint);
  EXPECT_FALSE(ParseResampleUnit("trial").ok());
}

// IsoFLOP profiles from the published law: 5 budgets x 7 sizes.
std::vector<Observation> IsoflopRuns(std::mt19937_64& rng, double sigma) {
  std::normal_distribution<double> noise(0, sigma);
  std::vector<Observation> runs;
  for (double compute : {1e18, 1e19, 1e20, 1e21, 1e22}) {
    const double centre = 0.5 * std::log(compute / 6 / 20);  // N at ~20 tokens/param
    for (int k = -3; k <= 3; ++k) {
      Observation run;
      run.params = std::exp(centre + 0.4 * k);
      run.tokens = compute / (6 * run.params);
      run.loss = kChinchilla.Loss(run.params, run.tokens) * std::exp(noise(rng));
      run.budget = compute;
      run.id = "c" + std::to_string(runs.size());
      runs.push_back(run);
    }
  }
  return runs;
}

TEST(BootstrapIsoflopTest, IntervalsAroundThePointFitAndTheTruth) {
  std::mt19937_64 rng(4);
  const std::vector<Observation> runs = IsoflopRuns(rng, 0.002);
  const absl::StatusOr<IsoflopFitResult> fit = FitIsoflop(runs);
  ASSERT_TRUE(fit.ok()) << fit.status();
  BootstrapOptions options;
  options.resamples = 200;
  options.seed = 1;
  const absl::StatusOr<IsoflopBootstrap> boot = BootstrapIsoflop(runs, {}, options);
  ASSERT_TRUE(boot.ok()) << boot.status();
  EXPECT_EQ(boot->resamples + boot->failed, 200);
  EXPECT_GE(boot->resamples, 150) << boot->first_failure;
  EXPECT_LE(boot->a.lo, fit->a);
  EXPECT_GE(boot->a.hi, fit->a);
  EXPECT_LE(boot->b.lo, fit->b);
  EXPECT_GE(boot->b.hi, fit->b);
  EXPECT_LT(boot->a.lo, boot->a.hi);
  // a = β/(α+β) for the law; the parabola's bias is small on ±1.2 in log N.
  const double a_true = kChinchilla.beta / (kChinchilla.alpha + kChinchilla.beta);
  EXPECT_NEAR(0.5 * (boot->a.lo + boot->a.hi), a_true, 0.05);

  options.num_threads = 1;
  const absl::StatusOr<IsoflopBootstrap> again = BootstrapIsoflop(runs, {}, options);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->a.lo, boot->a.lo);
  EXPECT_EQ(again->b.hi, boot->b.hi);

  options.unit = ResampleUnit::kSize;
  EXPECT_TRUE(absl::IsInvalidArgument(BootstrapIsoflop(runs, {}, options).status()));
}

// Issue 4: approaches 1, 2 and 3 agree on a synthetic sweep from a known
// L(N, D), with intervals that cover the truth. The exponent of N_opt ∝ C^a
// is a = β/(α+β) for the law (b = 1 − a); each approach's estimate must lie
// within 0.03 of it, any two within 0.05 of each other, and each approach's
// 95% bootstrap interval must contain it.
TEST(ApproachesAgreeTest, ExponentsAgreeAndIntervalsCoverTheTruth) {
  const double a_true = kChinchilla.beta / (kChinchilla.alpha + kChinchilla.beta);  // 0.4516
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0.0, 1.0);
  BootstrapOptions boot_options;
  boot_options.resamples = 200;
  boot_options.seed = 1;

  // Approach 1: training curves of 25 sizes (1e7..1e10), each point as if its
  // schedule ended there, 0.2% log-normal noise.
  std::vector<CurvePoint> curves;
  for (int i = 0; i < 25; ++i) {
    const double params = 1e7 * std::pow(1e3, i / 24.0);
    for (int j = 0; j < 60; ++j) {
      CurvePoint point;
      point.run = "s" + std::to_string(i);
      point.params = params;
      point.tokens = params * std::pow(1e3, j / 59.0);
      point.loss = kChinchilla.Loss(point.params, point.tokens) * std::exp(0.002 * noise(rng));
      curves.push_back(point);
    }
  }
  const absl::StatusOr<EnvelopeFitResult> envelope = FitEnvelope(curves);
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  const absl::StatusOr<EnvelopeBootstrap> envelope_boot =
      BootstrapEnvelope(curves, {}, boot_options);
  ASSERT_TRUE(envelope_boot.ok()) << envelope_boot.status();

  // Approach 2: IsoFLOP profiles, 9 sizes around each of 5 budgets' optimum.
  std::vector<Observation> isoflop_runs;
  for (double budget : {1e18, 1e19, 1e20, 1e21, 1e22}) {
    const double centre = std::sqrt(budget / 6 / 20);
    for (int i = -4; i <= 4; ++i) {
      Observation obs;
      obs.params = centre * std::pow(8.0, i / 4.0);
      obs.tokens = budget / (6 * obs.params);
      obs.loss = kChinchilla.Loss(obs.params, obs.tokens) * std::exp(0.002 * noise(rng));
      obs.budget = budget;
      obs.id = "i" + std::to_string(isoflop_runs.size());
      isoflop_runs.push_back(obs);
    }
  }
  const absl::StatusOr<IsoflopFitResult> isoflop = FitIsoflop(isoflop_runs);
  ASSERT_TRUE(isoflop.ok()) << isoflop.status();
  const absl::StatusOr<IsoflopBootstrap> isoflop_boot =
      BootstrapIsoflop(isoflop_runs, {}, boot_options);
  ASSERT_TRUE(isoflop_boot.ok()) << isoflop_boot.status();

  // Approach 3: the parametric fit on a 10 x 10 (N, D) grid.
  SyntheticGrid grid;
  grid.log_noise_sigma = 0.002;
  const std::vector<Observation> runs = SyntheticChinchillaRuns(kChinchilla, grid, rng);
  ChinchillaFitOptions options;
  for (double e : {-1.0, 0.5})
    for (double ab : {0.0, 5.0, 10.0})
      for (double exponent : {0.0, 0.5, 1.0})
        options.starts.push_back({ab, ab, e, exponent, exponent});
  const absl::StatusOr<ChinchillaFitResult> parametric = FitChinchilla(runs, options);
  ASSERT_TRUE(parametric.ok()) << parametric.status();
  const absl::StatusOr<ChinchillaBootstrap> parametric_boot =
      BootstrapChinchilla(runs, *parametric, options, boot_options);
  ASSERT_TRUE(parametric_boot.ok()) << parametric_boot.status();
  const auto exponent_a = [](const ChinchillaParams& p) { return p.beta / (p.alpha + p.beta); };
  const double a3 = exponent_a(parametric->params);
  std::vector<double> a3_samples;
  for (const ChinchillaParams& p : parametric_boot->samples) a3_samples.push_back(exponent_a(p));
  const Interval a3_interval = PercentileInterval(a3_samples, boot_options.level);

  EXPECT_NEAR(envelope->a, a_true, 0.03);
  EXPECT_NEAR(isoflop->a, a_true, 0.03);
  EXPECT_NEAR(a3, a_true, 0.03);
  EXPECT_NEAR(envelope->a, isoflop->a, 0.05);
  EXPECT_NEAR(envelope->a, a3, 0.05);
  EXPECT_NEAR(isoflop->a, a3, 0.05);

  const auto covers = [](const Interval& interval, double value) {
    return interval.lo <= value && value <= interval.hi;
  };
  EXPECT_TRUE(covers(envelope_boot->a, a_true))
      << "approach 1: [" << envelope_boot->a.lo << ", " << envelope_boot->a.hi << "]";
  EXPECT_TRUE(covers(envelope_boot->b, 1 - a_true))
      << "approach 1: [" << envelope_boot->b.lo << ", " << envelope_boot->b.hi << "]";
  EXPECT_TRUE(covers(isoflop_boot->a, a_true))
      << "approach 2: [" << isoflop_boot->a.lo << ", " << isoflop_boot->a.hi << "]";
  EXPECT_TRUE(covers(isoflop_boot->b, 1 - a_true))
      << "approach 2: [" << isoflop_boot->b.lo << ", " << isoflop_boot->b.hi << "]";
  EXPECT_TRUE(covers(a3_interval, a_true))
      << "approach 3: [" << a3_interval.lo << ", " << a3_interval.hi << "]";
  EXPECT_TRUE(covers(parametric_boot->alpha, kChinchilla.alpha));
  EXPECT_TRUE(covers(parametric_boot->beta, kChinchilla.beta));
  // Intervals that cover only by being useless would pass the checks above.
  EXPECT_LT(envelope_boot->a.hi - envelope_boot->a.lo, 0.1);
  EXPECT_LT(isoflop_boot->a.hi - isoflop_boot->a.lo, 0.1);
  EXPECT_LT(a3_interval.hi - a3_interval.lo, 0.1);
}

TEST_F(BootstrapChinchillaTest, RejectsBadOptions) {
  BootstrapOptions options;
  options.level = 1.0;
  EXPECT_FALSE(BootstrapChinchilla(runs_, fit_, options_, options).ok());
  options.level = 0.9;
  options.resamples = 1;
  EXPECT_FALSE(BootstrapChinchilla(runs_, fit_, options_, options).ok());
  // Past limits::kMaxBootstrapResamples: refused before the weights are drawn
  // (2e9 resamples once ended in std::bad_alloc).
  options.resamples = 2'000'000'000;
  const absl::StatusOr<ChinchillaBootstrap> huge =
      BootstrapChinchilla(runs_, fit_, options_, options);
  ASSERT_TRUE(absl::IsInvalidArgument(huge.status())) << huge.status();
  EXPECT_NE(std::string(huge.status().message()).find("at most 100000"), std::string::npos)
      << huge.status();
}

}  // namespace
}  // namespace scalelaw::fitting
