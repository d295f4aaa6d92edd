#include "fitting/prediction_interval.h"

#include <cmath>
#include <random>

#include "fitting/synthetic_runs.h"
#include "gtest/gtest.h"

namespace scalelaw::fitting {
namespace {

constexpr ChinchillaParams kLaw{.E = 1.69, .A = 406.4, .B = 410.7, .alpha = 0.34, .beta = 0.28};

TEST(PredictLossTest, OneLawSpreadsByTheScaledResiduals) {
  // One bootstrap law and ten residuals of ±0.05: the interval is the law's
  // loss times exp(∓s·0.05), s = sqrt(10 / 5), at any level below 1.
  ChinchillaFitResult fit;
  fit.params = kLaw;
  for (int i = 0; i < 10; ++i) fit.residuals.push_back(i % 2 == 0 ? 0.05 : -0.05);
  ChinchillaBootstrap bootstrap;
  bootstrap.level = 0.5;
  bootstrap.samples = {kLaw};
  const double n = 1e9, d = 2e10, loss = kLaw.Loss(n, d), s = std::sqrt(2.0);

  const LossPrediction p = PredictLoss(fit, bootstrap, n, d);
  EXPECT_DOUBLE_EQ(p.loss, loss);
  EXPECT_DOUBLE_EQ(p.parameter_interval.lo, loss);
  EXPECT_DOUBLE_EQ(p.parameter_interval.hi, loss);
  EXPECT_NEAR(p.prediction_interval.lo, loss * std::exp(-s * 0.05), 1e-12);
  EXPECT_NEAR(p.prediction_interval.hi, loss * std::exp(s * 0.05), 1e-12);
  EXPECT_NEAR(p.residual_scale, s * 0.05, 1e-12);
}

TEST(PredictLossTest, CoversFreshRunsBeyondTheFittedGrid) {
  // Fit a noisy grid, then draw many fresh runs of a model 4x larger than
  // any fitted, trained 4x longer: about `level` of them fall inside the
  // prediction interval, far fewer inside the parameter interval alone.
  constexpr double kSigma = 0.02;
  std::mt19937_64 rng(7);
  SyntheticGrid grid;
  grid.min_params = 1e7;
  grid.max_params = 1e9;
  grid.n_params = 6;
  grid.n_tokens = 6;
  grid.log_noise_sigma = kSigma;
  const std::vector<Observation> runs = SyntheticChinchillaRuns(kLaw, grid, rng);
  ChinchillaFitOptions fit_options;
  fit_options.starts = {{6, 6, 0.5, 0.3, 0.3}, {0, 0, 0, 0.5, 0.5}, {10, 10, 1, 1, 1}};
  absl::StatusOr<ChinchillaFitResult> fit = FitChinchilla(runs, fit_options);
  ASSERT_TRUE(fit.ok()) << fit.status();
  BootstrapOptions options;
  options.resamples = 100;
  options.level = 0.9;
  absl::StatusOr<ChinchillaBootstrap> bootstrap =
      BootstrapChinchilla(runs, *fit, fit_options, options);
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();

  const double n = 4e9, d = 4 * 200 * 1e9;
  const LossPrediction p = PredictLoss(*fit, *bootstrap, n, d);
  std::normal_distribution<double> noise(0, kSigma);
  int in_prediction = 0, in_parameter = 0;
  constexpr int kDraws = 2000;
  for (int i = 0; i < kDraws; ++i) {
    const double actual = kLaw.Loss(n, d) * std::exp(noise(rng));
    in_prediction += actual >= p.prediction_interval.lo && actual <= p.prediction_interval.hi;
    in_parameter += actual >= p.parameter_interval.lo && actual <= p.parameter_interval.hi;
  }
  EXPECT_GT(in_prediction, 0.8 * kDraws);
  EXPECT_LT(in_prediction, 0.99 * kDraws);
  EXPECT_LT(in_parameter, in_prediction);
  EXPECT_NEAR(p.residual_scale, kSigma, 0.5 * kSigma);
}

}  // namespace
}  // namespace scalelaw::fitting
