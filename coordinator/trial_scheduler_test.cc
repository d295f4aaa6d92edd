#include "coordinator/trial_scheduler.h"

#include <cmath>
#include <limits>
#include <map>
#include <utility>

#include "coordinator/lease_token.h"
#include "coordinator/test_util.h"
#include "sweeps/spec_defaults.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace scalelaw::coordinator {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

class TrialSchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(dir_.File("coordinator.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    SchedulerOptions options;
    options.lease_timeout = 10s;
    options.retry_after = 250ms;
    scheduler_ = std::make_unique<TrialScheduler>(store_.get(), &clock_, options);
  }

  std::string Submit(uint32_t max_attempts = 2) {
    v1::SubmitSweepRequest request;
    *request.mutable_spec() = testing::SmallSweepSpec(max_attempts);
    auto response = scheduler_->SubmitSweep(request);
    EXPECT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->n_trials(), 2u);
    return response->sweep_id();
  }

  std::string Register() {
    v1::RegisterWorkerRequest request;
    request.set_hostname("localhost");
    auto id = scheduler_->RegisterWorker(request);
    EXPECT_TRUE(id.ok()) << id.status();
    return *id;
  }

  v1::LeaseTrialResponse Lease(const std::string& worker, const std::string& sweep = "") {
    v1::LeaseTrialRequest request;
    request.set_worker_id(worker);
    request.set_sweep_id(sweep);
    auto response = scheduler_->LeaseTrial(request);
    EXPECT_TRUE(response.ok()) << response.status();
    if (response.ok() && response->granted()) {
      EXPECT_EQ(response->lease_token().size(), 32u);
      tokens_[{response->trial().trial_id(), response->attempt()}] = response->lease_token();
    }
    return response.ok() ? *response : v1::LeaseTrialResponse();
  }

  // The lease token a Lease() got for (trial, attempt); empty if none.
  std::string Token(const std::string& trial_id, uint32_t attempt) {
    auto it = tokens_.find({trial_id, attempt});
    return it == tokens_.end() ? "" : it->second;
  }

  v1::HeartbeatResponse Beat(const std::string& worker, const v1::LeaseTrialResponse& lease,
                             uint64_t tokens = 0) {
    v1::HeartbeatRequest request;
    request.set_worker_id(worker);
    request.set_trial_id(lease.trial().trial_id());
    request.set_attempt(lease.attempt());
    request.set_tokens_done(tokens);
    request.set_lease_token(lease.lease_token());
    auto response = scheduler_->Heartbeat(request);
    EXPECT_TRUE(response.ok()) << response.status();
    return *response;
  }

  absl::StatusOr<bool> Complete(const std::string& worker, const std::string& trial_id,
                                uint32_t attempt, double loss = 3.0, bool diverged = false) {
    v1::CompleteTrialRequest request;
    request.set_worker_id(worker);
    request.set_trial_id(trial_id);
    request.set_attempt(attempt);
    request.mutable_result()->set_final_val_loss(loss);
    request.mutable_result()->set_tokens(1'000'000);
    request.mutable_result()->set_diverged(diverged);
    if (diverged) request.mutable_result()->set_divergence_reason("loss is nan");
    request.set_lease_token(Token(trial_id, attempt));
    return scheduler_->CompleteTrial(request);
  }

  absl::StatusOr<v1::LeaseTrialResponse> Lease_(const std::string& worker) {
    v1::LeaseTrialRequest request;
    request.set_worker_id(worker);
    return scheduler_->LeaseTrial(request);
  }

  v1::Trial TrialOf(const std::string& trial_id) { return *store_->GetTrial(trial_id); }

  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<TrialScheduler> scheduler_;
  std::map<std::pair<std::string, uint32_t>, std::string> tokens_;
};

