#include "coordinator/sweep_summary.h"

#include <gtest/gtest.h>

namespace scalelaw::coordinator {
namespace {

v1::Trial MakeTrial(uint64_t tokens, double flops, uint64_t done, v1::TrialState state) {
  v1::Trial trial;
  trial.mutable_spec()->set_tokens(tokens);
  trial.mutable_spec()->set_flops(flops);
  trial.set_tokens_done(done);
  trial.set_state(state);
  return trial;
}

TEST(SweepSummaryTest, EtaFollowsTheComputeRateSoFar) {
  SweepRecord sweep;
  sweep.sweep_id = "s-1";
  // A big trial half done and a small one not started: 5e12 of 11e12 FLOPs
  // done in 100 s, so 6e12 more take 120 s.
  const std::vector<v1::Trial> trials = {
      MakeTrial(1000, 10e12, 500, v1::TRIAL_STATE_RUNNING),
      MakeTrial(1000, 1e12, 0, v1::TRIAL_STATE_PENDING),
  };
  const v1::Sweep summary = SummarizeSweep(sweep, trials, {}, {.started_ms = 1'000'000,
                                                               .now_ms = 1'100'000});
  EXPECT_EQ(summary.state(), v1::SWEEP_STATE_RUNNING);
  EXPECT_DOUBLE_EQ(summary.flops_done(), 5e12);
  EXPECT_DOUBLE_EQ(summary.flops_total(), 11e12);
  EXPECT_NEAR(summary.eta_seconds(), 120, 1e-9);
  EXPECT_EQ(summary.tokens_done(), 500u);
  EXPECT_EQ(summary.tokens_total(), 2000u);
}

TEST(SweepSummaryTest, NoEtaBeforeWorkOrAfterTheEnd) {
  SweepRecord sweep;
  const std::vector<v1::Trial> waiting = {MakeTrial(1000, 1e12, 0, v1::TRIAL_STATE_PENDING)};
  EXPECT_EQ(SummarizeSweep(sweep, waiting, {}, {.started_ms = 0, .now_ms = 5000}).eta_seconds(),
            0);
  // A FAILED trial's unspent plan is neither done nor ahead: DONE, no ETA.
  const std::vector<v1::Trial> ended = {MakeTrial(1000, 1e12, 1000, v1::TRIAL_STATE_SUCCEEDED),
                                        MakeTrial(1000, 1e12, 300, v1::TRIAL_STATE_FAILED)};
  const v1::Sweep done = SummarizeSweep(sweep, ended, {}, {.started_ms = 1000, .now_ms = 9000});
  EXPECT_EQ(done.state(), v1::SWEEP_STATE_DONE);
  EXPECT_EQ(done.eta_seconds(), 0);
  EXPECT_DOUBLE_EQ(done.flops_done(), 1.3e12);
  EXPECT_DOUBLE_EQ(done.flops_total(), 2e12);
}

// The rate counts only compute spent: a trial that failed early must not make
// the sweep look ten times faster than it is.
TEST(SweepSummaryTest, EarlyFailuresDoNotInflateTheRate) {
  SweepRecord sweep;
  const std::vector<v1::Trial> trials = {MakeTrial(1000, 1e12, 10, v1::TRIAL_STATE_FAILED),
                                         MakeTrial(1000, 1e12, 100, v1::TRIAL_STATE_RUNNING)};
  const v1::Sweep summary =
      SummarizeSweep(sweep, trials, {}, {.started_ms = 1'000'000, .now_ms = 1'100'000});
  // 0.11e12 spent in 100 s; 0.9e12 left.
  EXPECT_NEAR(summary.eta_seconds(), 0.9e12 / (0.11e12 / 100), 1e-6);
}

TEST(SweepSummaryTest, CooldownBranchesCountOnlyTheirOwnTokens) {
  SweepRecord sweep;
  v1::Trial branch = MakeTrial(1000, 10e12, 900, v1::TRIAL_STATE_RUNNING);
  branch.mutable_spec()->mutable_wsd()->set_role(v1::TRIAL_ROLE_WSD_COOLDOWN);
  branch.mutable_spec()->mutable_wsd()->set_decay_start_tokens(800);
  // Its own work is tokens 800..1000 (2e12 FLOPs), of which half is done.
  const v1::Sweep summary = SummarizeSweep(sweep, {branch}, {}, {});
  EXPECT_DOUBLE_EQ(summary.flops_total(), 2e12);
  EXPECT_DOUBLE_EQ(summary.flops_done(), 1e12);
}

TEST(SweepSummaryTest, JobsAreListed) {
  SweepRecord sweep;
  const v1::Sweep summary =
      SummarizeSweep(sweep, {}, {SweepJob{"s", "slurm", "4711", 5}, SweepJob{"s", "slurm", "4712", 6}});
  ASSERT_EQ(summary.jobs_size(), 2);
  EXPECT_EQ(summary.jobs(0).launcher(), "slurm");
  EXPECT_EQ(summary.jobs(1).job_id(), "4712");
  EXPECT_EQ(summary.jobs(1).submitted_ms(), 6);
}

}  // namespace
}  // namespace scalelaw::coordinator
