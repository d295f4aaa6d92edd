// Resume after SIGKILL, end to end: a real coordinator on 127.0.0.1 and real
// `scalelaw-worker` processes (single-thread CPU).
//
//   1. sweep "reference": one trial, no checkpoints, trained uninterrupted.
//   2. sweep "resumed": the same trial (same shape, budget, seed), with
//      checkpoints every 100 steps; its worker is killed with SIGKILL right
//      after the checkpoint at step >= 200 appears, mid-trial. Once the lease
//      expires, a second worker leases attempt 2 and resumes from the newest
//      checkpoint.
//
// The resumed trial must end at the reference's validation loss (tolerance
// 1e-6 nats relative: the computation is the same, so it is in fact
// bit-identical on one thread), and its stored metric points (the latest
// attempt's) must be the reference curve: same steps, no gap, no repeat.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "coordinator/coordinator_server.h"
#include "coordinator/local_launcher.h"
#include "coordinator/store.h"
#include "scalelaw/v1/coordinator.grpc.pb.h"
#include "sweeps/spec_parser.h"

namespace scalelaw {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// 600 steps of 16 x 32 tokens; a few seconds per attempt on one idle core.
constexpr char kSpec[] = R"(
name: NAME
context: 32
models:
  - shape: {n_layer: 1, d_model: 32, n_head: 1}
tokens: [307200]
seeds: [11]
optimizer:
  lr: 3.0e-3
training:
  batch_size: 16
  micro_batches: 2
  threads: 1
  eval_points: 5
  eval_batches: 2
  log_every_steps: 10
  checkpoint_every_steps: 100
max_attempts: 3
)";
constexpr uint64_t kTotalSteps = 600;
constexpr uint64_t kLogEvery = 10;
constexpr double kRelativeTolerance = 1e-6;

fs::path FromEnv(const char* name) {
  const char* value = std::getenv(name);
  EXPECT_NE(value, nullptr) << name << " is set by CTest";
  return value == nullptr ? fs::path() : fs::path(value);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class WorkerResumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("scalelaw-resume-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    coordinator::CoordinatorOptions options;
    options.db_path = (dir_ / "state.db").string();
    options.lease_timeout = 3s;
    options.heartbeat_interval = 500ms;
    options.expiry_scan_interval = 200ms;
    auto server = coordinator::CoordinatorServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::Coordinator::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    server_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Submits kSpec under `name`, checkpointing into `checkpoint_dir` (empty:
  // none); returns the sweep id.
  std::string Submit(const std::string& name, const std::string& checkpoint_dir) {
    std::string yaml = kSpec;
    yaml.replace(yaml.find("NAME"), 4, name);
    auto spec = sweeps::ParseSweepSpec(yaml, name + ".yaml");
    EXPECT_TRUE(spec.ok()) << spec.status();
    if (!spec.ok()) return "";
    spec->mutable_training()->set_checkpoint_dir(checkpoint_dir);
    v1::SubmitSweepRequest submit;
    *submit.mutable_spec() = *spec;
    v1::SubmitSweepResponse submitted;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->SubmitSweep(&context, submit, &submitted).ok());
    EXPECT_EQ(submitted.n_trials(), 1u);
    return submitted.sweep_id();
  }

  absl::StatusOr<std::unique_ptr<coordinator::LocalLauncher>> LaunchWorker(
      const std::string& sweep_id, const std::string& log_name) {
    coordinator::LocalLauncherOptions launch;
    launch.worker_binary = (FromEnv("SCALELAW_BINARY_DIR") / "bin/scalelaw-worker").string();
    launch.coordinator_address = server_->address();
    launch.sweep_id = sweep_id;
    launch.num_workers = 1;
    launch.threads = 1;
    launch.log_dir = dir_ / log_name;
    return coordinator::LocalLauncher::Launch(launch);
  }

  v1::Trial OnlyTrial(const std::string& sweep_id) {
    auto trials = server_->store().ListTrials(sweep_id);
    EXPECT_TRUE(trials.ok()) << trials.status();
    EXPECT_EQ(trials.ok() ? trials->size() : 0u, 1u);
    return trials.ok() && !trials->empty() ? trials->front() : v1::Trial();
  }

  // The highest step among the trial's final checkpoint files; 0 when none.
  static uint64_t NewestCheckpointStep(const fs::path& trial_dir) {
    uint64_t newest = 0;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(trial_dir, error)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("step-") && name.ends_with(".ckpt")) {
        newest = std::max<uint64_t>(newest, std::stoull(name.substr(5, 12)));
      }
    }
    return newest;
  }

  fs::path dir_;
  std::unique_ptr<coordinator::CoordinatorServer> server_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
};

