#include "sweeps/planner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "sweeps/accounting.h"
#include "sweeps/spec_parser.h"

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

}  // namespace
}  // namespace scalelaw::sweeps
