// The exit statuses of `scalelaw worker`, the contract between a worker and
// whatever restarts it: the Slurm batch script requeues its task on
// kStoppedWithWorkLeft, and the Kubernetes Job's podFailurePolicy ignores
// kStoppedWithWorkLeft (a replacement pod starts) and fails the Job at once
// on kRefused and kBadFlags instead of retrying a worker that cannot work.
#pragma once

namespace scalelaw::worker_exit {

// Out of work (--exit-when-idle), or stopped when the sweep had none left.
inline constexpr int kDone = 0;
// The coordinator could not be reached for --connect-timeout-s, or a trial
// step failed in a way a restart may cure.
inline constexpr int kUnavailable = 1;
// Bad command-line flags (CLI11's convention).
inline constexpr int kBadFlags = 2;
// The coordinator refused the worker for good: a missing or wrong token, an
// unknown sweep, a malformed request. Restarting cannot help.
inline constexpr int kRefused = 3;
// Stopped by a signal (preemption, a time limit's warning, scancel) after
// checkpointing, while the sweep still has work: start a worker again.
// EX_TEMPFAIL from sysexits.h.
inline constexpr int kStoppedWithWorkLeft = 75;

}  // namespace scalelaw::worker_exit
