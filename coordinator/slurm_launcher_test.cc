#include "coordinator/slurm_launcher.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_split.h"
#include "coordinator/clock.h"
#include "coordinator/coordinator_server.h"
#include "coordinator/launchers.h"
#include "coordinator/store.h"
#include "coordinator/subprocess.h"
#include "coordinator/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scalelaw/v1/coordinator.grpc.pb.h"

namespace scalelaw::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string WriteExecutable(const testing::TempDir& dir, const std::string& name,
                            const std::string& body) {
  const std::string path = dir.File(name);
  std::ofstream(path) << "#!/bin/bash\n" << body;
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

// The #SBATCH directives of a script, in order.
std::vector<std::string> Directives(const std::string& script) {
  std::vector<std::string> directives;
  for (absl::string_view line : absl::StrSplit(script, '\n')) {
    if (absl::ConsumePrefix(&line, "#SBATCH ")) directives.emplace_back(line);
  }
  return directives;
}

SweepLaunch FullLaunch() {
  SweepLaunch launch;
  launch.sweep_id = "chin-3";
  launch.n_trials = 12;
  launch.threads = 2;
  launch.coordinator_address = "login1:50051";
  v1::LauncherConfig& config = launch.launcher;
  config.set_kind("slurm");
  config.set_workers(4);
  config.mutable_resources()->set_gpus(2);
  config.mutable_resources()->set_cpus(16);
  config.mutable_resources()->set_memory("64G");
  config.mutable_resources()->set_time_limit_minutes(240);
  config.mutable_slurm()->set_partition("gpu");
  config.mutable_slurm()->set_account("proj42");
  config.mutable_slurm()->set_signal("USR2");
  config.mutable_slurm()->set_signal_seconds(300);
  config.mutable_slurm()->add_extra_args("--qos=high");
  config.mutable_slurm()->add_extra_args("--exclusive");
  return launch;
}

TEST(SbatchScriptTest, EveryDirectiveFromTheSpec) {
  auto script =
      SbatchScript(FullLaunch(), "/opt/scalelaw/bin/scalelaw", "/shared/jobs/chin-3/logs");
  ASSERT_TRUE(script.ok()) << script.status();
  EXPECT_THAT(Directives(*script),
              ElementsAre("--job-name=scalelaw-chin-3", "--array=0-11%4", "--requeue",
                          "--signal=B:USR2@300", "--cpus-per-task=16", "--gres=gpu:2", "--mem=64G",
                          "--time=240", "--partition=gpu", "--account=proj42", "--open-mode=append",
                          "--output=/shared/jobs/chin-3/logs/worker-%A_%a.log", "--qos=high",
                          "--exclusive"));
  EXPECT_EQ(script->rfind("#!/bin/bash\n", 0), 0u);
  EXPECT_THAT(*script, HasSubstr("scalelaw='/opt/scalelaw/bin/scalelaw'\n"));
  EXPECT_THAT(*script, HasSubstr("coordinator='login1:50051'\n"));
  EXPECT_THAT(*script, HasSubstr("sweep='chin-3'\n"));
  EXPECT_THAT(*script, HasSubstr("\"$scalelaw\" worker --coordinator \"$coordinator\" --sweep "
                                 "\"$sweep\" --exit-when-idle ${token_args[@]+\"${token_args[@]}\"} "
                                 "${tls_args[@]+\"${tls_args[@]}\"} &\n"));
  EXPECT_THAT(*script, HasSubstr("token_args=()\n"));
  EXPECT_THAT(*script, HasSubstr("tls_args=()\n"));
  // With a token file the workers are pointed at it; the token itself never
  // reaches the script on the shared disk.
  SweepLaunch with_token = FullLaunch();
  with_token.token_file = "/shared/scalelaw/token";
  auto token_script = SbatchScript(with_token, "/opt/scalelaw/bin/scalelaw", "/shared/jobs/chin-3/logs");
  ASSERT_TRUE(token_script.ok());
  EXPECT_THAT(*token_script, HasSubstr("token_args=(--token-file '/shared/scalelaw/token')\n"));
  // A mutual-TLS coordinator hands its workers the CA and their certificate.
  SweepLaunch with_tls = with_token;
  with_tls.token_required = true;
  with_tls.tls_required = true;
  with_tls.client_cert_required = true;
  with_tls.tls.ca_file = "/shared/tls/ca.pem";
  with_tls.tls.cert_file = "/shared/tls/worker.pem";
  with_tls.tls.key_file = "/shared/tls/worker.key";
  auto tls_script = SbatchScript(with_tls, "/opt/scalelaw/bin/scalelaw", "/shared/jobs/chin-3/logs");
  ASSERT_TRUE(tls_script.ok()) << tls_script.status();
  EXPECT_THAT(*tls_script,
              HasSubstr("tls_args=('--tls-ca' '/shared/tls/ca.pem' '--tls-cert' "
                        "'/shared/tls/worker.pem' '--tls-key' '/shared/tls/worker.key')\n"));
  // ... and refuses a launch its workers could not connect with.
  with_tls.tls.cert_file.clear();
  EXPECT_THAT(SbatchScript(with_tls, "/opt/scalelaw/bin/scalelaw", "/shared/jobs/chin-3/logs")
                  .status()
                  .message(),
              HasSubstr("--worker-tls-cert and --worker-tls-key: required"));
  SweepLaunch plaintext = with_token;
  plaintext.token_required = true;  // 'login1:50051' is not loopback
  EXPECT_THAT(SbatchScript(plaintext, "/opt/scalelaw/bin/scalelaw", "/shared/jobs/chin-3/logs")
                  .status()
                  .message(),
              HasSubstr("clear text to login1:50051"));
  plaintext.tls.insecure_token_over_plaintext = true;
  auto override_script =
      SbatchScript(plaintext, "/opt/scalelaw/bin/scalelaw", "/shared/jobs/chin-3/logs");
  ASSERT_TRUE(override_script.ok()) << override_script.status();
  EXPECT_THAT(*override_script, HasSubstr("tls_args=('--insecure-token-over-plaintext')\n"));
  // The configured signal and TERM (scancel, preemption) both stop the worker.
  EXPECT_THAT(*script, HasSubstr("trap stop_worker TERM USR2\n"));
  EXPECT_THAT(*script, HasSubstr("if [ \"$status\" -eq 75 ]"));
  EXPECT_THAT(*script, HasSubstr("scontrol requeue \"$SLURM_JOB_ID\""));
  // Every #SBATCH line precedes the first command (sbatch stops reading there).
  EXPECT_LT(script->rfind("#SBATCH"), script->find("set -u"));
}

TEST(SbatchScriptTest, DefaultsLeaveOutWhatTheSpecLeavesOut) {
  SweepLaunch launch;
  launch.sweep_id = "tiny-1";
  launch.n_trials = 3;
  launch.threads = 1;
  launch.coordinator_address = "127.0.0.1:5555";
  launch.launcher.set_kind("slurm");
  launch.launcher.set_workers(2);
  launch.launcher.mutable_slurm()->set_signal_seconds(120);  // spec defaults: signal TERM
  auto script = SbatchScript(launch, "/bin/scalelaw", "/tmp/logs");
  ASSERT_TRUE(script.ok()) << script.status();
  EXPECT_THAT(Directives(*script),
              ElementsAre("--job-name=scalelaw-tiny-1", "--array=0-2%2", "--requeue",
                          "--signal=B:TERM@120", "--cpus-per-task=1", "--open-mode=append",
                          "--output=/tmp/logs/worker-%A_%a.log"));
  EXPECT_THAT(*script, HasSubstr("trap stop_worker TERM\n"));
}

TEST(SbatchScriptTest, ArrayIsCappedByTrialsAndSlurmsLimit) {
  SweepLaunch launch = FullLaunch();
  launch.n_trials = 3;
  launch.launcher.set_workers(8);  // more workers than trials: one per trial
  EXPECT_THAT(Directives(*SbatchScript(launch, "/s", "/l")), ::testing::Contains("--array=0-2%3"));
  launch.n_trials = 5000;
  EXPECT_THAT(Directives(*SbatchScript(launch, "/s", "/l")),
              ::testing::Contains("--array=0-999%8"));
  launch.launcher.set_workers(0);  // no throttle: Slurm decides
  EXPECT_THAT(Directives(*SbatchScript(launch, "/s", "/l")), ::testing::Contains("--array=0-999"));
  launch.launcher.mutable_slurm()->set_signal_seconds(0);  // no warning signal
  for (const std::string& d : Directives(*SbatchScript(launch, "/s", "/l"))) {
    EXPECT_THAT(d, Not(HasSubstr("--signal")));
  }
}

TEST(SbatchScriptTest, RefusesWhatItCannotWriteSafely) {
  struct Case {
    std::function<void(SweepLaunch&, std::string&, std::string&)> change;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {[](SweepLaunch& l, std::string&, std::string&) { l.n_trials = 0; }, "no trials"},
      {[](SweepLaunch&, std::string& bin, std::string&) { bin = "bin/scalelaw"; },
       "scalelaw binary: must be an absolute path"},
      {[](SweepLaunch&, std::string&, std::string& log) { log = "/tmp/100%"; },
       "log directory: must not contain '%'"},
      {[](SweepLaunch&, std::string&, std::string& log) { log = "/tmp/my logs"; },
       "log directory: must be one word"},
      {[](SweepLaunch& l, std::string&, std::string&) { l.coordinator_address = "a:1\nrm"; },
       "launcher.coordinator_address: must be one word"},
      {[](SweepLaunch& l, std::string&, std::string&) {
         l.launcher.mutable_slurm()->add_extra_args("--comment=$(id)");
       },
       "launcher.slurm.extra_args[2]: must be one word"},
      {[](SweepLaunch& l, std::string&, std::string&) {
         l.launcher.mutable_slurm()->add_extra_args("exclusive");
       },
       "launcher.slurm.extra_args[2]: must be an sbatch option"},
      {[](SweepLaunch& l, std::string&, std::string&) {
         l.launcher.mutable_slurm()->set_partition("gpu;reboot");
       },
       ""},  // ';' is harmless in a directive word: accepted
  };
  for (const Case& c : cases) {
    SweepLaunch launch = FullLaunch();
    std::string binary = "/opt/scalelaw";
    std::string log_dir = "/shared/logs";
    c.change(launch, binary, log_dir);
    auto script = SbatchScript(launch, binary, log_dir);
    if (c.expected.empty()) {
      EXPECT_TRUE(script.ok()) << script.status();
      continue;
    }
    ASSERT_FALSE(script.ok()) << c.expected;
    EXPECT_TRUE(absl::IsInvalidArgument(script.status()));
    EXPECT_THAT(std::string(script.status().message()), HasSubstr(c.expected));
  }
  // A binary path with a quote in it is quoted for the shell.
  auto quoted = SbatchScript(FullLaunch(), "/opt/it's/scalelaw", "/l");
  ASSERT_TRUE(quoted.ok());
  EXPECT_THAT(*quoted, HasSubstr("scalelaw='/opt/it'\\''s/scalelaw'\n"));
}

// deploy/slurm/workers.sbatch is the hand-run template of what the launcher
// writes: from the worker's start line on, the two must not drift apart.
TEST(SbatchScriptTest, DeployTemplateRunsTheWorkerTheSameWay) {
  const char* source_dir = std::getenv("SCALELAW_SOURCE_DIR");
  if (source_dir == nullptr) GTEST_SKIP() << "SCALELAW_SOURCE_DIR is not set";
  const std::string template_text =
      ReadFile(std::filesystem::path(source_dir) / "deploy/slurm/workers.sbatch");
  auto script = SbatchScript(FullLaunch(), "/opt/scalelaw", "/l");
  ASSERT_TRUE(script.ok());
  const std::string start = "\necho \"scalelaw: job ";
  ASSERT_NE(template_text.find(start), std::string::npos);
  EXPECT_EQ(template_text.substr(template_text.find(start)), script->substr(script->find(start)));
  EXPECT_THAT(template_text, HasSubstr("#SBATCH --requeue\n#SBATCH --signal=B:TERM@120\n"));
}

TEST(SbatchScriptTest, ParsesSbatchOutput) {
  EXPECT_EQ(*ParseSbatchJobId("4711\n"), "4711");
  EXPECT_EQ(*ParseSbatchJobId("4711;cluster\n"), "4711");
  EXPECT_FALSE(ParseSbatchJobId("Submitted batch job 4711").ok());
  EXPECT_FALSE(ParseSbatchJobId("").ok());
}

// Runs the generated script with bash (no Slurm): a fake `scalelaw` that
// exits `worker_exit` on SIGTERM, fake squeue answering `job_state`, a fake
// scontrol that logs its arguments. The driver sends SIGTERM to the batch
// shell once the worker runs, as --signal=B:TERM would.
struct ScriptRun {
  std::string output;    // the script's stdout and stderr
  std::string scontrol;  // what scontrol was called with
  std::string exit;      // the script's exit status
};
ScriptRun RunScriptAndSignal(int worker_exit, const std::string& job_state) {
  testing::TempDir dir;
  const std::string fake_worker =
      WriteExecutable(dir, "scalelaw",
                      absl::StrCat("echo \"worker args: $*\"\ntrap 'echo worker got TERM; exit ",
                                   worker_exit, "' TERM\nwhile true; do sleep 0.02; done\n"));
  std::filesystem::create_directories(dir.path() / "bin");
  WriteExecutable(dir, "bin/squeue", absl::StrCat("echo ", job_state, "\n"));
  WriteExecutable(dir, "bin/scontrol",
                  absl::StrCat("echo \"$*\" >> ", dir.File("scontrol.log"), "\n"));
  SweepLaunch launch;
  launch.sweep_id = "tiny-1";
  launch.n_trials = 1;
  launch.coordinator_address = "127.0.0.1:1";
  launch.launcher.mutable_slurm()->set_signal_seconds(120);
  std::ofstream(dir.File("workers.sbatch")) << *SbatchScript(launch, fake_worker, "/tmp");
  const std::string driver = WriteExecutable(dir, "driver",
                                             absl::StrCat(R"(
cd ")",
                                                          dir.path().string(), R"("
export PATH="$PWD/bin:$PATH" SLURM_JOB_ID=77
bash workers.sbatch > out.txt 2>&1 &
pid=$!
for i in $(seq 200); do grep -q "worker args" out.txt && break; sleep 0.02; done
kill -TERM "$pid"
wait "$pid"
echo $? > exit.txt
)"));
  auto ran = RunCommand({driver}, 20s);
  EXPECT_TRUE(ran.ok() && ran->ok())
      << (ran.ok() ? ran->Describe("driver") : ran.status().ToString());
  ScriptRun run;
  run.output = ReadFile(dir.path() / "out.txt");
  run.scontrol = ReadFile(dir.path() / "scontrol.log");
  run.exit = ReadFile(dir.path() / "exit.txt");
  return run;
}

TEST(SbatchScriptTest, SignalStopsTheWorkerAndRequeuesWhileWorkIsLeft) {
  const ScriptRun run = RunScriptAndSignal(75, "RUNNING");
  EXPECT_THAT(run.output, HasSubstr("worker args: worker --coordinator 127.0.0.1:1 --sweep "
                                    "tiny-1 --exit-when-idle"));
  EXPECT_THAT(run.output, HasSubstr("worker got TERM"));
  EXPECT_THAT(run.output, HasSubstr("requeueing job 77"));
  EXPECT_EQ(run.scontrol, "requeue 77\n");
  EXPECT_EQ(run.exit, "75\n");
}

TEST(SbatchScriptTest, NoRequeueWhenCancelledOrOutOfWork) {
  const ScriptRun cancelled = RunScriptAndSignal(75, "COMPLETING");  // scancel
  EXPECT_THAT(cancelled.output, HasSubstr("not requeueing"));
  EXPECT_EQ(cancelled.scontrol, "");
  const ScriptRun done = RunScriptAndSignal(0, "RUNNING");  // the sweep had no work left
  EXPECT_EQ(done.scontrol, "");
  EXPECT_EQ(done.exit, "0\n");
}

class SlurmLauncherTest : public ::testing::Test {
 protected:
  SlurmLauncherOptions Options() {
    SlurmLauncherOptions options;
    options.scalelaw_binary = "/opt/scalelaw/bin/scalelaw";
    options.job_dir = dir_.path() / "jobs";
    options.sbatch = WriteExecutable(
        dir_, "sbatch",
        absl::StrCat("echo \"$*\" > ", dir_.File("sbatch.args"), "\necho '4242;cluster'\n"));
    options.scancel = WriteExecutable(
        dir_, "scancel", absl::StrCat("echo \"$*\" >> ", dir_.File("scancel.args"), "\n"));
    return options;
  }
  testing::TempDir dir_;
};

TEST_F(SlurmLauncherTest, LaunchWritesTheScriptAndSubmitsIt) {
  SlurmLauncher launcher(Options());
  auto ids = launcher.Launch(FullLaunch());
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ElementsAre("4242"));
  const std::filesystem::path script = dir_.path() / "jobs" / "chin-3" / "workers.sbatch";
  EXPECT_EQ(ReadFile(dir_.File("sbatch.args")), absl::StrCat("--parsable ", script.string(), "\n"));
  EXPECT_THAT(
      ReadFile(script),
      HasSubstr(absl::StrCat("#SBATCH --output=", (dir_.path() / "jobs/chin-3/logs").string(),
                             "/worker-%A_%a.log\n")));
  EXPECT_TRUE(std::filesystem::is_directory(launcher.LogDir("chin-3")));

  ASSERT_TRUE(launcher.Cancel({"4242", "4243"}).ok());
  EXPECT_EQ(ReadFile(dir_.File("scancel.args")), "4242 4243\n");
  EXPECT_TRUE(absl::IsInvalidArgument(launcher.Cancel({"4242 --user=root"})));
}

TEST_F(SlurmLauncherTest, SbatchAndScancelErrorsCarryTheirMessages) {
  SlurmLauncherOptions options = Options();
  options.sbatch = WriteExecutable(
      dir_, "bad-sbatch", "echo 'sbatch: error: invalid partition specified: gpu' >&2\nexit 1\n");
  options.scancel = WriteExecutable(dir_, "bad-scancel",
                                    "echo \"scancel: error: Kill job error on job id $1: Invalid "
                                    "job id specified\" >&2\nexit 1\n");
  SlurmLauncher launcher(options);
  auto ids = launcher.Launch(FullLaunch());
  ASSERT_TRUE(absl::IsUnavailable(ids.status())) << ids.status();
  EXPECT_THAT(std::string(ids.status().message()),
              HasSubstr("sbatch exited 1: sbatch: error: invalid partition specified: gpu"));
  // A job that has already ended is gone, as asked.
  EXPECT_TRUE(launcher.Cancel({"17"}).ok());

  options.scancel =
      WriteExecutable(dir_, "down-scancel",
                      "echo 'scancel: error: Unable to contact slurm controller' >&2\n"
                      "exit 1\n");
  SlurmLauncher down(options);
  const absl::Status cancelled = down.Cancel({"17"});
  EXPECT_TRUE(absl::IsUnavailable(cancelled)) << cancelled;
  EXPECT_THAT(std::string(cancelled.message()), HasSubstr("Unable to contact slurm controller"));

  options.sbatch = dir_.File("no-such-sbatch");
  EXPECT_TRUE(absl::IsNotFound(SlurmLauncher(options).Launch(FullLaunch()).status()));
}

// A launcher that records what it was asked.
class FakeLauncher final : public Launcher {
 public:
  explicit FakeLauncher(std::string kind) : kind_(std::move(kind)) {}
  std::string kind() const override { return kind_; }
  absl::StatusOr<std::vector<std::string>> Launch(const SweepLaunch& launch) override {
    launches.push_back(launch);
    if (!fail.ok()) return fail;
    return std::vector<std::string>{"101", "102"};
  }
  absl::Status Cancel(const std::vector<std::string>& job_ids) override {
    cancelled.insert(cancelled.end(), job_ids.begin(), job_ids.end());
    return absl::OkStatus();
  }
  std::vector<SweepLaunch> launches;
  std::vector<std::string> cancelled;
  absl::Status fail;

 private:
  std::string kind_;
};

TEST(LaunchersTest, LaunchesWithTheSpecsKindAndRecordsTheJobs) {
  testing::TempDir dir;
  auto store = Store::Open(dir.File("state.db"));
  ASSERT_TRUE(store.ok()) << store.status();
  FakeClock clock;
  Launchers launchers(store->get(), &clock, [] { return std::string("head:50051"); });
  auto slurm = std::make_shared<FakeLauncher>("slurm");
  launchers.Add(slurm);

  SweepRecord sweep;
  sweep.sweep_id = "s-1";
  sweep.name = "s";
  sweep.spec = testing::SmallSweepSpec();
  sweep.spec.mutable_launcher()->set_kind("slurm");
  sweep.spec.mutable_launcher()->set_workers(2);
  v1::TrialSpec a, b;
  a.set_trial_id("s-1-t0");
  a.set_sweep_id("s-1");
  b.set_trial_id("s-1-t1");
  b.set_sweep_id("s-1");
  ASSERT_TRUE((*store)->InsertSweep(sweep, {a, b}).ok());

  ASSERT_TRUE(launchers.LaunchSweep("s-1").ok());
  ASSERT_EQ(slurm->launches.size(), 1u);
  EXPECT_EQ(slurm->launches[0].n_trials, 2u);
  EXPECT_EQ(slurm->launches[0].coordinator_address, "head:50051");
  EXPECT_EQ(slurm->launches[0].launcher.workers(), 2u);
  auto jobs = (*store)->ListSweepJobs("s-1");
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].launcher, "slurm");
  EXPECT_EQ((*jobs)[0].job_id, "101");

  ASSERT_TRUE(launchers.CancelSweep("s-1").ok());
  EXPECT_THAT(slurm->cancelled, ElementsAre("101", "102"));

  // A kind this coordinator has no launcher for is refused, except "local"
  // (workers started by hand).
  SweepRecord k8s = sweep;
  k8s.sweep_id = "s-2";
  k8s.spec.mutable_launcher()->set_kind("kubernetes");
  a.set_trial_id("s-2-t0");
  a.set_sweep_id("s-2");
  ASSERT_TRUE((*store)->InsertSweep(k8s, {a}).ok());
  const absl::Status refused = launchers.LaunchSweep("s-2").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("cannot launch 'kubernetes' workers"));

  SweepRecord local = sweep;
  local.sweep_id = "s-3";
  local.spec.mutable_launcher()->set_kind("local");
  a.set_trial_id("s-3-t0");
  a.set_sweep_id("s-3");
  ASSERT_TRUE((*store)->InsertSweep(local, {a}).ok());
  EXPECT_TRUE(launchers.LaunchSweep("s-3").ok());
  EXPECT_EQ(slurm->launches.size(), 1u);

  // A launcher's failure is the caller's, and nothing is recorded.
  slurm->fail = absl::UnavailableError("sbatch exited 1: no partition");
  SweepRecord failing = sweep;
  failing.sweep_id = "s-4";
  a.set_trial_id("s-4-t0");
  a.set_sweep_id("s-4");
  ASSERT_TRUE((*store)->InsertSweep(failing, {a}).ok());
  EXPECT_TRUE(absl::IsUnavailable(launchers.LaunchSweep("s-4").status()));
  EXPECT_TRUE((*store)->ListSweepJobs("s-4")->empty());
}

