// Starts worker processes on this machine:
//   <worker_binary> --coordinator ADDR --sweep ID --exit-when-idle [--threads T]
//                   [--token-file F] [EXTRA_ARGS...]  (e.g. --tls-ca F)
// each with stdin from /dev/null and stdout+stderr to <log_dir>/worker-<i>.log,
// in its own process group (so a terminal's Ctrl-C reaches only the parent,
// which then stops the workers in order).
//
// The destructor stops children still running: SIGTERM, a grace period, then
// SIGKILL, and reaps them, so no worker outlives its launcher.
//
// Thread safety: none; one owner drives a launcher.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/launcher.h"

namespace scalelaw::coordinator {

struct LocalLauncherOptions {
  std::string worker_binary;        // path to scalelaw-worker
  std::string coordinator_address;  // host:port
  std::string sweep_id;
  int num_workers = 1;
  uint32_t threads = 0;           // 0: pass no --threads
  std::string token_file;         // passed as --token-file when set
  // Passed after the other flags: TLS flags from WorkerTlsArgs, e.g.
  // {"--tls-ca", "/etc/scalelaw/ca.pem"}.
  std::vector<std::string> extra_args;
  std::filesystem::path log_dir;  // created when missing
  // Grace between SIGTERM and SIGKILL in the destructor.
  std::chrono::milliseconds stop_grace{5000};
};

// How a worker process ended.
struct WorkerExit {
  pid_t pid = 0;
  bool exited = false;  // true: exit_code is set; false: killed by `signal`
  int exit_code = 0;
  int signal = 0;

  bool ok() const { return exited && exit_code == 0; }
  std::string ToString() const;  // "exit 0", "killed by signal 9 (Killed)"
};

class LocalLauncher {
 public:
  // Spawns every worker. INVALID_ARGUMENT for bad options, NOT_FOUND when the
  // worker binary is missing or not executable; on a spawn failure the
  // workers already started are stopped.
  static absl::StatusOr<std::unique_ptr<LocalLauncher>> Launch(const LocalLauncherOptions& options);

  ~LocalLauncher();
  LocalLauncher(const LocalLauncher&) = delete;
  LocalLauncher& operator=(const LocalLauncher&) = delete;

  int size() const { return static_cast<int>(children_.size()); }
  pid_t pid(int i) const { return children_.at(i).pid; }
  const std::filesystem::path& log_path(int i) const { return children_.at(i).log_path; }
  // The command line of worker i, for logs.
  std::vector<std::string> Command(int i) const;

  // Sends `signal` to worker i. OUT_OF_RANGE for a bad index,
  // FAILED_PRECONDITION when it has already been reaped.
  absl::Status Kill(int i, int signal);

  // Waits until every worker has ended or `timeout` passes. Returns each
  // worker's exit in launch order; DEADLINE_EXCEEDED (naming the workers still
  // running, which are left running) on timeout.
  absl::StatusOr<std::vector<WorkerExit>> WaitAll(std::chrono::milliseconds timeout);

  // Reaps whatever has ended, without blocking; nullopt for a running worker.
  std::vector<std::optional<WorkerExit>> Poll();

 private:
  struct Child {
    pid_t pid = 0;
    std::filesystem::path log_path;
    std::vector<std::string> argv;
    std::optional<WorkerExit> exit;
  };
  explicit LocalLauncher(const LocalLauncherOptions& options) : options_(options) {}
  absl::Status Spawn(int index);
  void StopAll();

  LocalLauncherOptions options_;
  std::vector<Child> children_;
};

// The `local` launcher kind behind the Launcher interface, for a standalone
// coordinator (`scalelaw coordinator`): each Launch starts launcher.workers
// worker processes (at most one per trial) on this machine with a
// LocalLauncher, logs in <log_dir>/<sweep_id>/worker-<i>.log. A spec with
// launcher.workers 0 starts none (workers are then started by hand or by
// `scalelaw run`). Job ids are process ids; Cancel sends SIGTERM to the
// processes this object started and ignores other ids (an earlier
// coordinator's pids may have been reused). Destruction stops every worker
// still running (see ~LocalLauncher).
//
// Thread safety: Launch and Cancel may be called from any thread.
class LocalSweepLauncher final : public Launcher {
 public:
  LocalSweepLauncher(std::string worker_binary, std::filesystem::path log_dir)
      : worker_binary_(std::move(worker_binary)), log_dir_(std::move(log_dir)) {}

  std::string kind() const override { return "local"; }
  absl::StatusOr<std::vector<std::string>> Launch(const SweepLaunch& launch) override;
  absl::Status Cancel(const std::vector<std::string>& job_ids) override;

 private:
  const std::string worker_binary_;
  const std::filesystem::path log_dir_;
  std::mutex mu_;
  std::vector<std::unique_ptr<LocalLauncher>> launched_;  // guarded by mu_
};

}  // namespace scalelaw::coordinator
