#include "sweeps/planner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "sweeps/accounting.h"
#include "sweeps/spec_parser.h"
#include "sweeps/trial_builder.h"

namespace scalelaw::sweeps {
namespace {

v1::SweepSpec Spec(const char* yaml) {
  auto spec = ParseSweepSpec(yaml, "test.yaml");
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

TEST(PlannerTest, GridIsSizesTimesTokensTimesSeeds) {
  const v1::SweepSpec spec = Spec(
      "name: g\nmodels: [1e5, 4e5]\ntokens: [1e6, 2e6, 4e6]\nseeds: [0, 1]\n"
      "optimizer: {lr: 1e-3, lr_exponent: 0.5, lr_reference_params: 1e5}\n");
  auto trials = PlanGrid(spec, "sw1");
  ASSERT_TRUE(trials.ok()) << trials.status();
  ASSERT_EQ(trials->size(), 12u);
  std::set<std::string> ids;
  for (const v1::TrialSpec& t : *trials) {
    ids.insert(t.trial_id());
    EXPECT_EQ(t.sweep_id(), "sw1");
    const ParamCounts counts = CountParams(t.shape());
    EXPECT_EQ(t.params(), counts.total);
    EXPECT_EQ(t.non_embedding_params(), counts.non_embedding);
    EXPECT_DOUBLE_EQ(t.flops(), FlopsPerToken(t.shape(), counts.total) * t.tokens());
    // lr(N) = 1e-3 * (N / 1e5)^-0.5
    EXPECT_NEAR(t.optimizer().lr(), 1e-3 / std::sqrt(counts.total / 1e5), 1e-12);
  }
  EXPECT_EQ(ids.size(), 12u);
  EXPECT_EQ((*trials)[0].trial_id(), "sw1-t000");
  EXPECT_EQ((*trials)[11].trial_id(), "sw1-t011");
  EXPECT_EQ((*trials)[0].tokens(), 1000000u);
  EXPECT_EQ((*trials)[1].seed(), 1u);
  EXPECT_LT((*trials)[0].params(), (*trials)[6].params());
}

// batch(N) = fraction x the power law through the measured critical batch
// sizes, rounded to a multiple of micro_batches and clamped.
TEST(PlannerTest, BatchRuleFollowsTheMeasuredCriticalBatch) {
  v1::TrainingConfig training;
  training.set_batch_size(32);
  training.set_micro_batches(2);
  EXPECT_EQ(BatchSizeFor(training, 1e6), 32u);  // no rule: batch_size
  v1::BatchRule& rule = *training.mutable_batch_rule();
  v1::CriticalBatchPoint* point = rule.add_critical_batch();
  point->set_params(1e6);
  point->set_batch(43.4);
  // One point: the same batch for every size, rounded to a multiple of 2.
  EXPECT_EQ(BatchSizeFor(training, 1e5), 44u);
  EXPECT_EQ(BatchSizeFor(training, 1e8), 44u);
  point->set_batch(40);
  point = rule.add_critical_batch();
  point->set_params(1e8);
  point->set_batch(400);
  // Two points: B = 40 (N / 1e6)^0.5, between and beyond them.
  EXPECT_EQ(BatchSizeFor(training, 1e6), 40u);
  EXPECT_EQ(BatchSizeFor(training, 1e7), 126u);  // 40 sqrt(10) = 126.49
  EXPECT_EQ(BatchSizeFor(training, 1e10), 4000u);
  rule.set_fraction(0.33);
  EXPECT_EQ(BatchSizeFor(training, 1e8), 132u);
  rule.set_max_batch(101);                       // clamped, then down to a multiple of 2
  EXPECT_EQ(BatchSizeFor(training, 1e8), 100u);
  rule.set_min_batch(64);
  EXPECT_EQ(BatchSizeFor(training, 1e2), 64u);
  // Bounds that micro_batches does not divide: the multiples within them.
  training.set_micro_batches(4);
  rule.set_min_batch(10);
  rule.set_max_batch(13);
  EXPECT_EQ(BatchSizeFor(training, 1e2), 12u);
  EXPECT_EQ(BatchSizeFor(training, 1e10), 12u);
  // The planner trains each size at its batch and keeps the rule out of trials.
  auto spec = Spec(
      "name: b\nmodels: [1e5, 1e6]\ntokens: [1e7]\ntraining:\n  micro_batches: 2\n"
      "  batch_rule:\n    critical_batch: [{params: 1e5, batch: 8}, {params: 1e6, batch: 32}]\n");
  auto trials = PlanSweep(spec, "b-1");
  ASSERT_TRUE(trials.ok()) << trials.status();
  ASSERT_EQ(trials->size(), 2u);
  EXPECT_LT((*trials)[0].training().batch_size(), (*trials)[1].training().batch_size());
  for (const v1::TrialSpec& trial : *trials) {
    EXPECT_EQ(trial.training().batch_size(), BatchSizeFor(spec.training(), trial.params()));
    EXPECT_FALSE(trial.training().has_batch_rule());
  }
  EXPECT_FALSE(Spec("name: c\nmodels: [1e5]\ntokens: [1e7]\n").training().has_batch_rule());
}

TEST(PlannerTest, SamePlanTwice) {
  const v1::SweepSpec spec = Spec("name: g\nmodels: [1e5]\ntokens: [1e6]\n");
  auto a = PlanGrid(spec, "x");
  auto b = PlanGrid(spec, "x");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)[0].SerializeAsString(), (*b)[0].SerializeAsString());
}

TEST(PlannerTest, RejectsBudgetBelowOneStep) {
  const v1::SweepSpec spec = Spec("name: g\nmodels: [1e5]\ntokens: [100]\n");
  auto trials = PlanGrid(spec, "x");
  ASSERT_FALSE(trials.ok());
  EXPECT_THAT(std::string(trials.status().message()), ::testing::HasSubstr("tokens[0]"));
}

TEST(PlannerTest, TokensPerParamMultipliesEachSizesCount) {
  const v1::SweepSpec spec =
      Spec("name: g\nmodels: [1e5, 4e5]\ntokens: [1e6]\ntokens_per_param: [20]\n");
  auto trials = PlanSweep(spec, "x");
  ASSERT_TRUE(trials.ok()) << trials.status();
  ASSERT_EQ(trials->size(), 4u);
  EXPECT_EQ((*trials)[0].tokens(), 1000000u);
  EXPECT_EQ((*trials)[1].tokens(), 20 * (*trials)[1].params());
  EXPECT_EQ((*trials)[3].tokens(), 20 * (*trials)[3].params());
}

TEST(PlannerTest, IsoflopTrialsSpendTheirBudgetWithinOnePercent) {
  const v1::SweepSpec spec = Spec(
      "name: iso\nisoflop: {budgets: [1e13, 1e14], sizes_per_budget: 5, min_params: 5e4, "
      "max_params: 2e6}\n");
  auto trials = PlanSweep(spec, "x");
  ASSERT_TRUE(trials.ok()) << trials.status();
  std::map<double, int> per_budget;
  for (const v1::TrialSpec& t : *trials) {
    ++per_budget[t.budget()];
    EXPECT_NEAR(t.flops() / t.budget(), 1.0, 0.01) << t.ShortDebugString();
    EXPECT_EQ(t.tokens() % (32 * 128), 0u);  // whole steps
  }
  EXPECT_EQ(per_budget.size(), 2u);
  EXPECT_EQ(per_budget[1e13], 5);
  EXPECT_EQ(per_budget[1e14], 5);
  // Within a budget, larger models get fewer tokens.
  EXPECT_LT((*trials)[0].params(), (*trials)[4].params());
  EXPECT_GT((*trials)[0].tokens(), (*trials)[4].tokens());
}

TEST(PlannerTest, IsoflopRejectsABudgetBelowOneStep) {
  const v1::SweepSpec spec = Spec(
      "name: iso\nisoflop: {budgets: [1e9], sizes_per_budget: 3, min_params: 5e4, "
      "max_params: 2e6}\n");
  auto trials = PlanSweep(spec, "x");
  ASSERT_FALSE(trials.ok());
  EXPECT_THAT(std::string(trials.status().message()), ::testing::HasSubstr("isoflop.budgets[0]"));
}

TEST(PlannerTest, WsdIsOneStableRunPerSizePlusOneBranchPerBudget) {
  const v1::SweepSpec spec = Spec(
      "name: w\nmodels: [1e5, 4e5]\ntokens: [4e6, 1e6, 2e6]\n"
      "optimizer: {schedule: wsd, cooldown_fraction: 0.2, warmup_fraction: 0.05}\n"
      "training: {batch_size: 16}\n");
  auto trials = PlanSweep(spec, "x");
  ASSERT_TRUE(trials.ok()) << trials.status();
  ASSERT_EQ(trials->size(), 8u);  // 2 sizes x (1 stable + 3 branches)
  const uint64_t per_step = 16 * 128;
  for (int row = 0; row < 2; ++row) {
    const v1::TrialSpec& stable = (*trials)[row * 4];
    EXPECT_EQ(stable.wsd().role(), v1::TRIAL_ROLE_WSD_STABLE);
    ASSERT_EQ(stable.wsd().branch_tokens_size(), 3);
    // Budgets ascend; the stable run ends where the longest branch leaves it.
    EXPECT_EQ(stable.tokens(), stable.wsd().branch_tokens(2));
    for (int b = 0; b < 3; ++b) {
      const v1::TrialSpec& branch = (*trials)[row * 4 + 1 + b];
      EXPECT_EQ(branch.wsd().role(), v1::TRIAL_ROLE_WSD_COOLDOWN);
      EXPECT_EQ(branch.wsd().stable_trial_id(), stable.trial_id());
      EXPECT_EQ(branch.wsd().decay_start_tokens(), stable.wsd().branch_tokens(b));
      EXPECT_EQ(branch.wsd().warmup_tokens(), stable.wsd().warmup_tokens());
      EXPECT_EQ(branch.params(), stable.params());
      // The cooldown is round(0.2 S) of the branch's S steps.
      const uint64_t steps = (branch.tokens() + per_step - 1) / per_step;
      const uint64_t start = branch.wsd().decay_start_tokens() / per_step;
      EXPECT_EQ(steps - start, static_cast<uint64_t>(std::llround(0.2 * steps)));
      EXPECT_EQ(branch.wsd().decay_start_tokens() % per_step, 0u);
      // A branch costs only its cooldown.
      EXPECT_NEAR(TrialCost(branch) / branch.flops(),
                  1.0 - static_cast<double>(start * per_step) / branch.tokens(), 1e-12);
    }
    EXPECT_EQ((*trials)[row * 4 + 1].tokens(), 1000000u);
    EXPECT_EQ((*trials)[row * 4 + 3].tokens(), 4000000u);
  }
}

TEST(PlannerTest, WsdRejectsAWarmupLongerThanTheFirstStablePhase) {
  const v1::SweepSpec spec = Spec(
      "name: w\nmodels: [1e5]\ntokens: [1e6, 4e6]\n"
      "optimizer: {schedule: wsd, cooldown_fraction: 0.5, warmup_fraction: 0.6}\n");
  auto trials = PlanSweep(spec, "x");
  ASSERT_FALSE(trials.ok());
  EXPECT_THAT(std::string(trials.status().message()),
              ::testing::HasSubstr("optimizer.warmup_fraction"));
}

// A plan past limits::kMaxTrialsPerSweep is refused from the lists' sizes,
// before any trial is built; one at the limit is planned.
TEST(PlannerTest, RefusesMoreTrialsThanOneSweepMayHave) {
  v1::SweepSpec grid = Spec("name: g\nmodels: [1e5]\ntokens: [1e6]\nseeds: [0]\n");
  grid.clear_seeds();
  for (uint64_t seed = 0; seed < 100'000; ++seed) grid.add_seeds(seed);
  auto at_limit = PlanSweep(grid, "x");
  ASSERT_TRUE(at_limit.ok()) << at_limit.status();
  EXPECT_EQ(at_limit->size(), 100'000u);
  grid.add_tokens(2e6);
  auto over = PlanSweep(grid, "x");
  ASSERT_TRUE(absl::IsInvalidArgument(over.status())) << over.status();
  EXPECT_THAT(std::string(over.status().message()),
              ::testing::HasSubstr(
                  "seeds: the sweep would plan 200000 trials, more than the 100000"));

  v1::SweepSpec iso = Spec(
      "name: iso\nisoflop: {budgets: [1e13], sizes_per_budget: 100, min_params: 5e4, "
      "max_params: 2e6}\n");
  iso.clear_seeds();
  for (uint64_t seed = 0; seed < 1001; ++seed) iso.add_seeds(seed);
  auto iso_over = PlanSweep(iso, "x");
  EXPECT_THAT(std::string(iso_over.status().message()),
              ::testing::HasSubstr("isoflop.budgets x isoflop.sizes_per_budget x seeds"));

  v1::SweepSpec wsd = Spec(
      "name: w\nmodels: [1e5]\ntokens: [1e6]\noptimizer: {schedule: wsd}\nseeds: [0]\n");
  wsd.clear_seeds();
  for (uint64_t seed = 0; seed < 50'001; ++seed) wsd.add_seeds(seed);  // 2 trials per seed
  EXPECT_TRUE(absl::IsInvalidArgument(PlanSweep(wsd, "x").status()));
}

}  // namespace
}  // namespace scalelaw::sweeps
