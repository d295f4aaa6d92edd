// The coordinator's /metrics endpoint end to end: a real CoordinatorServer
// with its exporter on 127.0.0.1, a sweep driven over real gRPC (DemoSweep),
// and real HTTP scrapes parsed as Prometheus text format.
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "coordinator/coordinator_server.h"
#include "coordinator/test_util.h"
#include "coordinator/trial_scheduler.h"
#include "gtest/gtest.h"
#include "sweeps/spec_defaults.h"
#include "tests/monitoring/demo_sweep.h"
#include "tests/monitoring/scrape.h"

namespace scalelaw::monitoring_testing {
namespace {

using coordinator::CoordinatorOptions;
using coordinator::CoordinatorServer;
using coordinator::testing::TempDir;

// Series allowed per trial (every per-trial family once) and outside trials
// for the 200-trial plan: per-sweep (7 states + 2 token gauges + 3 counters),
// build info, workers, the store histogram (13 buckets + +Inf + sum + count)
// and whatever gRPC families exist.
constexpr size_t kSeriesPerTrial = 10;
constexpr size_t kSeriesOutsideTrials = 300;

// Long enough that the heartbeats of DemoSweep's running trial (every 200 ms)
// keep its lease on a loaded machine, short enough that its abandoned lease
// expires soon.
constexpr auto kLeaseTimeout = std::chrono::milliseconds(3000);

std::unique_ptr<CoordinatorServer> StartServer(const TempDir& dir,
                                               std::chrono::milliseconds retention,
                                               std::chrono::milliseconds lease_timeout) {
  CoordinatorOptions options;
  options.db_path = dir.File("coordinator.db");
  options.metrics_listen_address = "127.0.0.1:0";
  options.metrics_retention = retention;
  options.lease_timeout = lease_timeout;
  options.heartbeat_interval = lease_timeout / 5;
  options.expiry_scan_interval = std::chrono::milliseconds(100);
  auto server = CoordinatorServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

Exposition Scrape(int port) {
  auto response = HttpGet(port, "/metrics");
  EXPECT_TRUE(response.ok()) << response.status();
  if (!response.ok()) return {};
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->content_type, "text/plain; version=0.0.4; charset=utf-8");
  auto parsed = ParseExposition(response->body);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : Exposition{};
}

// The value of the one sample that matches; NaN (and a test failure) when
// none or several do.
double V(const Exposition& m, const std::string& name,
         const std::map<std::string, std::string>& labels = {}) {
  std::optional<double> value = m.Value(name, labels);
  if (!value) {
    ADD_FAILURE() << "no single sample " << name << " with the given labels";
    return std::nan("");
  }
  return *value;
}

TEST(MonitoringExporterTest, ScrapesASweepDrivenOverGrpc) {
  TempDir dir;
  auto server = StartServer(dir, std::chrono::minutes(10), kLeaseTimeout);
  ASSERT_NE(server, nullptr);
  ASSERT_GT(server->metrics_port(), 0);
  DemoSweepDriver driver(server->address());
  auto demo = driver.Run();
  ASSERT_TRUE(demo.ok()) << demo.status();
  const Exposition m = Scrape(server->metrics_port());
  const std::string& sweep = demo->sweep_id;

  // Naming: one prefix, counters end in _total, a build_info.
  ASSERT_FALSE(m.samples.empty());
  for (const Sample& sample : m.samples) EXPECT_EQ(sample.name.rfind("scalelaw_", 0), 0u);
  for (const auto& [family, type] : m.types) {
    if (type == "counter") {
      EXPECT_TRUE(family.ends_with("_total")) << family;
    }
  }
  EXPECT_EQ(m.Value("scalelaw_build_info", {{"version", "0.1.0"}}), 1);

  // Trials by state.
  EXPECT_EQ(m.Value("scalelaw_sweep_trials", {{"sweep", sweep}, {"state", "succeeded"}}), 10);
  EXPECT_EQ(m.Value("scalelaw_sweep_trials", {{"sweep", sweep}, {"state", "running"}}), 1);
  EXPECT_EQ(m.Value("scalelaw_sweep_trials", {{"sweep", sweep}, {"state", "diverged"}}), 1);
  EXPECT_EQ(m.Value("scalelaw_sweep_trials", {{"sweep", sweep}, {"state", "pending"}}), 0);
  EXPECT_EQ(m.Value("scalelaw_sweep_trials", {{"sweep", sweep}, {"state", "failed"}}), 0);
  EXPECT_EQ(m.Find("scalelaw_sweep_trials", {{"sweep", sweep}}).size(), 7u);
  EXPECT_GT(V(m, "scalelaw_sweep_tokens_planned", {{"sweep", sweep}}),
            V(m, "scalelaw_sweep_tokens_done", {{"sweep", sweep}}));
  // Compute: what the trials will cost, and what the tokens done so far cost.
  EXPECT_GT(V(m, "scalelaw_sweep_flops_planned", {{"sweep", sweep}}),
            V(m, "scalelaw_sweep_flops_done", {{"sweep", sweep}}));
  EXPECT_GT(V(m, "scalelaw_sweep_flops_done", {{"sweep", sweep}}), 0);

  // Counters: one expired lease, two retries (after it and after the failed
  // attempt), one divergence.
  EXPECT_EQ(m.Value("scalelaw_lease_expirations_total", {{"sweep", sweep}}), 1);
  EXPECT_EQ(m.Value("scalelaw_trial_retries_total", {{"sweep", sweep}}), 2);
  EXPECT_EQ(m.Value("scalelaw_trial_divergences_total", {{"sweep", sweep}}), 1);

  // Per-trial series carry sweep, trial and size, nothing else.
  const auto val_loss =
      m.Find("scalelaw_trial_val_loss", {{"sweep", sweep}, {"trial", demo->succeeded_trial}});
  ASSERT_EQ(val_loss.size(), 1u);
  EXPECT_NEAR(val_loss[0].value, demo->succeeded_val_loss, 1e-9);
  EXPECT_EQ(val_loss[0].labels.size(), 3u);
  EXPECT_TRUE(val_loss[0].labels.count("size"));
  const std::map<std::string, std::string> running{{"sweep", sweep},
                                                   {"trial", demo->running_trial}};
  EXPECT_EQ(m.Value("scalelaw_trial_attempt", running), 2);
  EXPECT_EQ(m.Value("scalelaw_trial_tokens_per_second", running), 20600);
  EXPECT_GT(V(m, "scalelaw_trial_flops_per_second", running), 20600 * 6e4);
  EXPECT_EQ(m.Value("scalelaw_trial_gradient_noise_scale", running), 10);
  EXPECT_GT(V(m, "scalelaw_trial_learning_rate", running), 0);
  EXPECT_GT(V(m, "scalelaw_trial_train_loss", running), 0);
  EXPECT_GT(V(m, "scalelaw_trial_tokens", running), 0);
  EXPECT_GT(V(m, "scalelaw_trial_flops", running), 0);

  // Workers: the runner heartbeats; the vanished worker has dropped out.
  EXPECT_GE(V(m, "scalelaw_workers_connected"), 1);
  EXPECT_LE(V(m, "scalelaw_workers_connected"), 2);
  const auto ages = m.Find("scalelaw_worker_heartbeat_age_seconds");
  ASSERT_FALSE(ages.empty());
  for (const Sample& age : ages) EXPECT_LE(age.value, 3.0);  // kLeaseTimeout

  // gRPC by method and code, with latency histograms; store commits.
  EXPECT_EQ(m.Value("scalelaw_grpc_server_handled_total",
                    {{"method", "GetSweep"}, {"code", "NOT_FOUND"}}),
            1);
  EXPECT_EQ(
      m.Value("scalelaw_grpc_server_handled_total", {{"method", "SubmitSweep"}, {"code", "OK"}}),
      1);
  EXPECT_GE(V(m, "scalelaw_grpc_server_handled_total", {{"method", "LeaseTrial"}, {"code", "OK"}}),
            13);
  EXPECT_GE(V(m, "scalelaw_grpc_server_handling_seconds_count", {{"method", "StreamMetrics"}}), 12);
  EXPECT_EQ(m.Find("scalelaw_grpc_server_handling_seconds_bucket", {{"method", "GetFit"}}).size(),
            16u);
  EXPECT_GT(V(m, "scalelaw_store_write_duration_seconds_count"), 50);

  // Fits: Chinchilla exponents and the optimum at each requested budget.
  const std::map<std::string, std::string> chinchilla{{"sweep", sweep}, {"law", "chinchilla"}};
  auto with = [](std::map<std::string, std::string> labels, const std::string& key,
                 const std::string& value) {
    labels[key] = value;
    return labels;
  };
  const double alpha = V(m, "scalelaw_fit_parameter", with(chinchilla, "parameter", "alpha"));
  const double beta = V(m, "scalelaw_fit_parameter", with(chinchilla, "parameter", "beta"));
  EXPECT_NEAR(alpha, 0.34, 0.1);
  EXPECT_NEAR(beta, 0.28, 0.1);
  EXPECT_NEAR(V(m, "scalelaw_fit_optimal_exponent", with(chinchilla, "quantity", "params")),
              beta / (alpha + beta), 1e-9);
  EXPECT_EQ(m.Value("scalelaw_fit_points", chinchilla), 10);
  for (const char* budget : {"1e+17", "1e+18", "1e+19"}) {
    EXPECT_GT(V(m, "scalelaw_fit_optimal_loss", with(chinchilla, "budget", budget)), 1.69);
    EXPECT_GT(V(m, "scalelaw_fit_optimal_params", with(chinchilla, "budget", budget)), 0);
  }
  EXPECT_EQ(m.Find("scalelaw_fit_optimal_loss", {{"sweep", sweep}, {"law", "power"}}).size(), 3u);

  // Other paths are not metrics.
  auto missing = HttpGet(server->metrics_port(), "/");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
}

// A forecast sweep (DemoForecast): every scalelaw_forecast_* series carries
// the stored forecast and the target's outcome.
TEST(MonitoringExporterTest, ScrapesAForecastBesideItsOutcome) {
  TempDir dir;
  auto server = StartServer(dir, std::chrono::minutes(10), kLeaseTimeout);
  ASSERT_NE(server, nullptr);
  DemoSweepDriver driver(server->address());
  auto demo = driver.RunForecast();
  ASSERT_TRUE(demo.ok()) << demo.status();
  EXPECT_EQ(demo->n_ladder, 9);
  const Exposition m = Scrape(server->metrics_port());
  const std::map<std::string, std::string> labels{{"sweep", demo->sweep_id},
                                                  {"target", demo->target}};
  const v1::Forecast& forecast = demo->forecast;
  const double predicted = V(m, "scalelaw_forecast_predicted_loss", labels);
  const double lower = V(m, "scalelaw_forecast_interval_lower_loss", labels);
  const double upper = V(m, "scalelaw_forecast_interval_upper_loss", labels);
  const double actual = V(m, "scalelaw_forecast_actual_loss", labels);
  EXPECT_DOUBLE_EQ(predicted, forecast.predicted_loss());
  EXPECT_DOUBLE_EQ(lower, forecast.prediction_interval().lo());
  EXPECT_DOUBLE_EQ(upper, forecast.prediction_interval().hi());
  EXPECT_LT(lower, predicted);
  EXPECT_LT(predicted, upper);
  EXPECT_DOUBLE_EQ(actual, demo->actual_loss);
  EXPECT_DOUBLE_EQ(V(m, "scalelaw_forecast_relative_error", labels), (predicted - actual) / actual);
  EXPECT_EQ(V(m, "scalelaw_forecast_inside_interval", labels),
            actual >= lower && actual <= upper ? 1 : 0);
  // A ladder of Hoffmann et al.'s law with <1% scatter forecasts the target
  // within a few percent.
  EXPECT_NEAR(predicted, actual, 0.05 * actual);
}

// A 200-trial plan: per-trial series stay within kSeriesPerTrial each, and
// every series of the sweep is gone once it has been finished for the
// retention; a sweep still running keeps its series.
TEST(MonitoringExporterTest, TwoHundredTrialsStayBoundedAndExpireAfterRetention) {
  TempDir dir;
  constexpr auto kRetention = std::chrono::milliseconds(3000);
  auto server = StartServer(dir, kRetention, std::chrono::seconds(60));
  ASSERT_NE(server, nullptr);
  coordinator::TrialScheduler& scheduler = server->scheduler();

  v1::SubmitSweepRequest big;
  *big.mutable_spec() = sweeps::DefaultSweepSpec();
  big.mutable_spec()->set_name("cardinality");
  for (int i = 0; i < 10; ++i) big.mutable_spec()->add_models()->set_target_params(1e5 * (i + 1));
  for (int i = 0; i < 10; ++i) big.mutable_spec()->add_tokens(1e6 * (i + 1));
  big.mutable_spec()->add_seeds(1);
  big.mutable_spec()->add_seeds(2);
  auto submitted = scheduler.SubmitSweep(big);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  ASSERT_EQ(submitted->n_trials(), 200u);
  const std::string sweep = submitted->sweep_id();

  v1::SubmitSweepRequest other;
  *other.mutable_spec() = coordinator::testing::SmallSweepSpec();
  auto other_sweep = scheduler.SubmitSweep(other);
  ASSERT_TRUE(other_sweep.ok()) << other_sweep.status();

  auto worker = scheduler.RegisterWorker(v1::RegisterWorkerRequest());
  ASSERT_TRUE(worker.ok());
  for (uint32_t n = 0; n < 200; ++n) {
    v1::LeaseTrialRequest lease_request;
    lease_request.set_worker_id(*worker);
    lease_request.set_sweep_id(sweep);
    auto lease = scheduler.LeaseTrial(lease_request);
    ASSERT_TRUE(lease.ok() && lease->granted()) << n;
    const v1::TrialSpec& trial = lease->trial();
    for (uint64_t seq = 1; seq <= 3; ++seq) {
      v1::MetricPoint point;
      point.set_trial_id(trial.trial_id());
      point.set_attempt(lease->attempt());
      point.set_lease_token(lease->lease_token());
      point.set_seq(seq);
      point.set_tokens(trial.tokens() * seq / 3);
      point.set_flops(trial.flops() * double(seq) / 3);
      point.set_train_loss(4.0 - 0.1 * double(seq));
      point.set_val_loss(4.1 - 0.1 * double(seq));
      point.set_lr(1e-3);
      point.set_tokens_per_second(1e4);
      point.set_noise_scale(8);
      ASSERT_TRUE(scheduler.RecordMetric(point).ok());
    }
    v1::CompleteTrialRequest complete;
    complete.set_worker_id(*worker);
    complete.set_trial_id(trial.trial_id());
    complete.set_attempt(lease->attempt());
    complete.set_lease_token(lease->lease_token());
    complete.mutable_result()->set_params(trial.params());
    complete.mutable_result()->set_tokens(trial.tokens());
    complete.mutable_result()->set_flops(trial.flops());
    complete.mutable_result()->set_final_val_loss(3.8);
    ASSERT_TRUE(scheduler.CompleteTrial(complete).ok());
  }

  const Exposition finished = Scrape(server->metrics_port());
  const size_t sweep_series = finished.CountWithLabel("sweep", sweep);
  std::set<std::string> trials;
  for (const Sample& sample : finished.samples) {
    if (sample.labels.count("trial")) trials.insert(sample.labels.at("trial"));
  }
  EXPECT_EQ(trials.size(), 200u);
  EXPECT_LE(sweep_series, 200 * kSeriesPerTrial + 12);
  EXPECT_GE(sweep_series, 200 * 8u);  // every per-trial family was set
  EXPECT_LE(finished.samples.size(), 200 * kSeriesPerTrial + kSeriesOutsideTrials);
  EXPECT_EQ(finished.Value("scalelaw_sweep_trials", {{"sweep", sweep}, {"state", "succeeded"}}),
            200);

  // The finished sweep's series go away after the retention; the other
  // sweep (still pending) keeps its own.
  std::this_thread::sleep_for(kRetention + std::chrono::milliseconds(300));
  const Exposition expired = Scrape(server->metrics_port());
  EXPECT_EQ(expired.CountWithLabel("sweep", sweep), 0u);
  EXPECT_EQ(expired.Value("scalelaw_sweep_trials",
                          {{"sweep", other_sweep->sweep_id()}, {"state", "pending"}}),
            2);
  EXPECT_LE(expired.samples.size(), kSeriesOutsideTrials);
}

TEST(MonitoringExporterTest, MetricsOffWithoutAnAddress) {
  TempDir dir;
  CoordinatorOptions options;
  options.db_path = dir.File("coordinator.db");
  auto server = CoordinatorServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->metrics_port(), 0);
  EXPECT_EQ((*server)->metrics(), nullptr);
}

// --metrics-require-token: /metrics answers 401 without the coordinator's
// token (and with a wrong one), 200 with it; /healthz stays open.
TEST(MonitoringExporterTest, MetricsCanRequireTheToken) {
  TempDir dir;
  CoordinatorOptions options;
  options.db_path = dir.File("coordinator.db");
  options.metrics_listen_address = "127.0.0.1:0";
  options.token = "s3cret-token";
  options.metrics_require_token = true;
  auto server = CoordinatorServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->metrics_port();

  for (const std::string& authorization :
       {std::string(), std::string("Bearer wrong"), std::string("Bearer s3cret-tokenX"),
        std::string("s3cret-token"), std::string("Basic czNjcmV0LXRva2Vu")}) {
    SCOPED_TRACE(authorization);
    auto refused = HttpGet(port, "/metrics", authorization);
    ASSERT_TRUE(refused.ok()) << refused.status();
    EXPECT_EQ(refused->status, 401);
    EXPECT_EQ(refused->www_authenticate, "Bearer realm=\"scalelaw\"");
    EXPECT_EQ(refused->body.find("scalelaw_"), std::string::npos);  // no series leak
  }
  auto allowed = HttpGet(port, "/metrics", "Bearer s3cret-token");
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_EQ(allowed->status, 200);
  EXPECT_NE(allowed->body.find("scalelaw_build_info"), std::string::npos);
  auto health = HttpGet(port, "/healthz");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");

  // Without the option /metrics stays open, as Prometheus' default config expects.
  TempDir open_dir;
  options.db_path = open_dir.File("coordinator.db");
  options.metrics_require_token = false;
  auto open = CoordinatorServer::Start(options);
  ASSERT_TRUE(open.ok()) << open.status();
  auto scraped = HttpGet((*open)->metrics_port(), "/metrics");
  ASSERT_TRUE(scraped.ok()) << scraped.status();
  EXPECT_EQ(scraped->status, 200);

  // Requiring a token the coordinator does not have is a configuration error.
  TempDir no_token_dir;
  options.db_path = no_token_dir.File("coordinator.db");
  options.token.clear();
  options.metrics_require_token = true;
  auto refused = CoordinatorServer::Start(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("--metrics-require-token"), std::string::npos);
}

TEST(MonitoringExporterTest, BadMetricsAddressIsRejected) {
  TempDir dir;
  CoordinatorOptions options;
  options.db_path = dir.File("coordinator.db");
  options.metrics_listen_address = "no-port-here";
  auto server = CoordinatorServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(server.status())) << server.status();
}

}  // namespace
}  // namespace scalelaw::monitoring_testing
