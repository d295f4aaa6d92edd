#include "fitting/kaplan_fit.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace scalelaw::fitting {
namespace {

// Kaplan et al. 2020's constants (eq. 1.5 and Table 2).
constexpr KaplanParams kKaplan{.N_c = 8.8e13, .D_c = 5.4e13, .alpha_N = 0.076, .alpha_D = 0.095};

TEST(KaplanParamsTest, LossMatchesTheFormulaWorkedOutByHand) {
  // N = 1e9, D = 1e11: (8.8e4)^0.8 = 8.8e4^(0.076/0.095); 5.4e13/1e11 = 540.
  const double inner = std::pow(8.8e4, 0.8) + 540.0;
  EXPECT_NEAR(kKaplan.Loss(1e9, 1e11), std::pow(inner, 0.095), 1e-12);
  EXPECT_NEAR(std::pow(8.8e4, 0.8), 9027.89, 0.01);
  EXPECT_NEAR(kKaplan.Loss(1e9, 1e11), 2.38879, 1e-5);
  // Infinite data leaves the model-size law (N_c/N)^α_N.
  EXPECT_NEAR(kKaplan.Loss(1e9, 1e300), std::pow(8.8e4, 0.076), 1e-12);
}

TEST(KaplanParamsTest, ThetaRoundTrips) {
  const KaplanParams back = KaplanParamsFromTheta(KaplanThetaFromParams(kKaplan));
  EXPECT_NEAR(back.N_c / kKaplan.N_c, 1, 1e-12);
  EXPECT_NEAR(back.D_c / kKaplan.D_c, 1, 1e-12);
  EXPECT_NEAR(back.alpha_N, kKaplan.alpha_N, 1e-15);
  EXPECT_NEAR(back.alpha_D, kKaplan.alpha_D, 1e-15);
}

std::vector<Observation> KaplanRuns(double log_noise_sigma, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<Observation> runs;
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 8; ++j) {
      Observation obs;
      obs.params = std::pow(10.0, 6 + 4.0 * i / 7);  // 1e6 … 1e10
      obs.tokens = std::pow(10.0, 8 + 4.0 * j / 7);  // 1e8 … 1e12
      obs.loss = kKaplan.Loss(obs.params, obs.tokens) * std::exp(log_noise_sigma * noise(rng));
      obs.id = "k" + std::to_string(runs.size());
      runs.push_back(obs);
    }
  }
  return runs;
}

TEST(FitKaplanTest, RecoversKnownParametersFromNoisyRuns) {
  const std::vector<Observation> runs = KaplanRuns(0.002, 5);
  const absl::StatusOr<KaplanFitResult> fit = FitKaplan(runs);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_EQ(fit->n_points, 64);
  EXPECT_EQ(fit->n_starts, 108);
  EXPECT_NEAR(fit->params.alpha_N, 0.076, 0.005);
  EXPECT_NEAR(fit->params.alpha_D, 0.095, 0.005);
  EXPECT_NEAR(std::log(fit->params.N_c), std::log(8.8e13), 1.0);
  EXPECT_NEAR(std::log(fit->params.D_c), std::log(5.4e13), 1.0);
  ASSERT_EQ(fit->residuals.size(), runs.size());
  // The objective is the sum of Huber terms of the reported residuals.
  double objective = 0;
  for (double r : fit->residuals) {
    objective += std::abs(r) <= 1e-3 ? 0.5 * r * r : 1e-3 * (std::abs(r) - 0.5e-3);
  }
  EXPECT_NEAR(fit->objective, objective, 1e-12 + 1e-9 * objective);
  for (size_t i = 0; i < runs.size(); ++i) {
    EXPECT_NEAR(fit->residuals[i],
                std::log(fit->params.Loss(runs[i].params, runs[i].tokens)) - std::log(runs[i].loss),
                1e-9);
  }
}

TEST(FitKaplanTest, NoiselessRunsAreFittedExactly) {
  const absl::StatusOr<KaplanFitResult> fit = FitKaplan(KaplanRuns(0.0, 1));
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_LT(fit->objective, 1e-12);
  EXPECT_NEAR(fit->params.alpha_N, 0.076, 1e-4);
  EXPECT_NEAR(fit->params.alpha_D, 0.095, 1e-4);
}

TEST(FitKaplanTest, DegenerateInputGetsAClearError) {
  std::vector<Observation> runs = KaplanRuns(0.0, 1);
  runs.resize(3);
  EXPECT_EQ(FitKaplan(runs).status().code(), absl::StatusCode::kInvalidArgument);
  runs = KaplanRuns(0.0, 1);
  runs[4].loss = std::nan("");
  EXPECT_EQ(FitKaplan(runs).status().code(), absl::StatusCode::kInvalidArgument);
  KaplanFitOptions options;
  options.exclude_ids = {"nope"};
  EXPECT_EQ(FitKaplan(KaplanRuns(0.0, 1), options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace scalelaw::fitting