TEST_F(TrialSchedulerTest, LeaseHeartbeatCompleteAndNoMoreWork) {
  const std::string sweep = Submit();
  EXPECT_EQ(sweep, "unit-sweep-1");
  const std::string worker = Register();

  v1::LeaseTrialResponse lease = Lease(worker, sweep);
  ASSERT_TRUE(lease.granted());
  EXPECT_EQ(lease.trial().trial_id(), sweep + "-t000");
  EXPECT_EQ(lease.attempt(), 1u);
  EXPECT_EQ(lease.lease_deadline_ms(), clock_.NowMs() + 10'000);
  EXPECT_EQ(TrialOf(lease.trial().trial_id()).state(), v1::TRIAL_STATE_LEASED);

  clock_.Advance(4s);
  v1::HeartbeatResponse beat = Beat(worker, lease, 4096);
  EXPECT_TRUE(beat.keep_going());
  EXPECT_EQ(beat.lease_deadline_ms(), clock_.NowMs() + 10'000);
  v1::Trial running = TrialOf(lease.trial().trial_id());
  EXPECT_EQ(running.state(), v1::TRIAL_STATE_RUNNING);
  EXPECT_EQ(running.tokens_done(), 4096u);

  ASSERT_TRUE(*Complete(worker, lease.trial().trial_id(), 1, 2.75));
  v1::Trial done = TrialOf(lease.trial().trial_id());
  EXPECT_EQ(done.state(), v1::TRIAL_STATE_SUCCEEDED);
  EXPECT_DOUBLE_EQ(done.result().final_val_loss(), 2.75);
  // A resent completion is accepted again and changes nothing.
  EXPECT_TRUE(*Complete(worker, lease.trial().trial_id(), 1, 9.0));
  EXPECT_DOUBLE_EQ(TrialOf(lease.trial().trial_id()).result().final_val_loss(), 2.75);

  v1::LeaseTrialResponse second = Lease(worker, sweep);
  ASSERT_TRUE(second.granted());
  EXPECT_EQ(second.trial().trial_id(), sweep + "-t001");
  v1::LeaseTrialResponse none = Lease(Register(), sweep);
  EXPECT_FALSE(none.granted());
  EXPECT_FALSE(none.no_more_work()) << "t001 is still leased";
  EXPECT_EQ(none.retry_after_ms(), 250u);

  ASSERT_TRUE(*Complete(worker, second.trial().trial_id(), 1, 0, /*diverged=*/true));
  v1::Trial diverged = TrialOf(second.trial().trial_id());
  EXPECT_EQ(diverged.state(), v1::TRIAL_STATE_DIVERGED);
  EXPECT_EQ(diverged.reason(), "loss is nan");
  v1::LeaseTrialResponse idle = Lease(worker, sweep);
  EXPECT_FALSE(idle.granted());
  EXPECT_TRUE(idle.no_more_work());
  EXPECT_TRUE(Lease(worker).no_more_work());
}

TEST_F(TrialSchedulerTest, LeaseAgainReturnsTheHeldTrial) {
  Submit();
  const std::string worker = Register();
  v1::LeaseTrialResponse first = Lease(worker);
  clock_.Advance(1s);
  v1::LeaseTrialResponse again = Lease(worker);
  ASSERT_TRUE(again.granted());
  EXPECT_EQ(again.trial().trial_id(), first.trial().trial_id());
  EXPECT_EQ(again.attempt(), first.attempt());
  EXPECT_GT(again.lease_deadline_ms(), first.lease_deadline_ms());
}

TEST_F(TrialSchedulerTest, HeartbeatsKeepTheLeaseAlive) {
  Submit();
  const std::string worker = Register();
  v1::LeaseTrialResponse lease = Lease(worker);
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(8s);
    ASSERT_TRUE(Beat(worker, lease).keep_going());
    EXPECT_EQ(*scheduler_->ExpireLeases(), 0);
  }
  EXPECT_EQ(TrialOf(lease.trial().trial_id()).state(), v1::TRIAL_STATE_RUNNING);
}

TEST_F(TrialSchedulerTest, ExpiredLeaseIsRequeuedWithTheNextAttempt) {
  Submit(/*max_attempts=*/3);
  const std::string w1 = Register();
  const std::string w2 = Register();
  v1::LeaseTrialResponse lease = Lease(w1);
  const std::string trial_id = lease.trial().trial_id();

  clock_.Advance(10s);
  EXPECT_EQ(*scheduler_->ExpireLeases(), 0) << "at the deadline the lease still holds";
  clock_.Advance(1ms);
  EXPECT_EQ(*scheduler_->ExpireLeases(), 1);
  v1::Trial requeued = TrialOf(trial_id);
  EXPECT_EQ(requeued.state(), v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(requeued.attempt(), 1u);
  EXPECT_THAT(requeued.reason(), HasSubstr("expired"));

  v1::LeaseTrialResponse retry = Lease(w2);
  ASSERT_TRUE(retry.granted());
  EXPECT_EQ(retry.trial().trial_id(), trial_id);
  EXPECT_EQ(retry.attempt(), 2u);

  // The first holder comes back: everything it says is stale and changes nothing.
  EXPECT_FALSE(Beat(w1, lease).keep_going());
  EXPECT_FALSE(*Complete(w1, trial_id, 1));
  v1::FailTrialRequest fail;
  fail.set_worker_id(w1);
  fail.set_trial_id(trial_id);
  fail.set_attempt(1);
  fail.set_lease_token(Token(fail.trial_id(), fail.attempt()));
  EXPECT_FALSE(*scheduler_->FailTrial(fail));
  v1::MetricPoint stale_point;
  stale_point.set_trial_id(trial_id);
  stale_point.set_attempt(1);
  stale_point.set_lease_token(Token(stale_point.trial_id(), stale_point.attempt()));
  EXPECT_TRUE(absl::IsFailedPrecondition(scheduler_->RecordMetric(stale_point).status()));
  v1::Trial now = TrialOf(trial_id);
  EXPECT_EQ(now.state(), v1::TRIAL_STATE_LEASED);
  EXPECT_EQ(now.worker_id(), w2);
  EXPECT_EQ(now.attempt(), 2u);

  ASSERT_TRUE(*Complete(w2, trial_id, 2));
  auto attempts = *store_->ListAttempts(trial_id);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].outcome, "lease_expired");
  EXPECT_EQ(attempts[0].worker_id, w1);
  EXPECT_EQ(attempts[1].outcome, "succeeded");
}

