#include "worker/lr_schedule.h"

#include <gtest/gtest.h>

namespace scalelaw::worker {
namespace {

TEST(LrScheduleTest, WarmupStepsAreTheWarmupFractionRoundedUp) {
  EXPECT_EQ(MakeLrSchedule(1e-3, 0.1, 0.1, 100).warmup_steps, 10u);
  EXPECT_EQ(MakeLrSchedule(1e-3, 0.1, 0.1, 91).warmup_steps, 10u);  // ceil(9.1)
  EXPECT_EQ(MakeLrSchedule(1e-3, 0.1, 0.0, 91).warmup_steps, 0u);
}

TEST(LrScheduleTest, WarmupThenCosineToTheFloorAtTheLastStep) {
  // 91 steps, warmup 10, cosine over steps 10..90 (80 steps).
  const LrSchedule s = MakeLrSchedule(/*peak_lr=*/1e-3, /*min_lr_ratio=*/0.1,
                                      /*warmup_fraction=*/0.1, /*total_steps=*/91);
  EXPECT_DOUBLE_EQ(GetLr(0, s), 1e-4);                  // peak * 1 / 10
  EXPECT_DOUBLE_EQ(GetLr(4, s), 5e-4);                  // peak * 5 / 10
  EXPECT_DOUBLE_EQ(GetLr(9, s), 1e-3);                  // end of warmup: peak
  EXPECT_DOUBLE_EQ(GetLr(10, s), 1e-3);                 // cosine starts at the peak
  EXPECT_NEAR(GetLr(50, s), 1e-4 + 0.5 * 9e-4, 1e-15);  // half way: mean of peak and floor
  EXPECT_NEAR(GetLr(90, s), 1e-4, 1e-15);               // last step: the floor
  EXPECT_NEAR(GetLr(500, s), 1e-4, 1e-15);
}

TEST(LrScheduleTest, DecreasesMonotonicallyAfterWarmup) {
  const LrSchedule s = MakeLrSchedule(3e-3, 0.0, 0.05, 400);
  for (uint64_t step = s.warmup_steps; step + 1 < 400; ++step) {
    EXPECT_GE(GetLr(step, s), GetLr(step + 1, s)) << step;
  }
  EXPECT_NEAR(GetLr(399, s), 0.0, 1e-18);
}

TEST(LrScheduleTest, OneStepRunsAtTheFloor) {
  const LrSchedule s = MakeLrSchedule(1e-3, 0.1, 0.1, 1);
  EXPECT_EQ(s.warmup_steps, 0u);
  EXPECT_DOUBLE_EQ(GetLr(0, s), 1e-4);
}

TEST(LrScheduleTest, LinearDecaysInAStraightLineToTheFloor) {
  const LrSchedule s = MakeLrSchedule(1e-3, 0.1, 0.1, 91, LrShape::kLinear);
  EXPECT_DOUBLE_EQ(GetLr(9, s), 1e-3);
  EXPECT_DOUBLE_EQ(GetLr(10, s), 1e-3);
  EXPECT_NEAR(GetLr(30, s), 1e-3 - 0.25 * 9e-4, 1e-15);  // a quarter of the way
  EXPECT_NEAR(GetLr(50, s), 1e-4 + 0.5 * 9e-4, 1e-15);
  EXPECT_NEAR(GetLr(90, s), 1e-4, 1e-15);
}

v1::TrialSpec WsdTrial(uint64_t tokens, v1::TrialRole role, uint64_t warmup_tokens,
                       uint64_t decay_start_tokens) {
  v1::TrialSpec spec;
  spec.set_tokens(tokens);
  spec.mutable_optimizer()->set_lr(1e-3);
  spec.mutable_optimizer()->set_min_lr_ratio(0.0);
  spec.mutable_optimizer()->set_warmup_fraction(0.05);
  spec.mutable_optimizer()->set_cooldown_fraction(0.2);
  spec.mutable_optimizer()->set_schedule("wsd");
  spec.mutable_wsd()->set_role(role);
  spec.mutable_wsd()->set_warmup_tokens(warmup_tokens);
  spec.mutable_wsd()->set_decay_start_tokens(decay_start_tokens);
  return spec;
}

TEST(LrScheduleTest, WsdStableRunHoldsThePeakAfterWarmup) {
  // 10 tokens a step: 80 steps, warmup 5.
  auto s = ScheduleOfTrial(WsdTrial(800, v1::TRIAL_ROLE_WSD_STABLE, 50, 0), 10);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->warmup_steps, 5u);
  EXPECT_DOUBLE_EQ(GetLr(0, *s), 2e-4);
  for (uint64_t step = 5; step < 80; ++step) EXPECT_DOUBLE_EQ(GetLr(step, *s), 1e-3) << step;
}

TEST(LrScheduleTest, WsdCooldownFollowsTheStableRunThenDecays) {
  // The branch of 100 steps leaves the stable run at step 80.
  auto stable = ScheduleOfTrial(WsdTrial(800, v1::TRIAL_ROLE_WSD_STABLE, 50, 0), 10);
  auto branch = ScheduleOfTrial(WsdTrial(1000, v1::TRIAL_ROLE_WSD_COOLDOWN, 50, 800), 10);
  ASSERT_TRUE(stable.ok() && branch.ok());
  for (uint64_t step = 0; step < 80; ++step) {
    EXPECT_DOUBLE_EQ(GetLr(step, *branch), GetLr(step, *stable)) << step;
  }
  EXPECT_DOUBLE_EQ(GetLr(80, *branch), 1e-3);  // the cooldown starts at the peak
  for (uint64_t step = 80; step + 1 < 100; ++step) {
    EXPECT_GT(GetLr(step, *branch), GetLr(step + 1, *branch)) << step;
  }
  EXPECT_NEAR(GetLr(99, *branch), 0.0, 1e-18);  // and ends at the floor on its last step
}

TEST(LrScheduleTest, WsdAloneCoolsDownOverItsLastCooldownFraction) {
  auto s = ScheduleOfTrial(WsdTrial(1000, v1::TRIAL_ROLE_UNSPECIFIED, 0, 0), 10);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->warmup_steps, 5u);         // ceil(0.05 x 100)
  EXPECT_EQ(s->decay_start_step, 80u);    // 100 - round(0.2 x 100)
  EXPECT_DOUBLE_EQ(GetLr(79, *s), 1e-3);
  EXPECT_LT(GetLr(81, *s), 1e-3);
}

