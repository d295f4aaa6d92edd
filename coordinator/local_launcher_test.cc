#include "coordinator/local_launcher.h"

#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "coordinator/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace scalelaw::coordinator {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::string WriteScript(const testing::TempDir& dir, const std::string& name,
                        const std::string& body) {
  const std::string path = dir.File(name);
  std::ofstream(path) << "#!/bin/sh\n" << body;
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

LocalLauncherOptions OptionsFor(const testing::TempDir& dir, const std::string& binary) {
  LocalLauncherOptions options;
  options.worker_binary = binary;
  options.coordinator_address = "127.0.0.1:5555";
  options.sweep_id = "demo-1";
  options.log_dir = dir.path() / "logs";
  return options;
}

TEST(LocalLauncherTest, PassesFlagsLogsOutputAndReportsExitCodes) {
  testing::TempDir dir;
  const std::string fake = WriteScript(dir, "fake-worker",
                                       "echo \"args: $*\"\necho oops >&2\n"
                                       "[ \"$5\" = \"--exit-when-idle\" ] && exit 3\nexit 0\n");
  LocalLauncherOptions options = OptionsFor(dir, fake);
  options.num_workers = 2;
  options.threads = 4;
  auto launcher = LocalLauncher::Launch(options);
  ASSERT_TRUE(launcher.ok()) << launcher.status();
  ASSERT_EQ((*launcher)->size(), 2);

  auto exits = (*launcher)->WaitAll(10s);
  ASSERT_TRUE(exits.ok()) << exits.status();
  ASSERT_EQ(exits->size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE((*exits)[i].exited);
    EXPECT_EQ((*exits)[i].exit_code, 3) << (*exits)[i].ToString();
    EXPECT_FALSE((*exits)[i].ok());
    const std::string log = ReadFile((*launcher)->log_path(i));
    EXPECT_THAT(log, HasSubstr("args: --coordinator 127.0.0.1:5555 --sweep demo-1 "
                               "--exit-when-idle --threads 4"));
    EXPECT_THAT(log, HasSubstr("oops"));
  }
  EXPECT_EQ((*launcher)->log_path(1).filename(), "worker-1.log");
  EXPECT_TRUE(absl::IsFailedPrecondition((*launcher)->Kill(0, SIGTERM)));
  EXPECT_TRUE(absl::IsOutOfRange((*launcher)->Kill(7, SIGTERM)));
}

TEST(LocalLauncherTest, KillAndTimeout) {
  testing::TempDir dir;
  const std::string sleeper = WriteScript(dir, "sleeper", "exec sleep 30\n");
  LocalLauncherOptions options = OptionsFor(dir, sleeper);
  options.num_workers = 2;
  auto launcher = *LocalLauncher::Launch(options);
  auto early = launcher->WaitAll(100ms);
  EXPECT_TRUE(absl::IsDeadlineExceeded(early.status())) << early.status();

  ASSERT_TRUE(launcher->Kill(0, SIGKILL).ok());
  ASSERT_TRUE(launcher->Kill(1, SIGTERM).ok());
  auto exits = launcher->WaitAll(10s);
  ASSERT_TRUE(exits.ok()) << exits.status();
  EXPECT_FALSE((*exits)[0].exited);
  EXPECT_EQ((*exits)[0].signal, SIGKILL);
  EXPECT_EQ((*exits)[1].signal, SIGTERM);
  EXPECT_THAT((*exits)[0].ToString(), HasSubstr("signal 9"));
}

TEST(LocalLauncherTest, DestructorStopsWorkersThatIgnoreSigterm) {
  testing::TempDir dir;
  const std::string stubborn =
      WriteScript(dir, "stubborn", "trap '' TERM\nwhile true; do sleep 0.05; done\n");
  LocalLauncherOptions options = OptionsFor(dir, stubborn);
  options.stop_grace = 200ms;
  pid_t pid = 0;
  {
    auto launcher = *LocalLauncher::Launch(options);
    pid = launcher->pid(0);
    ASSERT_EQ(::kill(pid, 0), 0) << "worker should be running";
  }
  EXPECT_NE(::kill(pid, 0), 0) << "worker outlived its launcher";
}

TEST(LocalLauncherTest, MissingBinaryAndBadOptions) {
  testing::TempDir dir;
  auto missing = LocalLauncher::Launch(OptionsFor(dir, dir.File("no-such-worker")));
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("no-such-worker"));
  LocalLauncherOptions zero = OptionsFor(dir, "/bin/true");
  zero.num_workers = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(LocalLauncher::Launch(zero).status()));
}