// The coordinator launches on SubmitSweep and scancels on CancelSweep, through
// a real server and stub; sbatch and scancel are fakes.
TEST_F(SlurmLauncherTest, CoordinatorLaunchesOnSubmitAndCancelsWithTheSweep) {
  CoordinatorOptions options;
  options.db_path = dir_.File("coordinator.db");
  options.listen_address = "0.0.0.0:0";  // workers are told the hostname, not 0.0.0.0
  options.launchers.push_back(std::make_shared<SlurmLauncher>(Options()));
  auto server = CoordinatorServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::Coordinator::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));

  v1::SubmitSweepRequest submit;
  *submit.mutable_spec() = testing::SmallSweepSpec();
  submit.mutable_spec()->mutable_launcher()->set_kind("slurm");
  submit.mutable_spec()->mutable_launcher()->set_workers(1);
  v1::SubmitSweepResponse submitted;
  {
    grpc::ClientContext context;
    const grpc::Status status = stub->SubmitSweep(&context, submit, &submitted);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  const std::string sweep_id = submitted.sweep_id();
  auto jobs = (*server)->store().ListSweepJobs(sweep_id);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].job_id, "4242");
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  const std::string script = ReadFile(dir_.path() / "jobs" / sweep_id / "workers.sbatch");
  EXPECT_THAT(script, HasSubstr(absl::StrCat("coordinator='", host, ":", (*server)->port(), "'")));
  EXPECT_THAT(script, HasSubstr("#SBATCH --array=0-1%1\n"));

  v1::CancelSweepRequest cancel;
  cancel.set_sweep_id(sweep_id);
  v1::CancelSweepResponse cancelled;
  {
    grpc::ClientContext context;
    const grpc::Status status = stub->CancelSweep(&context, cancel, &cancelled);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(cancelled.cancelled_trials(), 2u);
  EXPECT_EQ(ReadFile(dir_.File("scancel.args")), "4242\n");
}

