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

}  // namespace
}  // namespace scalelaw::worker
