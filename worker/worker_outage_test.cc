// The worker against a real coordinator (gRPC on 127.0.0.1, a SQLite store
// file) that goes away in the middle of a trial's metric stream: shut down,
// with its store closed, and then
//   (a) restarted on the same port and store file after an outage longer
//       than the coordinator's lease timeout (which the worker used to count
//       as a lost lease): the trial must end SUCCEEDED once, with every point
//       the trainer produced stored exactly once;
//   (b) left down past the worker's connect_timeout: the worker must not
//       complete the trial, Run returns Unavailable, and the stored points
//       are a prefix of the curve.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "coordinator/coordinator_server.h"
#include "coordinator/store.h"
#include "proto/coordinator_token.h"
#include "sweeps/spec_parser.h"
#include "worker/trainer.h"
#include "worker/worker_client.h"

namespace scalelaw::worker {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// One trial of a 1-layer, 32-wide model on 16-token contexts, batch 8: a
// point every 2 steps, so the stream is busy for the whole trial.
constexpr char kSpec[] = R"(
name: outage
context: 16
models:
  - shape: {n_layer: 1, d_model: 32, n_head: 1}
tokens: [TOKENS]
seeds: [1]
optimizer:
  lr: 1.0e-3
training:
  batch_size: 8
  micro_batches: 1
  threads: 1
  eval_points: 3
  eval_batches: 1
  log_every_steps: 2
max_attempts: 3
)";
constexpr uint64_t kTokensPerStep = 8 * 16;
constexpr uint64_t kLogEvery = 2;
// The coordinator's lease timeout. Not shorter: a coordinator shutting down
// refuses new calls (heartbeats) for its 2 s shutdown grace while its lease
// scan still runs, so a shorter lease would expire during the shutdown.
constexpr auto kLeaseTimeout = 3s;
// The pause between shutdown and restart. The worker sees the grace plus
// this (5 s), longer than the lease timeout, which the worker used to count
// as a lost lease.
constexpr auto kOutage = 3s;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The points a trial of `steps` steps produces: one every kLogEvery steps
// and at the last, plus its evaluations (worker/trainer.h).
uint64_t ExpectedPoints(uint64_t steps) {
  return steps / kLogEvery + (steps % kLogEvery != 0 ? 1 : 0) +
         EvalSteps(steps, kTokensPerStep, /*eval_points=*/3).size();
}

class CoordinatorOutageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("scalelaw_worker_outage_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    StartCoordinator();
  }
  void TearDown() override {
    server_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // On the port of the first start, so that the worker's channel finds it.
  void StartCoordinator() {
    coordinator::CoordinatorOptions options;
    options.listen_address = "127.0.0.1:" + std::to_string(port_);
    options.db_path = (dir_ / "state.db").string();
    options.lease_timeout = kLeaseTimeout;
    options.heartbeat_interval = 200ms;
    options.expiry_scan_interval = 200ms;
    auto server = coordinator::CoordinatorServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    port_ = server_->port();
  }

  // Shuts the coordinator down and closes its store.
  void StopCoordinator() { server_.reset(); }

  // Submits the one-trial sweep of `steps` steps; returns its trial id.
  std::string Submit(uint64_t steps) {
    std::string yaml = kSpec;
    yaml.replace(yaml.find("TOKENS"), 6, std::to_string(steps * kTokensPerStep));
    auto spec = sweeps::ParseSweepSpec(yaml, "outage.yaml");
    EXPECT_TRUE(spec.ok()) << spec.status();
    if (!spec.ok()) return "";
    auto stub = v1::Coordinator::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
    v1::SubmitSweepRequest submit;
    *submit.mutable_spec() = *spec;
    v1::SubmitSweepResponse submitted;
    grpc::ClientContext context;
    const grpc::Status status = stub->SubmitSweep(&context, submit, &submitted);
    EXPECT_TRUE(status.ok()) << status.error_message();
    auto trials = server_->store().ListTrials(submitted.sweep_id());
    EXPECT_TRUE(trials.ok() && trials->size() == 1u);
    return trials.ok() && !trials->empty() ? trials->front().spec().trial_id() : "";
  }

  std::vector<v1::MetricPoint> StoredPoints(const std::string& trial_id) {
    auto points = server_->store().ListMetrics(trial_id, /*attempt=*/1);
    EXPECT_TRUE(points.ok()) << points.status();
    return points.ok() ? *points : std::vector<v1::MetricPoint>();
  }

  // Polls the store until the trial holds more than `count` points.
  bool WaitForPointsAbove(const std::string& trial_id, size_t count, Clock::duration timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (StoredPoints(trial_id).size() > count) return true;
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }

  WorkerOptions Options(absl::Duration connect_timeout) const {
    WorkerOptions options;
    options.exit_when_idle = true;
    options.connect_timeout = connect_timeout;
    options.threads = 1;
    options.device = "cpu";
    return options;
  }

  // The worker's channel is the one the scalelaw-worker binary makes.
  std::shared_ptr<grpc::Channel> WorkerChannel() const {
    return CoordinatorChannel("127.0.0.1:" + std::to_string(port_), "");
  }

  // Checks that `points` are seq 1..n, each once, and returns n.
  static uint64_t ExpectGaplessPrefix(const std::vector<v1::MetricPoint>& points) {
    for (size_t i = 0; i < points.size(); ++i) {
      EXPECT_EQ(points[i].seq(), i + 1) << "point " << i << " of " << points.size();
      if (points[i].seq() != i + 1) break;
    }
    return points.size();
  }

  fs::path dir_;
  int port_ = 0;
  std::unique_ptr<coordinator::CoordinatorServer> server_;
};