TEST_F(SlurmLauncherTest, CoordinatorCancelsASweepWhoseJobsSbatchRefused) {
  SlurmLauncherOptions slurm = Options();
  slurm.sbatch =
      WriteExecutable(dir_, "bad-sbatch",
                      "echo 'sbatch: error: Invalid account or account/partition' >&2\nexit 1\n");
  CoordinatorOptions options;
  options.db_path = dir_.File("coordinator.db");
  options.launchers.push_back(std::make_shared<SlurmLauncher>(slurm));
  auto server = CoordinatorServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::Coordinator::NewStub(
      grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials()));

  v1::SubmitSweepRequest submit;
  *submit.mutable_spec() = testing::SmallSweepSpec();
  submit.mutable_spec()->mutable_launcher()->set_kind("slurm");
  v1::SubmitSweepResponse submitted;
  grpc::ClientContext context;
  const grpc::Status status = stub->SubmitSweep(&context, submit, &submitted);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("was cancelled: its workers could not be started"));
  EXPECT_THAT(status.error_message(), HasSubstr("Invalid account or account/partition"));
  auto sweeps = (*server)->store().ListSweeps();
  ASSERT_TRUE(sweeps.ok());
  ASSERT_EQ(sweeps->size(), 1u);
  EXPECT_TRUE((*sweeps)[0].cancelled);
}

}  // namespace
}  // namespace scalelaw::coordinator