TEST_F(TrialSchedulerTest, MaxAttemptsOfExpiredLeasesFailsTheTrial) {
  Submit(/*max_attempts=*/2);
  const std::string worker = Register();
  std::string trial_id;
  for (uint32_t attempt = 1; attempt <= 2; ++attempt) {
    v1::LeaseTrialResponse lease = Lease(worker);
    ASSERT_TRUE(lease.granted());
    EXPECT_EQ(lease.attempt(), attempt);
    trial_id = lease.trial().trial_id();
    clock_.Advance(11s);
    EXPECT_EQ(*scheduler_->ExpireLeases(), 1);
  }
  v1::Trial failed = TrialOf(trial_id);
  EXPECT_EQ(failed.state(), v1::TRIAL_STATE_FAILED);
  EXPECT_THAT(failed.reason(), HasSubstr("lease expired 2 times"));
  // The next lease goes to the other trial.
  v1::LeaseTrialResponse next = Lease(worker);
  ASSERT_TRUE(next.granted());
  EXPECT_NE(next.trial().trial_id(), trial_id);
  EXPECT_EQ(next.attempt(), 1u);
}

TEST_F(TrialSchedulerTest, FailTrialRetriesThenFails) {
  Submit(/*max_attempts=*/2);
  const std::string worker = Register();
  v1::LeaseTrialResponse lease = Lease(worker);
  v1::FailTrialRequest fail;
  fail.set_worker_id(worker);
  fail.set_trial_id(lease.trial().trial_id());
  fail.set_attempt(1);
  fail.set_lease_token(Token(fail.trial_id(), fail.attempt()));
  fail.set_reason("out of memory");
  fail.set_retriable(true);
  ASSERT_TRUE(*scheduler_->FailTrial(fail));
  EXPECT_EQ(TrialOf(lease.trial().trial_id()).state(), v1::TRIAL_STATE_PENDING);

  v1::LeaseTrialResponse retry = Lease(worker);
  ASSERT_EQ(retry.trial().trial_id(), lease.trial().trial_id());
  ASSERT_EQ(retry.attempt(), 2u);
  fail.set_attempt(2);
  fail.set_lease_token(Token(fail.trial_id(), fail.attempt()));
  ASSERT_TRUE(*scheduler_->FailTrial(fail));
  v1::Trial failed = TrialOf(lease.trial().trial_id());
  EXPECT_EQ(failed.state(), v1::TRIAL_STATE_FAILED);
  EXPECT_THAT(failed.reason(), HasSubstr("out of memory"));
}

// A trial given back preempted (its worker was stopped after checkpointing)
// is requeued however often, without using up max_attempts.
TEST_F(TrialSchedulerTest, PreemptionsDoNotCountAgainstMaxAttempts) {
  Submit(/*max_attempts=*/1);
  const std::string worker = Register();
  std::string trial_id;
  for (uint32_t attempt = 1; attempt <= 3; ++attempt) {
    v1::LeaseTrialResponse lease = Lease(worker);
    ASSERT_TRUE(lease.granted());
    if (trial_id.empty()) trial_id = lease.trial().trial_id();
    ASSERT_EQ(lease.trial().trial_id(), trial_id);
    ASSERT_EQ(lease.attempt(), attempt);
    v1::FailTrialRequest fail;
    fail.set_worker_id(worker);
    fail.set_trial_id(trial_id);
    fail.set_attempt(attempt);
    fail.set_lease_token(Token(fail.trial_id(), fail.attempt()));
    fail.set_reason("preempted: worker stopped by SIGTERM");
    fail.set_retriable(true);
    fail.set_preempted(true);
    ASSERT_TRUE(*scheduler_->FailTrial(fail));
    EXPECT_EQ(TrialOf(trial_id).state(), v1::TRIAL_STATE_PENDING) << attempt;
  }
  auto attempts = store_->ListAttempts(trial_id);
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ(attempts->size(), 3u);
  EXPECT_EQ(attempts->front().outcome, "preempted");
  // The one attempt max_attempts allows is still there, and it ends the trial.
  v1::LeaseTrialResponse last = Lease(worker);
  ASSERT_EQ(last.trial().trial_id(), trial_id);
  ASSERT_TRUE(*Complete(worker, trial_id, last.attempt()));
  EXPECT_EQ(TrialOf(trial_id).state(), v1::TRIAL_STATE_SUCCEEDED);
}

