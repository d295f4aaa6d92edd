// The Slurm launcher: one job array of `scalelaw worker` processes per sweep.
//
//   SlurmLauncher launcher({.scalelaw_binary = "/opt/scalelaw/bin/scalelaw",
//                           .job_dir = "/shared/scalelaw/jobs"});
//   auto job_ids = launcher.Launch(launch);   // {"4711"}
//   launcher.Cancel(*job_ids);                // scancel 4711
//
// Launch writes <job_dir>/<sweep_id>/workers.sbatch (SbatchScript) and runs
// `sbatch --parsable` on it; the workers' logs go to
// <job_dir>/<sweep_id>/logs/worker-<array job>_<task>.log. Both directories
// and the binary must be visible at the same paths on the compute nodes (a
// shared file system), since the script names them absolutely.
//
// The array has one task per trial (--array=0-(N-1)%P, N = trials capped at
// kMaxArrayTasks, P = launcher.workers, never more than N; P = 0 leaves the
// parallelism to Slurm). Each task is one worker that leases trials until the
// sweep has no work left, so the first P tasks do the work and later ones
// replace workers that crashed, hit their time limit or were preempted, and
// exit at once when nothing is left.
//
// Preemption and time limits: Slurm sends launcher.slurm.signal to the batch
// shell launcher.slurm.signal_seconds before the time limit
// (--signal=B:SIG@SECS). The script forwards SIGTERM to the worker, which
// checkpoints its trial, gives it back as retriable ("preempted") and exits
// 75 when the sweep still has work; the script then requeues its own task
// (`scontrol requeue`, allowed by --requeue) unless the job is being
// cancelled. The trial's next attempt, on whichever worker leases it first,
// resumes from the checkpoint.
//
// Every program runs from an argument vector (RunCommand), never through a
// shell; spec values that reach the script are checked by the spec validator
// and again by SbatchScript, and the script's shell variables are quoted.
//
// Thread safety: Launch and Cancel may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/launcher.h"

namespace scalelaw::coordinator {

// Slurm's default MaxArraySize is 1001 (indices 0..1000).
inline constexpr uint32_t kMaxArrayTasks = 1000;


// --array=0-(size-1)%parallel; parallel 0: no throttle.
struct SlurmArray {
  uint32_t size = 0;
  uint32_t parallel = 0;
};
SlurmArray ArrayFor(const SweepLaunch& launch);

// The batch script for `launch` (pure: no files, no Slurm). `scalelaw_binary`
// and `log_dir` must be absolute. INVALID_ARGUMENT for a launch it cannot
// express safely (no trials, relative paths, values with whitespace, quotes or
// control characters), naming the field.
absl::StatusOr<std::string> SbatchScript(const SweepLaunch& launch,
                                         const std::string& scalelaw_binary,
                                         const std::string& log_dir);

// The job id in `sbatch --parsable` output ("4711" or "4711;cluster").
absl::StatusOr<std::string> ParseSbatchJobId(const std::string& output);

struct SlurmLauncherOptions {
  std::string scalelaw_binary;    // absolute path of `scalelaw`, run as `scalelaw worker`
  std::filesystem::path job_dir;  // scripts and logs, one directory per sweep
  // The Slurm client programs, looked up in PATH unless given with a '/'.
  std::string sbatch = "sbatch";
  std::string scancel = "scancel";
  std::chrono::milliseconds command_timeout{60000};
};

class SlurmLauncher final : public Launcher {
 public:
  explicit SlurmLauncher(SlurmLauncherOptions options);

  std::string kind() const override { return "slurm"; }
  // Returns the array job's id. UNAVAILABLE when sbatch fails (its stderr in
  // the message), INVALID_ARGUMENT from SbatchScript.
  absl::StatusOr<std::vector<std::string>> Launch(const SweepLaunch& launch) override;
  // scancel on every id (a whole array job with its pending and running
  // tasks). Jobs that have already ended are not an error.
  absl::Status Cancel(const std::vector<std::string>& job_ids) override;

  // Where Launch writes a sweep's script and its workers' logs.
  std::filesystem::path ScriptPath(const std::string& sweep_id) const;
  std::filesystem::path LogDir(const std::string& sweep_id) const;

 private:
  const SlurmLauncherOptions options_;
};

}  // namespace scalelaw::coordinator
