#include "fitting/chinchilla_mle.h"

#include <cmath>
#include <numbers>
#include <random>

#include "fitting/synthetic_runs.h"
#include "gtest/gtest.h"

namespace scalelaw::fitting {
namespace {

constexpr ChinchillaParams kChinchilla{
    .E = 1.69, .A = 406.4, .B = 410.7, .alpha = 0.34, .beta = 0.28};

TEST(HuberDensityTest, NormaliserAndQuantilesMatchHandValues) {
  // c → ∞ is the standard normal: Z = √(2π) and the 95% half-width 1.95996.
  EXPECT_NEAR(HuberDensityNormaliser(40.0), std::sqrt(2 * std::numbers::pi), 1e-12);
  EXPECT_NEAR(HuberDensityHalfWidth(40.0, 0.95), 1.959964, 1e-5);
  // c = 1.345: Z = √(2π)·erf(1.345/√2) + 2·exp(−1.345²/2)/1.345
  //            = 2.50663·0.82137 + 2·0.40474/1.345 = 2.05888 + 0.60184.
  EXPECT_NEAR(HuberDensityNormaliser(1.345), 2.66072, 1e-4);
  // Tails are exponential, so the 95% interval is wider than the normal's;
  // beyond c the tail mass is 2·exp(c²/2 − c·q)/(c·Z) = 0.05.
  const double c = 1.345, z = HuberDensityNormaliser(c);
  const double q = c / 2 - std::log(0.05 * c * z / 2) / c;
  EXPECT_NEAR(HuberDensityHalfWidth(c, 0.95), q, 1e-9);
  EXPECT_GT(q, 1.96);
}

TEST(FitChinchillaMleTest, RecoversTheNoiseScaleAndTheLaw) {
  std::mt19937_64 rng(99);
  SyntheticGrid grid;
  grid.n_params = 10;
  grid.n_tokens = 10;
  grid.log_noise_sigma = 0.02;
  const std::vector<Observation> runs = SyntheticChinchillaRuns(kChinchilla, grid, rng);
  ChinchillaFitOptions options;
  for (double e : {-1.0, 0.5})
    for (double ab : {0.0, 5.0, 10.0})
      for (double exponent : {0.0, 0.5, 1.0})
        options.starts.push_back({ab, ab, e, exponent, exponent});
  const absl::StatusOr<ChinchillaFitResult> point_fit = FitChinchilla(runs, options);
  ASSERT_TRUE(point_fit.ok()) << point_fit.status();
  const absl::StatusOr<ChinchillaMleResult> mle = FitChinchillaMle(runs, *point_fit, options);
  ASSERT_TRUE(mle.ok()) << mle.status();
  EXPECT_TRUE(mle->converged) << mle->termination;
  // Normal noise of σ = 0.02 under a Huber model: the scale comes back
  // within sampling error (100 points).
  EXPECT_NEAR(mle->sigma, 0.02, 0.004);
  EXPECT_NEAR(mle->params.alpha, 0.34, 0.06);
  EXPECT_NEAR(mle->params.beta, 0.28, 0.06);
  // About 95% of the points fall inside their own 95% prediction interval.
  int inside = 0;
  for (const Observation& run : runs) {
    const Interval interval = mle->PredictionInterval(run.params, run.tokens, 0.95);
    inside += run.loss >= interval.lo && run.loss <= interval.hi ? 1 : 0;
  }
  EXPECT_GE(inside, 88);
  EXPECT_LE(inside, 100);
  // The reported likelihood is the formula's at the reported optimum.
  double nll = 0;
  const double c = mle->huber_c;
  for (double r : mle->residuals) {
    const double u = std::abs(r) / mle->sigma;
    nll += u <= c ? 0.5 * u * u : c * u - 0.5 * c * c;
  }
  nll += runs.size() * (std::log(mle->sigma) + std::log(HuberDensityNormaliser(c)));
  EXPECT_NEAR(mle->negative_log_likelihood, nll, 1e-8 * std::abs(nll));
}

TEST(FitChinchillaMleTest, BadOptionsAreErrors) {
  std::mt19937_64 rng(1);
  const std::vector<Observation> runs = SyntheticChinchillaRuns(kChinchilla, {}, rng);
  ChinchillaFitResult point_fit;
  point_fit.theta = ThetaFromParams(kChinchilla);
  ChinchillaMleOptions options;
  options.huber_c = 0;
  EXPECT_EQ(FitChinchillaMle(runs, point_fit, {}, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace scalelaw::fitting
