#include "fitting/power_law.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace scalelaw::fitting {
namespace {

std::vector<Observation> RunsOnLaw(const PowerLawParams& law, double noise_sigma, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<Observation> runs;
  for (int i = 0; i < 40; ++i) {
    Observation obs;
    obs.params = std::pow(10.0, 6.0 + 4.0 * i / 39);  // 1e6 … 1e10
    obs.tokens = 20 * obs.params;
    obs.loss = law.Loss(obs.params) * std::exp(noise_sigma * noise(rng));
    obs.id = "p" + std::to_string(i);
    runs.push_back(obs);
  }
  return runs;
}

TEST(PowerLawTest, LossIsOffsetPlusPowerOfX) {
  const PowerLawParams law{.E = 1.5, .A = 400, .alpha = 0.3};
  EXPECT_NEAR(law.Loss(1e9), 1.5 + 400 * std::pow(1e9, -0.3), 1e-12);
  EXPECT_NEAR(law.Loss(1e9), 1.5 + 0.8, 0.01);  // 1e9^0.3 ≈ 501.2
}

TEST(PowerLawTest, RecoversExactParametersFromNoiselessRuns) {
  const PowerLawParams law{.E = 1.7, .A = 250, .alpha = 0.32};
  const absl::StatusOr<PowerLawFitResult> fit = FitPowerLaw(RunsOnLaw(law, 0, 1));
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_TRUE(fit->converged) << fit->termination_message;
  EXPECT_NEAR(fit->params.E, 1.7, 1e-6);
  EXPECT_NEAR(fit->params.A, 250, 1e-3);
  EXPECT_NEAR(fit->params.alpha, 0.32, 1e-7);
  EXPECT_LT(fit->objective, 1e-16);
  EXPECT_EQ(fit->n_points, 40);
}

TEST(PowerLawTest, RecoversParametersFromNoisyRunsOnTheChosenAxis) {
  const PowerLawParams law{.E = 2.0, .A = 1200, .alpha = 0.28};
  std::vector<Observation> runs = RunsOnLaw(law, 0.005, 42);
  // Put the law on the token axis: tokens carry x, params are decoys.
  for (Observation& obs : runs) std::swap(obs.params, obs.tokens), obs.params = 1e8;
  PowerLawFitOptions options;
  options.axis = PowerLawAxis::kTokens;
  const absl::StatusOr<PowerLawFitResult> fit = FitPowerLaw(runs, options);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_NEAR(fit->params.alpha, 0.28, 0.02);
  EXPECT_NEAR(fit->params.E, 2.0, 0.05);
  EXPECT_EQ(fit->axis, PowerLawAxis::kTokens);
}

TEST(PowerLawTest, ComputeAxisUsesSixNDWhenFlopsAreMissing) {
  Observation obs;
  obs.params = 2, obs.tokens = 3, obs.loss = 1;
  EXPECT_EQ(AxisValues({obs}, PowerLawAxis::kCompute)[0], 36);
  obs.flops = 50;
  EXPECT_EQ(AxisValues({obs}, PowerLawAxis::kCompute)[0], 50);
}

TEST(PowerLawTest, RejectsTooFewPointsAndBadValues) {
  std::vector<Observation> runs = RunsOnLaw({.E = 1, .A = 10, .alpha = 0.3}, 0, 1);
  runs.resize(2);
  absl::StatusOr<PowerLawFitResult> fit = FitPowerLaw(runs);
  EXPECT_EQ(fit.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(fit.status().message().find("at least 3 points"), std::string::npos);

  runs = RunsOnLaw({.E = 1, .A = 10, .alpha = 0.3}, 0, 1);
  runs[3].loss = std::nan("");
  fit = FitPowerLaw(runs);
  EXPECT_EQ(fit.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(fit.status().message().find("'p3'"), std::string::npos) << fit.status();
  EXPECT_NE(fit.status().message().find("loss"), std::string::npos);

  EXPECT_FALSE(ParsePowerLawAxis("flops").ok());
  EXPECT_EQ(*ParsePowerLawAxis("compute"), PowerLawAxis::kCompute);
}

}  // namespace
}  // namespace scalelaw::fitting
