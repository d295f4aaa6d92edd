// The Kubernetes launcher: one Indexed Job of `scalelaw worker` pods per sweep.
//
//   KubernetesLauncher launcher({.manifest_dir = "/var/lib/scalelaw/jobs/kubernetes"});
//   auto ids = launcher.Launch(launch);  // {"ml/scalelaw-grid-1"} once applied
//   launcher.Cancel(*ids);               // kubectl delete job scalelaw-grid-1 -n ml
//
// Launch writes <manifest_dir>/<sweep_id>/job.yaml (JobManifest) and, when
// kubectl is on the coordinator's PATH, applies it (`kubectl apply -f`; the
// coordinator's service account needs the chart's RBAC) and returns the Job
// as "NAMESPACE/NAME" (or "NAME" without a namespace). Without kubectl it
// returns "manifest:<path>": the coordinator records that, `sweep submit` and
// `sweep status` print it with the `kubectl apply -f` to run, and nothing is
// lost by the user applying it later.
//
// Each index of the Job is one worker that leases trials until the sweep has
// no work and exits 0: completions = parallelism = launcher.workers (0: one
// per unended trial, at most kMaxJobCompletions), never more than the trials
// left. The Job controller starts a new pod for an index whose pod failed,
// so a crashed, evicted or preempted worker is replaced; backoffLimit (three
// per index) bounds the crashes, and each trial's own attempts stay bounded
// by max_attempts. A relaunch (`sweep resume`) applies a Job of its own,
// "<name>-r<N>", since a finished Job of the same name would be left
// "unchanged" by kubectl apply. The podFailurePolicy (Kubernetes >= 1.26)
// reads the worker's exit status (proto/worker_exit.h):
//   - 2 (bad flags) or 3 (refused: wrong token, unknown sweep): FailJob, since
//     restarting cannot help;
//   - 75 (stopped by SIGTERM after checkpointing, work left): Ignore, so a
//     replacement pod starts without using the backoffLimit;
//   - a DisruptionTarget condition (preemption, eviction, node drain): Ignore.
// Any other failure (a crash, an OOM kill) counts against backoffLimit.
// The pod's terminationGracePeriodSeconds gives the worker time to
// checkpoint on SIGTERM; launcher.resources.time_limit_minutes becomes the
// pod's activeDeadlineSeconds. The coordinator token reaches the workers as
// $SCALELAW_TOKEN from the Secret launcher.kubernetes.token_secret (key
// "token"), never in the manifest. For a TLS coordinator the Secret
// launcher.kubernetes.tls_secret is mounted at /etc/scalelaw/tls and the
// workers get --tls-ca /etc/scalelaw/tls/ca.crt (and, for mutual TLS,
// --tls-cert tls.crt --tls-key tls.key from it).
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

// Jobs with more completions are legal, but more workers than this for one
// sweep would mostly wait on the coordinator.
inline constexpr uint32_t kMaxJobCompletions = 1000;
// Seconds a worker pod gets between SIGTERM and SIGKILL to checkpoint.
inline constexpr uint32_t kWorkerGraceSeconds = 120;

// "scalelaw-<sweep id>" (launch 0) or "scalelaw-<sweep id>-r<N>" (launch N)
// as a DNS-1123 label: lower case, [a-z0-9-], at most 63 characters; ids that
// had to change get a short hash so two sweeps never share a name.
std::string KubernetesJobName(const std::string& sweep_id, uint32_t launch_index = 0);

// Slurm-style memory ("16G", bare megabytes "4000") as a Kubernetes quantity
// ("16Gi", "4000Mi"); both mean powers of 1024.
std::string KubernetesMemory(const std::string& slurm_memory);

// The Indexed Job for `launch` as YAML (pure). `worker_program` is the
// `scalelaw` binary inside the image. INVALID_ARGUMENT (naming the field) for
// a launch without trials, image or coordinator address, or without
// launcher.kubernetes.token_secret when the coordinator requires a token, or
// launcher.kubernetes.tls_secret when it serves TLS; FAILED_PRECONDITION
// when the workers would send the token in clear text (CheckWorkerTransport).
absl::StatusOr<std::string> JobManifest(const SweepLaunch& launch,
                                        const std::string& worker_program = "scalelaw");

struct KubernetesLauncherOptions {
  std::filesystem::path manifest_dir;  // one directory per sweep
  std::string kubectl = "kubectl";     // looked up in PATH unless given with a '/'
  std::string worker_program = "scalelaw";
  std::chrono::milliseconds command_timeout{60000};
};

class KubernetesLauncher final : public Launcher {
 public:
  explicit KubernetesLauncher(KubernetesLauncherOptions options);

  std::string kind() const override { return "kubernetes"; }
  // The applied Job's "NAMESPACE/NAME", or "manifest:<path>" without
  // kubectl. UNAVAILABLE when kubectl refuses the manifest (its stderr in the
  // message).
  absl::StatusOr<std::vector<std::string>> Launch(const SweepLaunch& launch) override;
  // Deletes applied Jobs (their pods go with them); "manifest:" ids were never
  // applied by the coordinator and are skipped.
  absl::Status Cancel(const std::vector<std::string>& job_ids) override;

  // job.yaml for the first launch, job-r<N>.yaml for relaunch N.
  std::filesystem::path ManifestPath(const std::string& sweep_id, uint32_t launch_index = 0) const;

 private:
  const KubernetesLauncherOptions options_;
};

}  // namespace scalelaw::coordinator