TEST_F(WorkerResumeTest, SigkilledTrialResumesFromCheckpointOntoTheUninterruptedCurve) {
  // --- 1. the reference, uninterrupted ------------------------------------------
  const auto reference_start = std::chrono::steady_clock::now();
  const std::string reference_sweep = Submit("reference", "");
  auto reference_worker = LaunchWorker(reference_sweep, "logs-reference");
  ASSERT_TRUE(reference_worker.ok()) << reference_worker.status();
  auto reference_exit = (*reference_worker)->WaitAll(180s);
  ASSERT_TRUE(reference_exit.ok()) << reference_exit.status();
  ASSERT_TRUE((*reference_exit)[0].ok()) << (*reference_exit)[0].ToString();
  const v1::Trial reference = OnlyTrial(reference_sweep);
  ASSERT_EQ(reference.state(), v1::TRIAL_STATE_SUCCEEDED) << reference.reason();
  ASSERT_EQ(reference.attempt(), 1u);
  ASSERT_EQ(reference.result().steps(), kTotalSteps);
  std::printf(
      "reference trial: %.1f s, final val loss %.9f\n",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - reference_start).count(),
      reference.result().final_val_loss());

  // --- 2. the same trial, killed after a checkpoint, then resumed -----------------
  const fs::path checkpoints = dir_ / "checkpoints";
  const std::string resumed_sweep = Submit("resumed", checkpoints.string());
  const std::string trial_id = OnlyTrial(resumed_sweep).spec().trial_id();
  const fs::path trial_dir = checkpoints / trial_id;
  auto first_worker = LaunchWorker(resumed_sweep, "logs-first");
  ASSERT_TRUE(first_worker.ok()) << first_worker.status();
  uint64_t killed_after = 0;
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline) {
    killed_after = NewestCheckpointStep(trial_dir);
    if (killed_after >= 200) {
      ASSERT_TRUE((*first_worker)->Kill(0, SIGKILL).ok());
      break;
    }
    ASSERT_FALSE((*first_worker)->Poll()[0].has_value())
        << "the first worker ended before its checkpoint at step 200; log "
        << (*first_worker)->log_path(0);
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_GE(killed_after, 200u) << "no checkpoint; log " << (*first_worker)->log_path(0);
  ASSERT_LT(killed_after, kTotalSteps) << "the kill must land mid-trial";
  auto first_exit = (*first_worker)->WaitAll(30s);
  ASSERT_TRUE(first_exit.ok()) << first_exit.status();
  EXPECT_EQ((*first_exit)[0].signal, SIGKILL);
  const uint64_t resume_step = NewestCheckpointStep(trial_dir);  // the kill may trail a write
  std::printf("first attempt killed after its checkpoint at step %llu (newest %llu)\n",
              static_cast<unsigned long long>(killed_after),
              static_cast<unsigned long long>(resume_step));

  auto second_worker = LaunchWorker(resumed_sweep, "logs-second");
  ASSERT_TRUE(second_worker.ok()) << second_worker.status();
  auto second_exit = (*second_worker)->WaitAll(180s);
  ASSERT_TRUE(second_exit.ok()) << second_exit.status();
  ASSERT_TRUE((*second_exit)[0].ok())
      << (*second_exit)[0].ToString() << "; log " << (*second_worker)->log_path(0);
  const std::string second_log = ReadFile((*second_worker)->log_path(0));
  EXPECT_NE(second_log.find("resuming at step " + std::to_string(resume_step)), std::string::npos)
      << second_log;

  const v1::Trial resumed = OnlyTrial(resumed_sweep);
  ASSERT_EQ(resumed.state(), v1::TRIAL_STATE_SUCCEEDED) << resumed.reason();
  EXPECT_EQ(resumed.attempt(), 2u);
  auto attempts = server_->store().ListAttempts(trial_id);
  ASSERT_TRUE(attempts.ok()) << attempts.status();
  ASSERT_EQ(attempts->size(), 2u);
  EXPECT_EQ((*attempts)[0].outcome, "lease_expired");
  EXPECT_EQ((*attempts)[1].outcome, "succeeded");

  // --- the final validation loss matches the uninterrupted run ------------------
  const double expected = reference.result().final_val_loss();
  const double got = resumed.result().final_val_loss();
  std::printf("final val loss: uninterrupted %.9f, resumed %.9f, |diff| %.3g\n", expected, got,
              std::abs(got - expected));
  EXPECT_NEAR(got, expected, kRelativeTolerance * expected);
  EXPECT_EQ(resumed.result().steps(), reference.result().steps());
  EXPECT_EQ(resumed.result().tokens(), reference.result().tokens());
  EXPECT_NEAR(resumed.result().final_train_loss(), reference.result().final_train_loss(),
              kRelativeTolerance * reference.result().final_train_loss());

  // --- the stored curve: no gap, no repeated step -------------------------------
  auto reference_points = server_->store().ListMetrics(reference.spec().trial_id(), 1);
  auto resumed_points = server_->store().ListMetrics(trial_id, 2);
  ASSERT_TRUE(reference_points.ok() && resumed_points.ok());
  ASSERT_EQ(resumed_points->size(), reference_points->size());
  uint64_t expected_train_step = kLogEvery;
  uint64_t last_val_step = 0;
  for (size_t i = 0; i < resumed_points->size(); ++i) {
    const v1::MetricPoint& point = (*resumed_points)[i];
    const v1::MetricPoint& want = (*reference_points)[i];
    SCOPED_TRACE(::testing::Message() << "point " << i << " step " << point.step());
    EXPECT_EQ(point.seq(), i + 1);
    EXPECT_EQ(point.step(), want.step());
    EXPECT_EQ(point.has_val_loss(), want.has_val_loss());
    if (point.has_val_loss()) {
      EXPECT_GT(point.step(), last_val_step);  // each evaluation once
      last_val_step = point.step();
      EXPECT_NEAR(point.val_loss(), want.val_loss(), kRelativeTolerance * want.val_loss());
    } else {
      EXPECT_EQ(point.step(), expected_train_step);  // every log step, once, in order
      expected_train_step += kLogEvery;
      EXPECT_NEAR(point.train_loss(), want.train_loss(), kRelativeTolerance * want.train_loss());
    }
  }
  EXPECT_EQ(expected_train_step, kTotalSteps + kLogEvery) << "training points end at the budget";
  EXPECT_EQ(last_val_step, kTotalSteps);

  // The first attempt's own points up to the checkpoint are what the second
  // replayed.
  auto first_points = server_->store().ListMetrics(trial_id, 1);
  ASSERT_TRUE(first_points.ok());
  size_t compared = 0;
  for (const v1::MetricPoint& point : *first_points) {
    if (point.step() > resume_step) continue;
    ASSERT_LE(point.seq(), resumed_points->size());
    const v1::MetricPoint& replayed = (*resumed_points)[point.seq() - 1];
    EXPECT_EQ(replayed.step(), point.step());
    EXPECT_EQ(replayed.train_loss(), point.train_loss());
    EXPECT_EQ(replayed.wall_seconds(), point.wall_seconds());
    ++compared;
  }
  EXPECT_GT(compared, 0u);
}

}  // namespace
}  // namespace scalelaw
