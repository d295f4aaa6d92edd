#include "coordinator/metrics.h"

#include <string>

#include "coordinator/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace scalelaw::coordinator {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::TrialSpec Spec(const std::string& sweep, const std::string& trial) {
  v1::TrialSpec spec;
  spec.set_sweep_id(sweep);
  spec.set_trial_id(trial);
  spec.set_target_params(1e5);
  spec.set_tokens(1000);
  spec.set_flops(6e8);
  return spec;
}

v1::Trial TrialIn(const v1::TrialSpec& spec, v1::TrialState state, uint32_t attempt) {
  v1::Trial trial;
  *trial.mutable_spec() = spec;
  trial.set_state(state);
  trial.set_attempt(attempt);
  return trial;
}

class CoordinatorMetricsTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  CoordinatorMetrics metrics_{&clock_, MetricsOptions{.retention = std::chrono::minutes(5),
                                                      .worker_timeout = std::chrono::seconds(30),
                                                      .version = "9.9.9"}};
};

TEST_F(CoordinatorMetricsTest, CountsStatesRetriesAndDivergences) {
  const v1::TrialSpec a = Spec("s-1", "s-1-t0"), b = Spec("s-1", "s-1-t1");
  metrics_.OnSweepSubmitted("s-1", {a, b});
  metrics_.OnTrialWritten(TrialIn(a, v1::TRIAL_STATE_LEASED, 1), v1::TRIAL_STATE_PENDING);
  metrics_.OnLeaseExpired(TrialIn(a, v1::TRIAL_STATE_PENDING, 1));
  metrics_.OnTrialWritten(TrialIn(a, v1::TRIAL_STATE_PENDING, 1), v1::TRIAL_STATE_LEASED);
  metrics_.OnTrialWritten(TrialIn(a, v1::TRIAL_STATE_LEASED, 2), v1::TRIAL_STATE_PENDING);
  metrics_.OnTrialWritten(TrialIn(a, v1::TRIAL_STATE_DIVERGED, 2), v1::TRIAL_STATE_LEASED);
  const std::string text = metrics_.Scrape();
  EXPECT_THAT(text, HasSubstr("scalelaw_build_info{version=\"9.9.9\"} 1"));
  EXPECT_THAT(text, HasSubstr("scalelaw_sweep_trials{state=\"diverged\",sweep=\"s-1\"} 1"));
  EXPECT_THAT(text, HasSubstr("scalelaw_sweep_trials{state=\"pending\",sweep=\"s-1\"} 1"));
  EXPECT_THAT(text, HasSubstr("scalelaw_lease_expirations_total{sweep=\"s-1\"} 1"));
  EXPECT_THAT(text, HasSubstr("scalelaw_trial_retries_total{sweep=\"s-1\"} 1"));
  EXPECT_THAT(text, HasSubstr("scalelaw_trial_divergences_total{sweep=\"s-1\"} 1"));
  EXPECT_THAT(text,
              HasSubstr("scalelaw_trial_attempt{size=\"1e+05\",sweep=\"s-1\",trial=\"s-1-t0\"} 2"));
}

TEST_F(CoordinatorMetricsTest, APointCountsOnlyForTheLiveAttempt) {
  const v1::TrialSpec a = Spec("s-1", "s-1-t0");
  metrics_.OnSweepSubmitted("s-1", {a});
  v1::MetricPoint point;
  point.set_trial_id("s-1-t0");
  point.set_attempt(2);
  point.set_train_loss(3.5);
  metrics_.OnTrialWritten(TrialIn(a, v1::TRIAL_STATE_LEASED, 1), v1::TRIAL_STATE_PENDING);
  metrics_.OnMetricStored(point);  // not the live attempt's
  EXPECT_THAT(metrics_.Scrape(), Not(HasSubstr("scalelaw_trial_train_loss{")));
  point.set_attempt(1);
  metrics_.OnMetricStored(point);
  EXPECT_THAT(metrics_.Scrape(), HasSubstr("scalelaw_trial_train_loss{size=\"1e+05\",sweep="
                                           "\"s-1\",trial=\"s-1-t0\"} 3.5"));
  // Reported after its attempt ended: the ending's figures stand.
  metrics_.OnTrialWritten(TrialIn(a, v1::TRIAL_STATE_FAILED, 1), v1::TRIAL_STATE_RUNNING);
  point.set_train_loss(9.0);
  metrics_.OnMetricStored(point);
  EXPECT_THAT(metrics_.Scrape(), HasSubstr("scalelaw_trial_train_loss{size=\"1e+05\",sweep="
                                           "\"s-1\",trial=\"s-1-t0\"} 3.5"));
}