TEST_F(TrialSchedulerTest, NonRetriableFailureFailsAtOnce) {
  Submit(/*max_attempts=*/5);
  const std::string worker = Register();
  v1::LeaseTrialResponse lease = Lease(worker);
  v1::FailTrialRequest fail;
  fail.set_worker_id(worker);
  fail.set_trial_id(lease.trial().trial_id());
  fail.set_attempt(1);
  fail.set_lease_token(Token(fail.trial_id(), fail.attempt()));
  fail.set_reason("corpus missing");
  ASSERT_TRUE(*scheduler_->FailTrial(fail));
  EXPECT_EQ(TrialOf(lease.trial().trial_id()).state(), v1::TRIAL_STATE_FAILED);
}

TEST_F(TrialSchedulerTest, CancelEndsTrialsAndStopsHolders) {
  const std::string sweep = Submit();
  const std::string worker = Register();
  v1::LeaseTrialResponse lease = Lease(worker);
  EXPECT_EQ(*scheduler_->CancelSweep(sweep), 2u);
  EXPECT_EQ(*scheduler_->CancelSweep(sweep), 0u) << "cancelling twice changes nothing";
  EXPECT_FALSE(Beat(worker, lease).keep_going());
  EXPECT_FALSE(*Complete(worker, lease.trial().trial_id(), 1));
  std::vector<v1::Trial> trials = *store_->ListTrials(sweep);
  for (const v1::Trial& trial : trials) {
    EXPECT_EQ(trial.state(), v1::TRIAL_STATE_CANCELLED);
    EXPECT_EQ(trial.reason(), "sweep cancelled");
  }
  v1::LeaseTrialResponse after = Lease(Register(), sweep);
  EXPECT_FALSE(after.granted());
  EXPECT_TRUE(after.no_more_work());
  EXPECT_EQ(*scheduler_->ExpireLeases(), 0);
}

TEST_F(TrialSchedulerTest, MetricsMoveToRunningAndDuplicatesAreIgnored) {
  Submit();
  const std::string worker = Register();
  v1::LeaseTrialResponse lease = Lease(worker);
  v1::MetricPoint point;
  point.set_trial_id(lease.trial().trial_id());
  point.set_attempt(1);
  point.set_lease_token(Token(point.trial_id(), point.attempt()));
  point.set_seq(0);
  point.set_tokens(1000);
  point.set_train_loss(5.0);
  EXPECT_EQ(*scheduler_->RecordMetric(point), MetricWrite::kStored);
  EXPECT_EQ(*scheduler_->RecordMetric(point), MetricWrite::kDuplicate);
  point.set_seq(1);
  point.set_tokens(2000);
  point.set_val_loss(4.5);
  EXPECT_EQ(*scheduler_->RecordMetric(point), MetricWrite::kStored);
  v1::Trial trial = TrialOf(lease.trial().trial_id());
  EXPECT_EQ(trial.state(), v1::TRIAL_STATE_RUNNING);
  EXPECT_EQ(trial.tokens_done(), 2000u);
  EXPECT_DOUBLE_EQ(trial.latest_train_loss(), 5.0);
  EXPECT_DOUBLE_EQ(trial.latest_val_loss(), 4.5);
  EXPECT_EQ(store_->ListMetrics(lease.trial().trial_id(), 1)->size(), 2u);
}

TEST_F(TrialSchedulerTest, BadInputIsAnErrorNotACrash) {
  const std::string sweep = Submit();
  EXPECT_TRUE(absl::IsInvalidArgument(Lease_("").status()));
  EXPECT_TRUE(absl::IsNotFound(Lease_("w-404").status()));
  v1::LeaseTrialRequest unknown_sweep;
  unknown_sweep.set_worker_id(Register());
  unknown_sweep.set_sweep_id("nope-9");
  EXPECT_TRUE(absl::IsNotFound(scheduler_->LeaseTrial(unknown_sweep).status()));
  v1::HeartbeatRequest beat;
  beat.set_worker_id("w-1");
  EXPECT_TRUE(absl::IsInvalidArgument(scheduler_->Heartbeat(beat).status()));
  beat.set_trial_id("nope");
  EXPECT_TRUE(absl::IsNotFound(scheduler_->Heartbeat(beat).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(scheduler_->CancelSweep("").status()));
  EXPECT_TRUE(absl::IsNotFound(scheduler_->CancelSweep("nope").status()));
  auto nan_result = Complete("w-1", sweep + "-t000", 1, std::numeric_limits<double>::quiet_NaN());
  EXPECT_TRUE(absl::IsInvalidArgument(nan_result.status()));
  v1::MetricPoint zero_attempt;
  zero_attempt.set_trial_id(sweep + "-t000");
  EXPECT_TRUE(absl::IsInvalidArgument(scheduler_->RecordMetric(zero_attempt).status()));
}

TEST_F(TrialSchedulerTest, InvalidSpecNamesTheField) {
  v1::SubmitSweepRequest request;
  *request.mutable_spec() = testing::SmallSweepSpec();
  request.mutable_spec()->mutable_models(1)->set_target_params(-5);
  auto response = scheduler_->SubmitSweep(request);
  ASSERT_TRUE(absl::IsInvalidArgument(response.status())) << response.status();
  EXPECT_THAT(std::string(response.status().message()), HasSubstr("models[1].target_params"));
  EXPECT_EQ(*store_->CountSweeps(), 0);
}

// A WSD sweep of one size and two budgets: t000 stable, t001 and t002 branches.
std::string SubmitWsd(TrialScheduler& scheduler) {
  v1::SweepSpec spec = sweeps::DefaultSweepSpec();
  spec.set_name("wsd");
  spec.add_models()->set_target_params(1e5);
  spec.add_tokens(1e6);
  spec.add_tokens(2e6);
  spec.add_seeds(0);
  spec.set_max_attempts(1);
  spec.mutable_optimizer()->set_schedule("wsd");
  v1::SubmitSweepRequest request;
  *request.mutable_spec() = spec;
  auto response = scheduler.SubmitSweep(request);
  EXPECT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->n_trials(), 3u);
  return response->sweep_id();
}