TEST(LocalSweepLauncherTest, StartsOneWorkerPerTrialAtMostAndCancelsByPid) {
  testing::TempDir dir;
  const std::string sleeper = WriteScript(dir, "sleeper", "echo \"args: $*\"\nexec sleep 30\n");
  LocalSweepLauncher launcher(sleeper, dir.path() / "logs");
  EXPECT_EQ(launcher.kind(), "local");

  SweepLaunch launch;
  launch.sweep_id = "demo-2";
  launch.n_trials = 2;
  launch.threads = 3;
  launch.coordinator_address = "127.0.0.1:5555";
  auto none = launcher.Launch(launch);  // workers 0: started by hand
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());

  launch.launcher.set_workers(8);  // capped at the sweep's 2 trials
  auto pids = launcher.Launch(launch);
  ASSERT_TRUE(pids.ok()) << pids.status();
  ASSERT_EQ(pids->size(), 2u);
  for (const std::string& pid : *pids) EXPECT_EQ(::kill(std::stoi(pid), 0), 0);
  const std::filesystem::path log = dir.path() / "logs" / "demo-2" / "worker-1.log";
  for (int i = 0; i < 200 && ReadFile(log).empty(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_THAT(ReadFile(log), HasSubstr("args: --coordinator 127.0.0.1:5555 --sweep demo-2 "
                                       "--exit-when-idle --threads 3"));
  // Ids it did not start are ignored.
  ASSERT_TRUE(launcher.Cancel({"1", (*pids)[0], (*pids)[1]}).ok());
  for (const std::string& pid : *pids) {
    // The launcher reaps its children later; until then an ended worker is a
    // zombie (state Z in /proc/PID/stat), which still answers kill(pid, 0).
    bool gone = false;
    for (int i = 0; i < 200 && !gone; ++i) {
      const std::string stat = ReadFile("/proc/" + pid + "/stat");
      gone = stat.empty() || stat.find(") Z ") != std::string::npos;
      if (!gone) std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(gone) << "worker " << pid << " still running after Cancel";
  }
}

TEST(LocalSweepLauncherTest, HandsWorkersTheCoordinatorsTls) {
  testing::TempDir dir;
  const std::string sleeper = WriteScript(dir, "sleeper", "echo \"args: $*\"\nexec sleep 30\n");
  LocalSweepLauncher launcher(sleeper, dir.path() / "logs");
  SweepLaunch launch;
  launch.sweep_id = "tls-1";
  launch.n_trials = 1;
  launch.launcher.set_workers(1);
  launch.coordinator_address = "127.0.0.1:5555";
  launch.token_required = true;
  launch.tls_required = true;
  launch.client_cert_required = true;
  launch.tls.ca_file = "/tls/ca.pem";
  // Mutual TLS without a client certificate for the workers: refused.
  const absl::Status refused = launcher.Launch(launch).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("--worker-tls-cert"));
  launch.tls.cert_file = "/tls/worker.pem";
  launch.tls.key_file = "/tls/worker.key";
  auto pids = launcher.Launch(launch);
  ASSERT_TRUE(pids.ok()) << pids.status();
  const std::filesystem::path log = dir.path() / "logs" / "tls-1" / "worker-0.log";
  for (int i = 0; i < 200 && ReadFile(log).empty(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_THAT(ReadFile(log), HasSubstr("--exit-when-idle --tls-ca /tls/ca.pem --tls-cert "
                                       "/tls/worker.pem --tls-key /tls/worker.key"));
  ASSERT_TRUE(launcher.Cancel(*pids).ok());
}

}  // namespace
}  // namespace scalelaw::coordinator
