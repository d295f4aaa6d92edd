// Launchers start the workers of a sweep somewhere and stop them again. The
// sweep spec's `launcher.kind` picks one per sweep:
//
//   local       worker processes on the coordinator's machine (LocalSweepLauncher)
//   slurm       a job array of `scalelaw worker` processes (SlurmLauncher)
//   kubernetes  an Indexed Job of worker pods (KubernetesLauncher)
//
// A launcher only starts processes that then lease trials like any other
// worker, so launching adds nothing to the trial life cycle: whatever the
// launched workers do (crash, time out, get preempted, resend), each trial
// still ends once, through TrialScheduler.
//
// Launch returns the ids of what it started (Slurm job ids, process ids);
// the coordinator records them with the sweep (Store::RecordSweepJob) so that
// cancelling the sweep can stop them, even after a coordinator restart for
// launchers whose ids outlive the coordinator (Slurm).
//
// Thread safety: implementations must allow Launch and Cancel from any thread
// (the coordinator calls them from its launch thread, one call at a time).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/coordinator_tls.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::coordinator {

// What a launcher needs to start one sweep's workers.
struct SweepLaunch {
  std::string sweep_id;
  v1::LauncherConfig launcher;      // from the sweep spec
  // Trials of the sweep not yet ended at this launch (all of them at submit,
  // the requeued and leftover ones at a resume): more workers would idle.
  uint32_t n_trials = 0;
  // Launches of this sweep by this launcher before this one (0 at submit),
  // so a relaunch can name its job apart from the earlier ones.
  uint32_t launch_index = 0;
  uint32_t threads = 0;             // the spec's training.threads (CPU threads per worker)
  std::string coordinator_address;  // host:port the workers dial
  // The coordinator token's file, passed to workers as --token-file; empty:
  // workers read $SCALELAW_TOKEN (inherited, or from a Kubernetes Secret).
  std::string token_file;
  // The coordinator requires a token: a launcher that cannot hand it to its
  // workers must refuse the launch rather than start workers that cannot work.
  bool token_required = false;
  // The coordinator serves TLS, and requires client certificates (mutual
  // TLS). Launchers must hand their workers what that takes, or refuse.
  bool tls_required = false;
  bool client_cert_required = false;
  // The TLS files (absolute paths) that file-based launchers (local, Slurm)
  // pass to workers; see WorkerTlsArgs. Kubernetes workers take them from
  // launcher.kubernetes.tls_secret instead.
  ClientTls tls;
};

// FAILED_PRECONDITION when `launch`'s workers would have to send the token in
// clear text off loopback (which they refuse; see proto/coordinator_tls.h):
// the coordinator serves plaintext, the address they dial is not loopback,
// and tls.insecure_token_over_plaintext is not set.
absl::Status CheckWorkerTransport(const SweepLaunch& launch);

// The worker flags for `launch`'s TLS: --tls-ca FILE, --tls-cert FILE
// --tls-key FILE, --insecure-token-over-plaintext, as needed (none for a
// plaintext coordinator). CheckWorkerTransport's error, or
// FAILED_PRECONDITION naming the coordinator flag to give when the
// coordinator serves TLS without a CA for its workers (--worker-tls-ca or
// --tls-ca), or requires client certificates and has none for them
// (--worker-tls-cert and --worker-tls-key).
absl::StatusOr<std::vector<std::string>> WorkerTlsArgs(const SweepLaunch& launch);

class Launcher {
 public:
  virtual ~Launcher() = default;

  // The `launcher.kind` this launcher serves ("local", "slurm").
  virtual std::string kind() const = 0;

  // Starts the sweep's workers and returns the ids of what it started (may be
  // empty when the spec asks for no workers). INVALID_ARGUMENT for a launch
  // this launcher cannot express, UNAVAILABLE / INTERNAL when the cluster
  // refused it (the message carries the cluster's own words).
  virtual absl::StatusOr<std::vector<std::string>> Launch(const SweepLaunch& launch) = 0;

  // Stops what Launch started. Ids that have already ended are not an error.
  virtual absl::Status Cancel(const std::vector<std::string>& job_ids) = 0;
};

// Workers worth starting at once: launcher.workers, but never more than the
// sweep has trials.
inline uint32_t ParallelWorkers(const SweepLaunch& launch) {
  return std::min(launch.launcher.workers(), launch.n_trials);
}

}  // namespace scalelaw::coordinator