TEST_F(TrialSchedulerTest, CooldownBranchesWaitForTheirStableRun) {
  const std::string sweep = SubmitWsd(*scheduler_);
  const std::string a = Register(), b = Register();
  const v1::LeaseTrialResponse stable = Lease(a);
  ASSERT_TRUE(stable.granted());
  EXPECT_EQ(stable.trial().wsd().role(), v1::TRIAL_ROLE_WSD_STABLE);
  // The branches are PENDING but not leasable while the stable run trains.
  const v1::LeaseTrialResponse none = Lease(b);
  EXPECT_FALSE(none.granted());
  EXPECT_FALSE(none.no_more_work());
  ASSERT_TRUE(*Complete(a, stable.trial().trial_id(), stable.attempt()));
  const v1::LeaseTrialResponse first = Lease(b);
  ASSERT_TRUE(first.granted());
  EXPECT_EQ(first.trial().wsd().role(), v1::TRIAL_ROLE_WSD_COOLDOWN);
  EXPECT_EQ(first.trial().wsd().stable_trial_id(), stable.trial().trial_id());
  const v1::LeaseTrialResponse second = Lease(a);
  ASSERT_TRUE(second.granted());
  EXPECT_NE(second.trial().trial_id(), first.trial().trial_id());
}

TEST_F(TrialSchedulerTest, BranchesOfAFailedStableRunFailWithIt) {
  const std::string sweep = SubmitWsd(*scheduler_);
  const std::string a = Register();
  const v1::LeaseTrialResponse stable = Lease(a);
  ASSERT_TRUE(stable.granted());
  ASSERT_TRUE(*Complete(a, stable.trial().trial_id(), stable.attempt(), 9.0, /*diverged=*/true));
  for (const char* branch : {"-t001", "-t002"}) {
    const v1::Trial trial = TrialOf(sweep + branch);
    EXPECT_EQ(trial.state(), v1::TRIAL_STATE_FAILED);
    EXPECT_THAT(trial.reason(), HasSubstr("stable run " + sweep + "-t000 ended"));
  }
  const v1::LeaseTrialResponse after = Lease(a);
  EXPECT_FALSE(after.granted());
  EXPECT_TRUE(after.no_more_work());  // nothing is left waiting forever
}

