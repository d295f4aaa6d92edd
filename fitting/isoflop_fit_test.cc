#include "fitting/isoflop_fit.h"

#include <cmath>

#include "fitting/chinchilla_fit.h"
#include "fitting/compute_optimal.h"
#include "gtest/gtest.h"

namespace scalelaw::fitting {
namespace {

constexpr ChinchillaParams kChinchilla{
    .E = 1.69, .A = 406.4, .B = 410.7, .alpha = 0.34, .beta = 0.28};

// IsoFLOP profiles on the law: per budget, 9 sizes from N_opt/4 to 4·N_opt
// (log-spaced) with D = C/(6N).
std::vector<Observation> Profiles(const std::vector<double>& budgets) {
  std::vector<Observation> runs;
  for (double c : budgets) {
    const double centre = OptimalAllocation(kChinchilla, c)->params;
    for (int i = -4; i <= 4; ++i) {
      Observation obs;
      obs.params = centre * std::pow(4.0, i / 4.0) * 1.3;  // off-centre on purpose
      obs.tokens = c / (6 * obs.params);
      obs.loss = kChinchilla.Loss(obs.params, obs.tokens);
      obs.flops = c * (1 + 0.001 * i);  // recorded FLOPs wobble within a budget
      obs.id = "c" + std::to_string(runs.size());
      runs.push_back(obs);
    }
  }
  return runs;
}

TEST(BucketComputeTest, RoundsToTwoSignificantFigures) {
  EXPECT_DOUBLE_EQ(BucketCompute(1.234e21), 1.2e21);
  EXPECT_DOUBLE_EQ(BucketCompute(9.96e18), 1.0e19);
  EXPECT_DOUBLE_EQ(BucketCompute(3.0e20), 3.0e20);
}

TEST(FitIsoflopTest, RecoversTheExponentsOfTheLaw) {
  const absl::StatusOr<IsoflopFitResult> fit = FitIsoflop(Profiles({1e18, 1e19, 1e20, 1e21}));
  ASSERT_TRUE(fit.ok()) << fit.status();
  ASSERT_EQ(fit->budgets.size(), 4u);
  // a = β/(α+β) = 0.4516, b = α/(α+β) = 0.5484 (Hoffmann et al. 2022, Eq. 4).
  EXPECT_NEAR(fit->a, 0.28 / 0.62, 0.01);
  EXPECT_NEAR(fit->b, 0.34 / 0.62, 0.01);
  EXPECT_NEAR(fit->a + fit->b, 1.0, 1e-9);
  for (const IsoflopBudget& budget : fit->budgets) {
    const double exact = OptimalAllocation(kChinchilla, budget.compute)->params;
    EXPECT_NEAR(std::log(budget.params_opt), std::log(exact), 0.05) << budget.compute;
    EXPECT_TRUE(budget.interior);
    EXPECT_EQ(budget.n_points, 9);
  }
}

TEST(FitIsoflopTest, GroupsByThePlannedBudgetWhenGiven) {
  std::vector<Observation> runs = Profiles({1e19, 1e20});
  // Recorded FLOPs far off the plan (an attention term, say) must not split
  // a profile when the plan is known.
  for (Observation& obs : runs) obs.budget = obs.flops > 5e19 ? 1e20 : 1e19, obs.flops *= 1.4;
  const absl::StatusOr<IsoflopFitResult> fit = FitIsoflop(runs);
  ASSERT_TRUE(fit.ok()) << fit.status();
  ASSERT_EQ(fit->budgets.size(), 2u);
  EXPECT_EQ(fit->budgets[0].compute, 1e19);
  EXPECT_EQ(fit->budgets[1].n_points, 9);
}

TEST(FitIsoflopTest, NeedsTwoBudgetsWithThreeSizes) {
  std::vector<Observation> runs = Profiles({1e19});
  absl::StatusOr<IsoflopFitResult> fit = FitIsoflop(runs);
  EXPECT_EQ(fit.status().code(), absl::StatusCode::kInvalidArgument);
  runs = Profiles({1e19, 1e20});
  runs.resize(11);  // the second budget keeps two sizes
  fit = FitIsoflop(runs);
  EXPECT_FALSE(fit.ok());
}

}  // namespace
}  // namespace scalelaw::fitting