// A forecast target of a WSD ladder: one whole run that warms up as the
// ladder's rows did, then follows the same trajectory as a stable run plus
// the cooldown branch of its length.
TEST(LrScheduleTest, WsdWholeRunWithTheLaddersWarmupMatchesABranch) {
  auto whole = ScheduleOfTrial(WsdTrial(1000, v1::TRIAL_ROLE_UNSPECIFIED, 30, 0), 10);
  auto branch = ScheduleOfTrial(WsdTrial(1000, v1::TRIAL_ROLE_WSD_COOLDOWN, 30, 800), 10);
  ASSERT_TRUE(whole.ok() && branch.ok());
  EXPECT_EQ(whole->warmup_steps, 3u);  // the ladder's 30 tokens, not 5% of 100 steps
  for (uint64_t step = 0; step < 100; ++step) {
    EXPECT_DOUBLE_EQ(GetLr(step, *whole), GetLr(step, *branch)) << step;
  }
}

TEST(LrScheduleTest, UnknownScheduleIsAnError) {
  v1::TrialSpec spec = WsdTrial(1000, v1::TRIAL_ROLE_UNSPECIFIED, 0, 0);
  spec.mutable_optimizer()->set_schedule("step");
  EXPECT_FALSE(ScheduleOfTrial(spec, 10).ok());
}

}  // namespace
}  // namespace scalelaw::worker