// `sweep resume`: FAILED and CANCELLED trials go back to PENDING with a fresh
// max_attempts; attempt numbers go on, so the old attempt stays stale.
TEST_F(TrialSchedulerTest, ResumeRequeuesFailedAndCancelledTrials) {
  const std::string sweep = Submit(/*max_attempts=*/1);
  const std::string worker = Register();
  const v1::LeaseTrialResponse first = Lease(worker);
  const std::string failed_id = first.trial().trial_id();
  v1::FailTrialRequest fail;
  fail.set_worker_id(worker);
  fail.set_trial_id(failed_id);
  fail.set_attempt(1);
  fail.set_lease_token(Token(fail.trial_id(), fail.attempt()));
  fail.set_reason("out of memory");
  fail.set_retriable(true);
  ASSERT_TRUE(*scheduler_->FailTrial(fail));
  ASSERT_EQ(TrialOf(failed_id).state(), v1::TRIAL_STATE_FAILED);  // its one attempt used
  const v1::LeaseTrialResponse second = Lease(worker);
  ASSERT_TRUE(second.granted());
  ASSERT_EQ(*scheduler_->CancelSweep(sweep), 1u);  // the other trial, while running

  auto resumed = scheduler_->ResumeSweep(sweep);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->requeued, 2u);
  EXPECT_TRUE(resumed->needs_workers);  // nothing was running: start workers again
  const std::vector<v1::Trial> requeued = *store_->ListTrials(sweep);
  for (const v1::Trial& trial : requeued) {
    EXPECT_EQ(trial.state(), v1::TRIAL_STATE_PENDING);
    EXPECT_THAT(trial.reason(), HasSubstr("resumed after attempt 1"));
    EXPECT_EQ(trial.resumed_after_attempt(), 1u);
  }
  const SweepRecord record = *store_->GetSweep(sweep);
  EXPECT_FALSE(record.cancelled);
  // The cancelled attempt's worker is still told to stop, and its points no
  // longer change the trial.
  EXPECT_FALSE(Beat(worker, second).keep_going());
  v1::MetricPoint stale;
  stale.set_trial_id(second.trial().trial_id());
  stale.set_attempt(second.attempt());
  stale.set_lease_token(Token(stale.trial_id(), stale.attempt()));
  stale.set_seq(1);
  stale.set_tokens(999);
  EXPECT_TRUE(absl::IsFailedPrecondition(scheduler_->RecordMetric(stale).status()));
  EXPECT_EQ(TrialOf(second.trial().trial_id()).tokens_done(), 0u);
  EXPECT_FALSE(*Complete(worker, second.trial().trial_id(), second.attempt()));

  // A fresh max_attempts (1): the failed trial gets one more attempt.
  const v1::LeaseTrialResponse again = Lease(worker, sweep);
  ASSERT_EQ(again.trial().trial_id(), failed_id);
  EXPECT_EQ(again.attempt(), 2u);
  fail.set_attempt(2);
  fail.set_lease_token(Token(fail.trial_id(), fail.attempt()));
  ASSERT_TRUE(*scheduler_->FailTrial(fail));
  EXPECT_EQ(TrialOf(failed_id).state(), v1::TRIAL_STATE_FAILED);
  const v1::LeaseTrialResponse other = Lease(worker, sweep);
  ASSERT_EQ(other.trial().trial_id(), second.trial().trial_id());
  ASSERT_TRUE(*Complete(worker, other.trial().trial_id(), other.attempt()));
  EXPECT_EQ(TrialOf(other.trial().trial_id()).state(), v1::TRIAL_STATE_SUCCEEDED);

  // Resuming again requeues only what has not succeeded; a running sweep is
  // not idle.
  const v1::LeaseTrialResponse busy = [&] {
    auto again_resumed = scheduler_->ResumeSweep(sweep);
    EXPECT_EQ(again_resumed->requeued, 1u);
    return Lease(worker, sweep);
  }();
  ASSERT_TRUE(busy.granted());
  EXPECT_EQ(busy.attempt(), 3u);
  auto while_running = scheduler_->ResumeSweep(sweep);
  EXPECT_EQ(while_running->requeued, 0u);
  EXPECT_FALSE(while_running->needs_workers);
  EXPECT_TRUE(absl::IsNotFound(scheduler_->ResumeSweep("no-such-sweep").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(scheduler_->ResumeSweep("").status()));
}

// The fresh max_attempts outlives the next lease: with max_attempts 2, a
// resumed trial that fails once is requeued, not failed.
TEST_F(TrialSchedulerTest, ResumedTrialGetsAllItsAttemptsBack) {
  const std::string sweep = Submit(/*max_attempts=*/2);
  const std::string worker = Register();
  std::string trial_id;
  auto fail_once = [&](uint32_t attempt) {
    v1::FailTrialRequest fail;
    fail.set_worker_id(worker);
    fail.set_trial_id(trial_id);
    fail.set_attempt(attempt);
    fail.set_lease_token(Token(fail.trial_id(), fail.attempt()));
    fail.set_reason("out of memory");
    fail.set_retriable(true);
    ASSERT_TRUE(*scheduler_->FailTrial(fail));
  };
  for (uint32_t attempt = 1; attempt <= 2; ++attempt) {
    const v1::LeaseTrialResponse lease = Lease(worker, sweep);
    trial_id = lease.trial().trial_id();
    ASSERT_EQ(lease.attempt(), attempt);
    fail_once(attempt);
  }
  ASSERT_EQ(TrialOf(trial_id).state(), v1::TRIAL_STATE_FAILED);
  EXPECT_THAT(TrialOf(trial_id).reason(), HasSubstr("(2 of 2 attempts used)"));
  ASSERT_EQ(scheduler_->ResumeSweep(sweep)->requeued, 1u);
  const v1::LeaseTrialResponse third = Lease(worker, sweep);
  ASSERT_EQ(third.trial().trial_id(), trial_id);
  ASSERT_EQ(third.attempt(), 3u);
  EXPECT_EQ(TrialOf(trial_id).resumed_after_attempt(), 2u);  // kept through the lease
  fail_once(3);
  EXPECT_EQ(TrialOf(trial_id).state(), v1::TRIAL_STATE_PENDING);
  const v1::LeaseTrialResponse fourth = Lease(worker, sweep);
  ASSERT_EQ(fourth.attempt(), 4u);
  fail_once(4);
  EXPECT_EQ(TrialOf(trial_id).state(), v1::TRIAL_STATE_FAILED);
  EXPECT_THAT(TrialOf(trial_id).reason(), HasSubstr("(2 of 2 attempts used)"));
}

