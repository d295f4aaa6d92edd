#include "fitting/recipe_comparison.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace scalelaw::fitting {
namespace {

constexpr PowerLawParams kBaseline{.E = 1.8, .A = 1100, .alpha = 0.15};

// Runs on the frontier L(C) = law(C·efficiency): a recipe `efficiency`
// times as compute-efficient as `law` reaches each loss with 1/efficiency
// of the compute. Each compute also gets a worse, off-frontier run.
std::vector<Observation> Sweep(const PowerLawParams& law, double efficiency, double first_compute,
                               double log_noise_sigma, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<Observation> runs;
  for (int i = 0; i < 12; ++i) {
    const double compute = first_compute * std::pow(10.0, 4.0 * i / 11);
    for (double penalty : {1.0, 1.05}) {
      Observation run;
      run.params = std::sqrt(compute / 120);  // 20 tokens per parameter
      run.tokens = 20 * run.params;
      run.flops = compute;
      run.loss = penalty * law.Loss(compute * efficiency) * std::exp(log_noise_sigma * noise(rng));
      run.id = "r" + std::to_string(runs.size());
      runs.push_back(run);
    }
  }
  return runs;
}

TEST(ComputeToReachTest, InvertsTheFrontierLaw) {
  // 1.8 + 1100·C^−0.15 = 2.5 ⇔ C = (1100/0.7)^(1/0.15).
  EXPECT_NEAR(std::log(ComputeToReach(kBaseline, 2.5)), std::log(1100 / 0.7) / 0.15, 1e-12);
  EXPECT_NEAR(kBaseline.Loss(ComputeToReach(kBaseline, 2.5)), 2.5, 1e-12);
  EXPECT_TRUE(std::isinf(ComputeToReach(kBaseline, 1.8)));
}

TEST(ComputeFrontierTest, KeepsTheBestRunPerComputeBucket) {
  const std::vector<Observation> runs = Sweep(kBaseline, 1, 1e18, 0, 1);
  const std::vector<Observation> frontier = ComputeFrontier(runs);
  ASSERT_EQ(frontier.size(), 12u);
  for (size_t i = 0; i < frontier.size(); ++i) {
    EXPECT_EQ(frontier[i].id, runs[2 * i].id);  // never the 5%-worse twin
  }
}

TEST(CompareRecipesTest, AConstantEfficiencyGainIsAConstantMultiplier) {
  const std::vector<Observation> baseline = Sweep(kBaseline, 1, 1e18, 0.002, 2);
  const std::vector<Observation> candidate = Sweep(kBaseline, 3, 3e17, 0.002, 3);
  RecipeComparisonOptions options;
  options.bootstrap = 200;
  options.seed = 5;
  options.target_loss = 2.6;
  const absl::StatusOr<RecipeComparison> comparison = CompareRecipes(baseline, candidate, options);
  ASSERT_TRUE(comparison.ok()) << comparison.status();
  ASSERT_EQ(comparison->curve.size(), 20u);
  for (const MultiplierPoint& point : comparison->curve) {
    EXPECT_NEAR(point.multiplier, 3.0, 0.3) << "at loss " << point.loss;
    EXPECT_FALSE(point.extrapolated);
    ASSERT_TRUE(point.has_interval);
    EXPECT_LE(point.interval.lo, point.multiplier);
    EXPECT_GE(point.interval.hi, point.multiplier);
    // Percentile intervals from 12 frontier points under-cover a little at
    // the ends of the range; the error still stays within one interval width.
    EXPECT_LT(std::abs(std::log(point.multiplier / 3.0)),
              std::log(point.interval.hi / point.interval.lo))
        << "at loss " << point.loss;
    EXPECT_DOUBLE_EQ(point.multiplier, point.baseline_compute / point.candidate_compute);
  }
  ASSERT_TRUE(comparison->at_target.has_value());
  EXPECT_NEAR(comparison->at_target->multiplier, 3.0, 0.2);
  ASSERT_TRUE(comparison->at_target->has_interval);
  EXPECT_LT(comparison->at_target->interval.lo, 3.0);
  EXPECT_GT(comparison->at_target->interval.hi, 3.0);
  EXPECT_EQ(comparison->resamples, 200);
  EXPECT_GT(comparison->covered_min_loss, comparison->candidate.min_loss - 1e-12);
  EXPECT_LT(comparison->covered_max_loss, comparison->baseline.max_loss + 1e-12);
}

TEST(CompareRecipesTest, AGainThatGrowsWithScaleShowsInTheCurve) {
  // The candidate has a steeper frontier: C_b(L)/C_c(L) =
  // (A/(L−E))^(1/0.15) / (A/(L−E))^(1/0.18), which grows as L falls.
  constexpr PowerLawParams kSteeper{.E = 1.8, .A = 1100, .alpha = 0.18};
  const absl::StatusOr<RecipeComparison> comparison =
      CompareRecipes(Sweep(kBaseline, 1, 1e18, 0, 1), Sweep(kSteeper, 1, 1e16, 0, 1));
  ASSERT_TRUE(comparison.ok()) << comparison.status();
  for (const MultiplierPoint& point : comparison->curve) {
    const double expected =
        ComputeToReach(kBaseline, point.loss) / ComputeToReach(kSteeper, point.loss);
    EXPECT_NEAR(std::log(point.multiplier), std::log(expected), 0.02) << point.loss;
  }
  EXPECT_GT(comparison->curve.front().multiplier, comparison->curve.back().multiplier);
}

TEST(CompareRecipesTest, RefusesToExtrapolateUnlessAsked) {
  const std::vector<Observation> baseline = Sweep(kBaseline, 1, 1e18, 0, 1);
  const std::vector<Observation> candidate = Sweep(kBaseline, 3, 3e17, 0, 1);
  RecipeComparisonOptions options;
  options.target_loss = 2.0;  // below what either sweep reached
  const absl::StatusOr<RecipeComparison> refused = CompareRecipes(baseline, candidate, options);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(refused.status().message()).find("outside the range"), std::string::npos);
  options.extrapolate = true;
  const absl::StatusOr<RecipeComparison> allowed = CompareRecipes(baseline, candidate, options);
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_TRUE(allowed->at_target->extrapolated);
  EXPECT_NEAR(allowed->at_target->multiplier, 3.0, 0.05);
  options.target_loss = 1.5;  // below E: never reached
  EXPECT_EQ(CompareRecipes(baseline, candidate, options).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(CompareRecipesTest, DisjointOrTinySweepsAreErrors) {
  std::vector<Observation> tiny = Sweep(kBaseline, 1, 1e18, 0, 1);
  tiny.resize(4);  // two compute buckets
  EXPECT_EQ(CompareRecipes(tiny, Sweep(kBaseline, 1, 1e18, 0, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A candidate so efficient that its worst run beats the baseline's best.
  EXPECT_EQ(CompareRecipes(Sweep(kBaseline, 1, 1e18, 0, 1), Sweep(kBaseline, 1e6, 1e18, 0, 1))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace scalelaw::fitting
