// A real `scalelaw coordinator` child process for a benchmark: started on
// 127.0.0.1 (gRPC and /metrics on ports the kernel picks) with a fresh store
// and a token file (mode 0600) in a directory of its own, read from /proc
// while it runs, and stopped with SIGTERM, then SIGKILL after a bound.
//
//   SCALELAW_ASSIGN_OR_RETURN(auto coordinator, CoordinatorProcess::Start(options));
//   coordinator->address();      // "127.0.0.1:PORT"
//   coordinator->RssMb();        // VmRSS
//   coordinator->Stop();         // also done by the destructor, on every path
//
// Start must be called before the calling process creates threads of its own
// (it forks). The child gets SIGTERM when this process dies (PR_SET_PDEATHSIG),
// so a crashed benchmark leaves no coordinator behind.
//
// Thread safety: RssMb and CpuSeconds may be called from any thread; Start,
// Stop and the destructor from one owner.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace scalelaw::bench {

struct CoordinatorProcessOptions {
  std::string scalelaw_binary;          // the `scalelaw` executable
  std::filesystem::path dir;            // empty directory: state.db, token, coordinator.log, jobs/
  std::vector<std::string> extra_args;  // appended, e.g. {"--heartbeat-interval-s", "5"}
  std::chrono::milliseconds start_timeout{30000};  // until the "listening on" line
  std::chrono::milliseconds stop_grace{10000};     // SIGTERM -> SIGKILL
};

class CoordinatorProcess {
 public:
  // Writes the token file, spawns the coordinator and waits for it to log its
  // address. NOT_FOUND for a missing binary; DEADLINE_EXCEEDED or INTERNAL
  // (with the log's tail) when it does not come up; the child is stopped then.
  static absl::StatusOr<std::unique_ptr<CoordinatorProcess>> Start(
      const CoordinatorProcessOptions& options);

  ~CoordinatorProcess();
  CoordinatorProcess(const CoordinatorProcess&) = delete;
  CoordinatorProcess& operator=(const CoordinatorProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& address() const { return address_; }  // gRPC host:port
  const std::string& token() const { return token_; }
  std::filesystem::path db_path() const { return options_.dir / "state.db"; }
  std::filesystem::path log_path() const { return options_.dir / "coordinator.log"; }

  // Resident set (VmRSS of /proc/PID/status), MiB.
  absl::StatusOr<double> RssMb() const;
  // User + system CPU time of the process so far (/proc/PID/stat), seconds.
  absl::StatusOr<double> CpuSeconds() const;

  // SIGTERM, then SIGKILL once stop_grace has passed; reaps the child. OK
  // when it exited 0 after SIGTERM; INTERNAL saying how it ended otherwise.
  // A second call returns the first one's answer.
  absl::Status Stop();

  // The last `bytes` of the coordinator's log, for error messages.
  std::string LogTail(size_t bytes = 2000) const;

 private:
  explicit CoordinatorProcess(CoordinatorProcessOptions options);

  CoordinatorProcessOptions options_;
  pid_t pid_ = 0;
  std::string address_;
  std::string token_;
  bool stopped_ = false;
  absl::Status stop_status_;
};

}  // namespace scalelaw::bench