// Preemptions do not use up max_attempts, but a trial preempted more than
// 100 times fails all the same.
TEST_F(TrialSchedulerTest, EndlessPreemptionFailsTheTrial) {
  Submit(/*max_attempts=*/1);
  const std::string worker = Register();
  std::string trial_id;
  uint32_t preemptions = 0;
  while (preemptions < 200) {
    const v1::LeaseTrialResponse lease = Lease(worker);
    ASSERT_TRUE(lease.granted());
    if (trial_id.empty()) trial_id = lease.trial().trial_id();
    ASSERT_EQ(lease.trial().trial_id(), trial_id);
    v1::FailTrialRequest fail;
    fail.set_worker_id(worker);
    fail.set_trial_id(trial_id);
    fail.set_attempt(lease.attempt());
    fail.set_lease_token(Token(fail.trial_id(), fail.attempt()));
    fail.set_reason("preempted: worker stopped by SIGTERM");
    fail.set_retriable(true);
    fail.set_preempted(true);
    ASSERT_TRUE(*scheduler_->FailTrial(fail));
    ++preemptions;
    if (TrialOf(trial_id).state() == v1::TRIAL_STATE_FAILED) break;
  }
  EXPECT_EQ(preemptions, 101u);
  EXPECT_THAT(TrialOf(trial_id).reason(), HasSubstr("preempted 101 times"));
}

// DIVERGED is a result: resume leaves it, and the branches of a diverged WSD
// stable run, which have nothing to start from.
TEST_F(TrialSchedulerTest, ResumeLeavesDivergedRunsAndTheirBranches) {
  const std::string sweep = SubmitWsd(*scheduler_);
  const std::string a = Register();
  const v1::LeaseTrialResponse stable = Lease(a);
  ASSERT_TRUE(*Complete(a, stable.trial().trial_id(), stable.attempt(), 9.0, /*diverged=*/true));
  auto resumed = scheduler_->ResumeSweep(sweep);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->requeued, 0u);
  EXPECT_EQ(TrialOf(stable.trial().trial_id()).state(), v1::TRIAL_STATE_DIVERGED);
  EXPECT_EQ(TrialOf(sweep + "-t001").state(), v1::TRIAL_STATE_FAILED);
  EXPECT_TRUE(Lease(a).no_more_work());
}

TEST_F(TrialSchedulerTest, RenewLiveLeasesAfterRestart) {
  Submit();
  const std::string worker = Register();
  v1::LeaseTrialResponse lease = Lease(worker);
  clock_.Advance(9s);
  // A new scheduler over the same store, as after a coordinator restart.
  TrialScheduler restarted(store_.get(), &clock_, scheduler_->options());
  ASSERT_TRUE(restarted.RenewLiveLeases().ok());
  clock_.Advance(5s);
  EXPECT_EQ(*restarted.ExpireLeases(), 0);
  v1::HeartbeatRequest beat;
  beat.set_worker_id(worker);
  beat.set_trial_id(lease.trial().trial_id());
  beat.set_attempt(1);
  beat.set_lease_token(Token(beat.trial_id(), beat.attempt()));
  EXPECT_TRUE(restarted.Heartbeat(beat)->keep_going());
  clock_.Advance(11s);
  EXPECT_EQ(*restarted.ExpireLeases(), 1);
}

// Each attempt gets its own unguessable token; every call about the attempt
// must carry it, and one without it (or with another attempt's) changes
// nothing, even from the holder's worker id.
TEST_F(TrialSchedulerTest, LeaseTokensAreIssuedPerAttemptAndChecked) {
  Submit();
  const std::string a = Register(), b = Register();
  EXPECT_NE(a, "w-1");
  EXPECT_EQ(a.substr(0, 4), "w-1.");  // public part, then the secret
  EXPECT_EQ(a.size(), 4 + 2 * kWorkerSecretBytes);
  const v1::LeaseTrialResponse first = Lease(a), second = Lease(b);
  ASSERT_TRUE(first.granted() && second.granted());
  EXPECT_NE(first.lease_token(), second.lease_token());
  EXPECT_EQ(Lease(a).lease_token(), first.lease_token()) << "a held lease keeps its token";
  const std::string trial_id = first.trial().trial_id();

  for (const std::string& token : {std::string(), second.lease_token(), std::string(32, '0')}) {
    SCOPED_TRACE(token.empty() ? "missing" : token);
    v1::HeartbeatRequest beat;
    beat.set_worker_id(a);
    beat.set_trial_id(trial_id);
    beat.set_attempt(1);
    beat.set_tokens_done(777);
    beat.set_lease_token(token);
    auto beaten = scheduler_->Heartbeat(beat);
    EXPECT_TRUE(absl::IsPermissionDenied(beaten.status())) << beaten.status();
    EXPECT_THAT(std::string(beaten.status().message()), HasSubstr("lease_token"));
    EXPECT_THAT(std::string(beaten.status().message()),
                ::testing::Not(HasSubstr(first.lease_token())));

    v1::MetricPoint point;
    point.set_trial_id(trial_id);
    point.set_attempt(1);
    point.set_tokens(555);
    point.set_lease_token(token);
    EXPECT_TRUE(absl::IsPermissionDenied(scheduler_->RecordMetric(point).status()));

    v1::CompleteTrialRequest complete;
    complete.set_worker_id(a);
    complete.set_trial_id(trial_id);
    complete.set_attempt(1);
    complete.mutable_result()->set_final_val_loss(-5);
    complete.mutable_result()->set_params(123);
    complete.set_lease_token(token);
    EXPECT_TRUE(absl::IsPermissionDenied(scheduler_->CompleteTrial(complete).status()));

    v1::FailTrialRequest fail;
    fail.set_worker_id(a);
    fail.set_trial_id(trial_id);
    fail.set_attempt(1);
    fail.set_lease_token(token);
    EXPECT_TRUE(absl::IsPermissionDenied(scheduler_->FailTrial(fail).status()));
  }
  const v1::Trial untouched = TrialOf(trial_id);
  EXPECT_EQ(untouched.state(), v1::TRIAL_STATE_LEASED);
  EXPECT_EQ(untouched.tokens_done(), 0u);
  EXPECT_TRUE(store_->ListMetrics(trial_id, 1)->empty());
  EXPECT_EQ(store_->ListAttempts(trial_id)->front().outcome, "");

  // With its token the holder gets through.
  EXPECT_TRUE(Beat(a, first, 100).keep_going());
  EXPECT_TRUE(*Complete(a, trial_id, 1));
}

