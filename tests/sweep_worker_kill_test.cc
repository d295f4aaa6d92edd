// A real coordinator on 127.0.0.1 and two real `scalelaw-worker` processes run
// a small sweep; one worker is killed with SIGKILL mid-trial. The sweep must
// still complete with every trial SUCCEEDED exactly once in the store, the
// killed attempt recorded as an expired lease and retried.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "coordinator/coordinator_server.h"
#include "coordinator/local_launcher.h"
#include "coordinator/store.h"
#include "scalelaw/v1/coordinator.grpc.pb.h"
#include "sweeps/spec_parser.h"

namespace scalelaw {
namespace {

using namespace std::chrono_literals;

std::filesystem::path FromEnv(const char* name) {
  const char* value = std::getenv(name);
  EXPECT_NE(value, nullptr) << name << " is set by CTest";
  return value == nullptr ? std::filesystem::path() : std::filesystem::path(value);
}

class SweepWorkerKillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("scalelaw-kill-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  // All trials of the sweep, through the real RPC.
  std::vector<v1::Trial> Trials(v1::Coordinator::Stub& stub, const std::string& sweep_id) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::ListTrialsRequest request;
    request.set_sweep_id(sweep_id);
    v1::ListTrialsResponse response;
    EXPECT_TRUE(stub.ListTrials(&context, request, &response).ok());
    return {response.trials().begin(), response.trials().end()};
  }

  std::filesystem::path dir_;
};

TEST_F(SweepWorkerKillTest, SweepCompletesAfterSigkillWithEveryTrialSucceededOnce) {
  coordinator::CoordinatorOptions options;
  options.db_path = (dir_ / "state.db").string();
  options.lease_timeout = 3s;
  options.heartbeat_interval = 500ms;
  options.expiry_scan_interval = 200ms;
  auto server = coordinator::CoordinatorServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::Coordinator::NewStub(
      grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials()));

  auto spec =
      sweeps::LoadSweepSpec(FromEnv("SCALELAW_SOURCE_DIR") / "tests/fixtures/kill_sweep.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  v1::SubmitSweepRequest submit;
  *submit.mutable_spec() = *spec;
  v1::SubmitSweepResponse submitted;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub->SubmitSweep(&context, submit, &submitted).ok());
  }
  ASSERT_EQ(submitted.n_trials(), 4u);
  const std::string sweep_id = submitted.sweep_id();

  coordinator::LocalLauncherOptions launch;
  launch.worker_binary = (FromEnv("SCALELAW_BINARY_DIR") / "bin/scalelaw-worker").string();
  launch.coordinator_address = (*server)->address();
  launch.sweep_id = sweep_id;
  launch.num_workers = 2;
  launch.threads = 1;
  launch.log_dir = dir_ / "logs";
  auto launcher = coordinator::LocalLauncher::Launch(launch);
  ASSERT_TRUE(launcher.ok()) << launcher.status();

  // Kill worker 0 once both workers are training (two trials RUNNING with
  // progress reported), so the kill lands mid-trial.
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  bool killed = false;
  while (!killed && std::chrono::steady_clock::now() < deadline) {
    int training = 0;
    for (const v1::Trial& trial : Trials(*stub, sweep_id)) {
      if (trial.state() == v1::TRIAL_STATE_RUNNING && trial.tokens_done() > 0) ++training;
    }
    if (training == 2) {
      ASSERT_TRUE((*launcher)->Kill(0, SIGKILL).ok());
      killed = true;
    }
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(killed) << "two trials never ran at once; worker logs in " << launch.log_dir;

  auto exits = (*launcher)->WaitAll(240s);
  ASSERT_TRUE(exits.ok()) << exits.status();
  EXPECT_FALSE((*exits)[0].exited);
  EXPECT_EQ((*exits)[0].signal, SIGKILL);
  EXPECT_TRUE((*exits)[1].ok()) << (*exits)[1].ToString() << "; log " << (*launcher)->log_path(1);

  // The store itself: exactly the grid's trials, each SUCCEEDED exactly once.
  coordinator::Store& store = (*server)->store();
  auto trials = store.ListTrials(sweep_id);
  ASSERT_TRUE(trials.ok()) << trials.status();
  ASSERT_EQ(trials->size(), 4u);
  int retried = 0;
  for (const v1::Trial& trial : *trials) {
    EXPECT_EQ(trial.state(), v1::TRIAL_STATE_SUCCEEDED) << trial.spec().trial_id();
    EXPECT_GT(trial.result().final_val_loss(), 0.0);
    auto attempts = store.ListAttempts(trial.spec().trial_id());
    ASSERT_TRUE(attempts.ok());
    int succeeded = 0;
    bool expired = false;
    for (const coordinator::AttemptRecord& attempt : *attempts) {
      succeeded += attempt.outcome == "succeeded";
      expired |= attempt.outcome == "lease_expired";
    }
    EXPECT_EQ(succeeded, 1) << trial.spec().trial_id();
    if (expired) {
      ++retried;
      EXPECT_GE(trial.attempt(), 2u);
      auto points = store.ListMetrics(trial.spec().trial_id(), trial.attempt());
      ASSERT_TRUE(points.ok());
      EXPECT_FALSE(points->empty()) << "the retried attempt streamed its own points";
    }
  }
  EXPECT_EQ(retried, 1) << "exactly the killed worker's trial was retried";
}

}  // namespace
}  // namespace scalelaw
