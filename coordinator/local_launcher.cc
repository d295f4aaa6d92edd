#include "coordinator/local_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "coordinator/launch_file.h"

extern char** environ;

namespace scalelaw::coordinator {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(20);

WorkerExit ExitOf(pid_t pid, int wait_status) {
  WorkerExit exit;
  exit.pid = pid;
  if (WIFEXITED(wait_status)) {
    exit.exited = true;
    exit.exit_code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    exit.signal = WTERMSIG(wait_status);
  }
  return exit;
}

// Owns posix_spawn's attribute objects for one spawn.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

std::string WorkerExit::ToString() const {
  if (exited) return absl::StrCat("exit ", exit_code);
  return absl::StrCat("killed by signal ", signal, " (", strsignal(signal), ")");
}

absl::StatusOr<std::unique_ptr<LocalLauncher>> LocalLauncher::Launch(
    const LocalLauncherOptions& options) {
  if (options.num_workers < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_workers: must be >= 1, got ", options.num_workers));
  }
  if (options.coordinator_address.empty()) {
    return absl::InvalidArgumentError("coordinator_address: must not be empty");
  }
  if (options.sweep_id.empty()) return absl::InvalidArgumentError("sweep_id: must not be empty");
  if (options.log_dir.empty()) return absl::InvalidArgumentError("log_dir: must not be empty");
  if (access(options.worker_binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("worker binary '", options.worker_binary,
                                            "' is missing or not executable: ", strerror(errno)));
  }
  std::error_code error;
  std::filesystem::create_directories(options.log_dir, error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("cannot create log directory '",
                                               options.log_dir.string(), "': ", error.message()));
  }
  std::unique_ptr<LocalLauncher> launcher(new LocalLauncher(options));
  for (int i = 0; i < options.num_workers; ++i) {
    SCALELAW_RETURN_IF_ERROR(launcher->Spawn(i));  // the destructor stops those started
  }
  return launcher;
}

absl::Status LocalLauncher::Spawn(int index) {
  Child child;
  child.log_path = options_.log_dir / absl::StrCat("worker-", index, ".log");
  child.argv = {options_.worker_binary, "--coordinator",   options_.coordinator_address, "--sweep",
                options_.sweep_id,      "--exit-when-idle"};
  if (options_.threads > 0) {
    child.argv.push_back("--threads");
    child.argv.push_back(std::to_string(options_.threads));
  }
  if (!options_.token_file.empty()) {
    child.argv.push_back("--token-file");
    child.argv.push_back(options_.token_file);
  }
  child.argv.insert(child.argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<char*> argv;
  for (std::string& arg : child.argv) argv.push_back(arg.data());
  argv.push_back(nullptr);

  SpawnSetup setup;
  posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&setup.actions, STDOUT_FILENO, child.log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&setup.actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&setup.attr, 0);

  const int rc = posix_spawn(&child.pid, options_.worker_binary.c_str(), &setup.actions,
                             &setup.attr, argv.data(), environ);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("cannot start worker ", index, " (",
                                            options_.worker_binary, "): ", strerror(rc)));
  }
  children_.push_back(std::move(child));
  return absl::OkStatus();
}

std::vector<std::string> LocalLauncher::Command(int i) const { return children_.at(i).argv; }

absl::Status LocalLauncher::Kill(int i, int signal) {
  if (i < 0 || i >= size()) {
    return absl::OutOfRangeError(absl::StrCat("worker index ", i, " not in [0, ", size(), ")"));
  }
  Poll();
  if (children_[i].exit) {
    return absl::FailedPreconditionError(
        absl::StrCat("worker ", i, " has already ended (", children_[i].exit->ToString(), ")"));
  }
  if (::kill(children_[i].pid, signal) != 0) {
    return absl::InternalError(absl::StrCat("kill(", children_[i].pid, "): ", strerror(errno)));
  }
  return absl::OkStatus();
}

std::vector<std::optional<WorkerExit>> LocalLauncher::Poll() {
  std::vector<std::optional<WorkerExit>> exits;
  for (Child& child : children_) {
    if (!child.exit) {
      int status = 0;
      pid_t pid = waitpid(child.pid, &status, WNOHANG);
      if (pid == child.pid) child.exit = ExitOf(pid, status);
    }
    exits.push_back(child.exit);
  }
  return exits;
}

absl::StatusOr<std::vector<WorkerExit>> LocalLauncher::WaitAll(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::vector<std::optional<WorkerExit>> exits = Poll();
    std::vector<std::string> running;
    std::vector<WorkerExit> ended;
    for (size_t i = 0; i < exits.size(); ++i) {
      if (exits[i]) {
        ended.push_back(*exits[i]);
      } else {
        running.push_back(absl::StrCat(i, " (pid ", children_[i].pid, ")"));
      }
    }
    if (running.empty()) return ended;
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "workers still running after ", timeout.count(), " ms: ", absl::StrJoin(running, ", ")));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

void LocalLauncher::StopAll() {
  Poll();
  bool any_running = false;
  for (Child& child : children_) {
    if (!child.exit) {
      ::kill(child.pid, SIGTERM);
      any_running = true;
    }
  }
  if (!any_running) return;
  if (WaitAll(options_.stop_grace).ok()) return;
  for (Child& child : children_) {
    if (child.exit) continue;
    ::kill(child.pid, SIGKILL);
    int status = 0;
    if (waitpid(child.pid, &status, 0) == child.pid) child.exit = ExitOf(child.pid, status);
  }
}

LocalLauncher::~LocalLauncher() { StopAll(); }

absl::StatusOr<std::vector<std::string>> LocalSweepLauncher::Launch(const SweepLaunch& launch) {
  const uint32_t workers = ParallelWorkers(launch);
  if (workers == 0) return std::vector<std::string>();
  LocalLauncherOptions options;
  SCALELAW_ASSIGN_OR_RETURN(options.extra_args, WorkerTlsArgs(launch));
  options.worker_binary = worker_binary_;
  options.coordinator_address = launch.coordinator_address;
  options.sweep_id = launch.sweep_id;
  options.num_workers = static_cast<int>(workers);
  options.threads = launch.threads;
  options.token_file = launch.token_file;
  SCALELAW_RETURN_IF_ERROR(RequirePlainSweepId(launch.sweep_id));  // names a directory
  options.log_dir = log_dir_ / launch.sweep_id;
  SCALELAW_ASSIGN_OR_RETURN(std::unique_ptr<LocalLauncher> launcher,
                            LocalLauncher::Launch(options));
  std::vector<std::string> pids;
  for (int i = 0; i < launcher->size(); ++i) pids.push_back(std::to_string(launcher->pid(i)));
  std::lock_guard lock(mu_);
  for (auto& earlier : launched_) earlier->Poll();  // reaps workers that have exited
  launched_.push_back(std::move(launcher));
  return pids;
}

absl::Status LocalSweepLauncher::Cancel(const std::vector<std::string>& job_ids) {
  std::lock_guard lock(mu_);
  for (auto& launcher : launched_) {
    for (int i = 0; i < launcher->size(); ++i) {
      if (std::find(job_ids.begin(), job_ids.end(), std::to_string(launcher->pid(i))) ==
          job_ids.end()) {
        continue;
      }
      absl::Status killed = launcher->Kill(i, SIGTERM);
      if (!killed.ok() && !absl::IsFailedPrecondition(killed)) return killed;  // ended: fine
    }
  }
  return absl::OkStatus();
}

}  // namespace scalelaw::coordinator