// A point is stored only while its attempt holds the live lease: not after
// the trial ended, even with the attempt's own token.
TEST_F(TrialSchedulerTest, PointsOfAnEndedTrialAreRefused) {
  Submit();
  const std::string worker = Register();
  const v1::LeaseTrialResponse lease = Lease(worker);
  v1::MetricPoint point;
  point.set_trial_id(lease.trial().trial_id());
  point.set_attempt(1);
  point.set_seq(0);
  point.set_train_loss(4.0);
  point.set_lease_token(lease.lease_token());
  ASSERT_EQ(*scheduler_->RecordMetric(point), MetricWrite::kStored);
  ASSERT_TRUE(*Complete(worker, lease.trial().trial_id(), 1, 3.0));
  point.set_seq(1);
  point.set_train_loss(-5.0);
  auto late = scheduler_->RecordMetric(point);
  EXPECT_TRUE(absl::IsFailedPrecondition(late.status())) << late.status();
  EXPECT_EQ(store_->ListMetrics(lease.trial().trial_id(), 1)->size(), 1u);
  EXPECT_DOUBLE_EQ(TrialOf(lease.trial().trial_id()).latest_train_loss(), 4.0);
}

// A NaN loss is a divergence the store can hold: NaN points are stored, and
// a diverged completion with NaN losses ends the trial DIVERGED (not FAILED
// after max_attempts retries, as when the NaN could not be written).
TEST_F(TrialSchedulerTest, NanLossesEndTheTrialDiverged) {
  Submit();
  const std::string worker = Register();
  const v1::LeaseTrialResponse lease = Lease(worker);
  const std::string trial_id = lease.trial().trial_id();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  v1::MetricPoint point;
  point.set_trial_id(trial_id);
  point.set_attempt(1);
  point.set_lease_token(lease.lease_token());
  point.set_seq(0);
  point.set_train_loss(nan);
  point.set_val_loss(std::numeric_limits<double>::infinity());
  auto stored = scheduler_->RecordMetric(point);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_TRUE(std::isnan(TrialOf(trial_id).latest_train_loss()));

  v1::CompleteTrialRequest complete;
  complete.set_worker_id(worker);
  complete.set_trial_id(trial_id);
  complete.set_attempt(1);
  complete.set_lease_token(lease.lease_token());
  complete.mutable_result()->set_final_train_loss(nan);
  complete.mutable_result()->set_final_val_loss(nan);
  // Not diverged, a non-finite loss names its field.
  auto refused = scheduler_->CompleteTrial(complete);
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("result.final_val_loss"));
  complete.mutable_result()->set_final_val_loss(3.0);
  refused = scheduler_->CompleteTrial(complete);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("result.final_train_loss"));

  complete.mutable_result()->set_final_val_loss(nan);
  complete.mutable_result()->set_diverged(true);
  complete.mutable_result()->set_divergence_reason("loss is nan at step 12");
  auto accepted = scheduler_->CompleteTrial(complete);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_TRUE(*accepted);
  const v1::Trial diverged = TrialOf(trial_id);
  EXPECT_EQ(diverged.state(), v1::TRIAL_STATE_DIVERGED);
  EXPECT_EQ(diverged.reason(), "loss is nan at step 12");
  EXPECT_TRUE(std::isnan(diverged.latest_train_loss()));
  EXPECT_TRUE(std::isnan(diverged.result().final_train_loss()));
  EXPECT_EQ(store_->ListAttempts(trial_id)->front().outcome, "diverged");
  EXPECT_EQ(store_->ListMetrics(trial_id, 1)->size(), 1u);
  EXPECT_TRUE(*scheduler_->CompleteTrial(complete)) << "a resend is accepted again";
}

}  // namespace
}  // namespace scalelaw::coordinator