// Runs `client` on its own thread; Stop()s it if it outlives `timeout`.
absl::Status RunBounded(WorkerClient& client, std::future<absl::Status>& run,
                        Clock::duration timeout) {
  if (run.wait_for(timeout) != std::future_status::ready) {
    ADD_FAILURE() << "the worker did not return within " << Seconds(timeout) << " s";
    client.Stop("the test's time bound");
  }
  return run.get();
}

TEST_F(CoordinatorOutageTest, RestartMidStreamLosesNoPointAndCompletesOnce) {
  // Long enough (~10 s here) that the trial outlives the 2 s shutdown grace and
  // the outage; at 1,500 steps it had nearly ended before the stop.
  constexpr uint64_t kSteps = 10000;
  const std::string trial_id = Submit(kSteps);
  ASSERT_FALSE(trial_id.empty());
  const uint64_t expected = ExpectedPoints(kSteps);

  WorkerClient client(Options(absl::Seconds(30)), WorkerChannel());
  std::future<absl::Status> run = std::async(std::launch::async, [&] { return client.Run(); });

  // --- mid-stream: stop the coordinator, store closed -----------------------
  ASSERT_TRUE(WaitForPointsAbove(trial_id, 10, 120s)) << "the trial never streamed";
  StopCoordinator();
  std::this_thread::sleep_for(kOutage);

  // --- restart on the same port and store file -------------------------------
  StartCoordinator();
  const auto restarted = Clock::now();
  const size_t stored_at_restart = StoredPoints(trial_id).size();
  const bool streamed_again = WaitForPointsAbove(trial_id, stored_at_restart, 30s);
  std::printf(
      "coordinator restart -> first acknowledged point: %.3f s "
      "(%zu of %llu points stored before the outage)\n",
      Seconds(Clock::now() - restarted), stored_at_restart,
      static_cast<unsigned long long>(expected));
  EXPECT_TRUE(streamed_again);
  EXPECT_LT(stored_at_restart, expected) << "the outage must fall inside the trial's stream";

  const absl::Status status = RunBounded(client, run, 180s);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(client.trials_completed(), 1u);
  EXPECT_EQ(client.trials_dropped(), 0u);
  EXPECT_EQ(client.trials_failed(), 0u);

  auto trial = server_->store().GetTrial(trial_id);
  ASSERT_TRUE(trial.ok()) << trial.status();
  EXPECT_EQ(trial->state(), v1::TRIAL_STATE_SUCCEEDED) << trial->reason();
  EXPECT_EQ(trial->attempt(), 1u);
  EXPECT_EQ(trial->result().steps(), kSteps);
  auto attempts = server_->store().ListAttempts(trial_id);
  ASSERT_TRUE(attempts.ok()) << attempts.status();
  ASSERT_EQ(attempts->size(), 1u);
  EXPECT_EQ(attempts->front().outcome, "succeeded");

  const std::vector<v1::MetricPoint> points = StoredPoints(trial_id);
  EXPECT_EQ(ExpectGaplessPrefix(points), expected);
  ASSERT_FALSE(points.empty());
  EXPECT_EQ(points.back().step(), kSteps);
}

TEST_F(CoordinatorOutageTest, OutagePastConnectTimeoutLeavesTheTrialUncompleted) {
  // Long enough that training cannot end before the worker gives up.
  constexpr uint64_t kSteps = 200000;
  const std::string trial_id = Submit(kSteps);
  ASSERT_FALSE(trial_id.empty());

  constexpr auto kConnectTimeout = 2s;
  WorkerClient client(Options(absl::FromChrono(kConnectTimeout)), WorkerChannel());
  std::future<absl::Status> run = std::async(std::launch::async, [&] { return client.Run(); });

  ASSERT_TRUE(WaitForPointsAbove(trial_id, 10, 120s)) << "the trial never streamed";
  const auto stopping = Clock::now();
  StopCoordinator();

  const absl::Status status = RunBounded(client, run, 60s);
  const double gave_up_after = Seconds(Clock::now() - stopping);
  std::printf(
      "worker gave up %.3f s after the coordinator began shutting down (connect "
      "timeout %.0f s)\n",
      gave_up_after, Seconds(kConnectTimeout));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  // Given up on during the trial (not a lost lease, not an idle LeaseTrial).
  EXPECT_NE(status.message().find("left the trial leased"), std::string::npos) << status;
  EXPECT_GE(gave_up_after, Seconds(kConnectTimeout) - 0.5);
  EXPECT_EQ(client.trials_completed(), 0u);
  EXPECT_EQ(client.trials_dropped(), 1u);

  // Back up to look at the store: the trial is still leased (until its lease
  // expires), not completed, and holds a gapless prefix of its curve.
  StartCoordinator();
  auto trial = server_->store().GetTrial(trial_id);
  ASSERT_TRUE(trial.ok()) << trial.status();
  EXPECT_NE(trial->state(), v1::TRIAL_STATE_SUCCEEDED);
  EXPECT_EQ(trial->attempt(), 1u);
  const uint64_t stored = ExpectGaplessPrefix(StoredPoints(trial_id));
  EXPECT_GT(stored, 10u);
  EXPECT_LT(stored, ExpectedPoints(kSteps));
}

}  // namespace
}  // namespace scalelaw::worker