TEST_F(CoordinatorMetricsTest, FinishedSweepSeriesGoAfterRetention) {
  const v1::TrialSpec a = Spec("s-1", "s-1-t0");
  metrics_.OnSweepSubmitted("s-1", {a});
  metrics_.OnTrialWritten(TrialIn(a, v1::TRIAL_STATE_LEASED, 1), v1::TRIAL_STATE_PENDING);
  v1::MetricPoint point;
  point.set_trial_id("s-1-t0");
  point.set_attempt(1);
  point.set_tokens(500);
  point.set_train_loss(3.5);
  point.set_tokens_per_second(100);
  metrics_.OnMetricStored(point);
  EXPECT_THAT(metrics_.Scrape(), HasSubstr("scalelaw_trial_flops_per_second{size=\"1e+05\",sweep="
                                           "\"s-1\",trial=\"s-1-t0\"} 60000000"));
  metrics_.OnTrialWritten(TrialIn(a, v1::TRIAL_STATE_SUCCEEDED, 1), v1::TRIAL_STATE_RUNNING);
  clock_.Advance(std::chrono::minutes(4));
  EXPECT_THAT(metrics_.Scrape(), HasSubstr("sweep=\"s-1\""));
  // A fit of the finished sweep restarts its retention.
  v1::FitResult fit;
  fit.set_law("chinchilla");
  (*fit.mutable_params())["alpha"] = 0.3;
  (*fit.mutable_params())["beta"] = 0.3;
  for (int i = 0; i < 20; ++i) fit.add_optimal()->set_compute(1e18 * (i + 1));
  metrics_.OnFit("s-1", fit);
  const std::string with_fit = metrics_.Scrape();
  EXPECT_THAT(with_fit, HasSubstr("scalelaw_fit_optimal_exponent{law=\"chinchilla\",quantity="
                                  "\"params\",sweep=\"s-1\"} 0.5"));
  EXPECT_THAT(with_fit, HasSubstr("budget=\"8e+18\""));
  EXPECT_THAT(with_fit, Not(HasSubstr("budget=\"9e+18\"")));  // kMaxFitBudgets
  clock_.Advance(std::chrono::minutes(4));
  EXPECT_THAT(metrics_.Scrape(), HasSubstr("sweep=\"s-1\""));
  clock_.Advance(std::chrono::minutes(2));
  EXPECT_THAT(metrics_.Scrape(), Not(HasSubstr("sweep=\"s-1\"")));
}

TEST_F(CoordinatorMetricsTest, FitOfAnUntrackedSweepHasOnlyFitSeriesAndExpires) {
  v1::FitResult fit;
  fit.set_law("power");
  (*fit.mutable_params())["alpha"] = 0.05;
  fit.set_n_points(7);
  metrics_.OnFit("old-1", fit);
  std::string text = metrics_.Scrape();
  EXPECT_THAT(text, HasSubstr("scalelaw_fit_points{law=\"power\",sweep=\"old-1\"} 7"));
  EXPECT_THAT(text, Not(HasSubstr("scalelaw_sweep_trials{")));
  EXPECT_THAT(text, Not(HasSubstr("quantity=")));  // no Chinchilla exponents for a power law
  clock_.Advance(std::chrono::minutes(6));
  EXPECT_THAT(metrics_.Scrape(), Not(HasSubstr("old-1")));
}

TEST_F(CoordinatorMetricsTest, WorkersDropOutAfterTimeout) {
  metrics_.OnWorkerContact("w-1");
  clock_.Advance(std::chrono::seconds(12));
  metrics_.OnWorkerContact("w-2");
  std::string text = metrics_.Scrape();
  EXPECT_THAT(text, HasSubstr("scalelaw_workers_connected 2"));
  EXPECT_THAT(text, HasSubstr("scalelaw_worker_heartbeat_age_seconds{worker=\"w-1\"} 12"));
  clock_.Advance(std::chrono::seconds(20));
  text = metrics_.Scrape();
  EXPECT_THAT(text, HasSubstr("scalelaw_workers_connected 1"));
  EXPECT_THAT(text, Not(HasSubstr("worker=\"w-1\"")));
}

}  // namespace
}  // namespace scalelaw::coordinator
