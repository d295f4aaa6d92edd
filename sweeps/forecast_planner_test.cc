#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sweeps/planner.h"
#include "sweeps/spec_parser.h"

namespace scalelaw::sweeps {
namespace {

using ::testing::HasSubstr;

// Three sizes x two budgets (6 fit points) on a cosine grid.
constexpr char kLadder[] =
    "name: f\ncontext: 32\n"
    "models:\n"
    "  - shape: {n_layer: 1, d_model: 32, n_head: 1}\n"
    "  - shape: {n_layer: 1, d_model: 48, n_head: 1}\n"
    "  - shape: {n_layer: 1, d_model: 64, n_head: 2}\n"
    "tokens: [40960, 81920]\n"
    "training: {batch_size: 16}\n";

absl::StatusOr<std::vector<v1::TrialSpec>> Plan(const std::string& forecast,
                                                const std::string& ladder = kLadder) {
  auto spec = ParseSweepSpec(ladder + forecast, "f.yaml");
  if (!spec.ok()) return spec.status();
  return PlanSweep(*spec, "f-1");
}

TEST(ForecastPlannerTest, TargetsFollowTheLadderWithDefaults) {
  auto spec = ParseSweepSpec(
      std::string(kLadder) +
          "forecast:\n  targets:\n"
          "    - {name: big, shape: {n_layer: 1, d_model: 96, n_head: 3}, tokens: 163840}\n"
          "    - {target_params: 2.0e5, tokens: 2.0e5}\n",
      "f.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->forecast().law(), "chinchilla");
  EXPECT_EQ(spec->forecast().bootstrap(), 200u);
  EXPECT_DOUBLE_EQ(spec->forecast().level(), 0.9);
  auto trials = PlanSweep(*spec, "f-1");
  ASSERT_TRUE(trials.ok()) << trials.status();
  ASSERT_EQ(trials->size(), 8u);
  EXPECT_EQ((*trials)[6].trial_id(), "f-1-t006");
  EXPECT_EQ((*trials)[6].forecast_target(), "big");
  EXPECT_EQ((*trials)[6].tokens(), 163840u);
  EXPECT_EQ((*trials)[7].forecast_target(), "target1");
  for (int i = 0; i < 6; ++i) EXPECT_EQ((*trials)[i].forecast_target(), "");
}

TEST(ForecastPlannerTest, SpecWithoutForecastStoresNone) {
  auto spec = ParseSweepSpec(kLadder, "f.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE(spec->has_forecast());
}

TEST(ForecastPlannerTest, WsdTargetWarmsUpAsTheLadder) {
  const std::string wsd = std::string(kLadder) + "optimizer: {schedule: wsd}\n";
  auto trials =
      Plan("forecast: {targets: [{shape: {n_layer: 1, d_model: 96, n_head: 3}, tokens: 163840}]}\n",
           wsd);
  ASSERT_TRUE(trials.ok()) << trials.status();
  const v1::TrialSpec& target = trials->back();
  EXPECT_EQ(target.wsd().role(), v1::TRIAL_ROLE_UNSPECIFIED);
  EXPECT_EQ(target.wsd().warmup_tokens(), trials->front().wsd().warmup_tokens());
  EXPECT_GT(target.wsd().warmup_tokens(), 0u);
}

TEST(ForecastPlannerTest, ComputeTargetIsAPlaceholderUntilTheFit) {
  auto trials = Plan("forecast: {targets: [{name: opt, compute: 1.0e12}]}\n");
  ASSERT_TRUE(trials.ok()) << trials.status();
  EXPECT_EQ(trials->back().tokens(), 0u);
  EXPECT_DOUBLE_EQ(trials->back().flops(), 1e12);
  EXPECT_EQ(trials->back().forecast_target(), "opt");
}

TEST(ForecastPlannerTest, RefusesATargetInsideTheLadder) {
  // 1 x 48 on 81920 tokens is a ladder trial's own compute.
  auto trials =
      Plan("forecast: {targets: [{shape: {n_layer: 1, d_model: 48, n_head: 1}, tokens: 81920}]}\n");
  ASSERT_FALSE(trials.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(trials.status()));
  EXPECT_THAT(std::string(trials.status().message()),
              HasSubstr("forecast.targets[0]: its compute"));
  EXPECT_THAT(std::string(trials.status().message()), HasSubstr("inside the ladder's range"));
  auto small = Plan("forecast: {targets: [{compute: 1.0e9}]}\n");
  EXPECT_THAT(std::string(small.status().message()), HasSubstr("inside the ladder's range"));
}

TEST(ForecastPlannerTest, RefusesALadderTooSmallToFit) {
  const std::string two_sizes =
      "name: f\ncontext: 32\nmodels:\n"
      "  - shape: {n_layer: 1, d_model: 32, n_head: 1}\n"
      "  - shape: {n_layer: 1, d_model: 64, n_head: 2}\n"
      "tokens: [40960, 81920, 163840]\ntraining: {batch_size: 16}\n";
  auto trials = Plan("forecast: {targets: [{compute: 1.0e13}]}\n", two_sizes);
  ASSERT_FALSE(trials.ok());
  EXPECT_THAT(
      std::string(trials.status().message()),
      HasSubstr("forecast: the ladder (models x tokens) has 2 model sizes and 6 fit points"));
  const std::string four_points = std::string(kLadder).replace(
      std::string(kLadder).find("tokens: [40960, 81920]"), 22, "tokens: [40960]");
  auto few = Plan("forecast: {targets: [{compute: 1.0e13}]}\n", four_points);
  EXPECT_THAT(std::string(few.status().message()), HasSubstr("3 model sizes and 3 fit points"));
}

TEST(ForecastPlannerTest, FieldErrorsNameTheField) {
  const std::pair<std::string, std::string> cases[] = {
      {"forecast: {targets: []}", "forecast.targets: must list at least one target"},
      {"forecast: {targets: [{tokens: 1e6}]}", "forecast.targets[0]: needs target_params"},
      {"forecast: {targets: [{compute: 1e13, tokens: 1e6}]}", "give either compute"},
      {"forecast: {targets: [{compute: 1e13, name: a}, {compute: 2e13, name: a}]}",
       "forecast.targets[1].name: must differ"},
      {"forecast: {targets: [{compute: 1e13}], level: 1.5}", "forecast.level: must be in"},
      {"forecast: {targets: [{compute: 1e13}], bootstrap: 3}", "forecast.bootstrap: must be in"},
      {"forecast: {targets: [{compute: 1e13}], law: kaplan}", "forecast.law: must be"},
      {"forecast: {targets: [{compute: 1e13, size: 3}]}", "forecast.targets[0].size: unknown key"},
      {"forecast: {targets: [{compute: 1e13}, {compute: 2e13, name: target0}]}",
       "forecast.targets[1].name: must differ from forecast.targets[0]'s, got 'target0'"},
      {"forecast: {targets: [{target_params: 1e6, shape: {n_layer: 1, d_model: 96, n_head: 3}, "
       "tokens: 1e6}]}",
       "forecast.targets[0]: expected at most one of 'target_params' or 'shape'"},
      {"forecast: {targets: [{compute: 1e13}], param_count: non_embedding}",
       "forecast.targets[0].compute: needs forecast.param_count 'total'"},
  };
  for (const auto& [yaml, expected] : cases) {
    auto trials = Plan(yaml + "\n");
    ASSERT_FALSE(trials.ok()) << yaml;
    EXPECT_THAT(std::string(trials.status().message()), HasSubstr(expected)) << yaml;
  }
}

}  // namespace
}  // namespace scalelaw::sweeps
