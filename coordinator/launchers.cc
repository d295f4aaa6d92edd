#include "coordinator/launchers.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace scalelaw::coordinator {

Launchers::Launchers(Store* store, const Clock* clock,
                     std::function<std::string()> default_coordinator_address)
    : store_(store),
      clock_(clock),
      default_coordinator_address_(std::move(default_coordinator_address)) {}

void Launchers::Add(std::shared_ptr<Launcher> launcher) {
  const std::string kind = launcher->kind();
  launchers_[kind] = std::move(launcher);
}

absl::StatusOr<std::vector<SweepJob>> Launchers::LaunchSweep(const std::string& sweep_id) {
  SCALELAW_ASSIGN_OR_RETURN(SweepRecord sweep, store_->GetSweep(sweep_id));
  const v1::LauncherConfig& config = sweep.spec.launcher();
  const std::string kind = config.kind().empty() ? "local" : config.kind();
  auto it = launchers_.find(kind);
  if (it == launchers_.end()) {
    if (kind == "local") return std::vector<SweepJob>();  // workers started by hand
    std::vector<std::string> kinds;
    for (const auto& [name, launcher] : launchers_) kinds.push_back(name);
    return absl::FailedPreconditionError(absl::StrCat(
        "launcher.kind: this coordinator cannot launch '", kind,
        "' workers (it launches: ", kinds.empty() ? "none" : absl::StrJoin(kinds, ", "), ")"));
  }
  SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::Trial> trials, store_->ListTrials(sweep_id));
  SCALELAW_ASSIGN_OR_RETURN(std::vector<SweepJob> earlier, store_->ListSweepJobs(sweep_id));
  SweepLaunch launch;
  launch.sweep_id = sweep_id;
  launch.launcher = config;
  launch.n_trials = static_cast<uint32_t>(std::count_if(
      trials.begin(), trials.end(), [](const v1::Trial& t) { return !IsEnded(t.state()); }));
  launch.launch_index = static_cast<uint32_t>(std::count_if(
      earlier.begin(), earlier.end(), [&](const SweepJob& job) { return job.launcher == kind; }));
  launch.threads = sweep.spec.training().threads();
  launch.token_file = token_file_;
  launch.token_required = token_required_;
  launch.tls_required = tls_required_;
  launch.client_cert_required = client_cert_required_;
  launch.tls = worker_tls_;
  launch.coordinator_address = config.coordinator_address().empty() ? default_coordinator_address_()
                                                                    : config.coordinator_address();
  SCALELAW_ASSIGN_OR_RETURN(std::vector<std::string> job_ids, it->second->Launch(launch));
  const int64_t now_ms = clock_->NowMs();
  std::vector<SweepJob> jobs;
  for (const std::string& job_id : job_ids) {
    SCALELAW_RETURN_IF_ERROR(store_->RecordSweepJob(sweep_id, kind, job_id, now_ms));
    jobs.push_back(SweepJob{sweep_id, kind, job_id, now_ms});
  }
  if (!job_ids.empty()) {
    spdlog::info("sweep {}: started {} workers ({} job {}), dialling {}", sweep_id, kind, kind,
                 absl::StrJoin(job_ids, ", "), launch.coordinator_address);
  }
  return jobs;
}

absl::Status CheckWorkerTransport(const SweepLaunch& launch) {
  if (launch.token_required && !launch.tls_required &&
      !launch.tls.insecure_token_over_plaintext &&
      !IsLoopbackAddress(launch.coordinator_address)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "launcher: workers would send the token in clear text to ", launch.coordinator_address,
        ", which they refuse: start the coordinator with --tls-cert/--tls-key (workers get "
        "--worker-tls-ca), or with ",
        kInsecureTokenFlag, " on a network you trust"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> WorkerTlsArgs(const SweepLaunch& launch) {
  SCALELAW_RETURN_IF_ERROR(CheckWorkerTransport(launch));
  std::vector<std::string> args;
  if (launch.tls_required) {
    if (launch.tls.ca_file.empty()) {
      return absl::FailedPreconditionError(
          "--worker-tls-ca: required to launch workers against this TLS coordinator (the CA "
          "that signed its certificate, at a path the workers can read; default: --tls-ca)");
    }
    args.insert(args.end(), {"--tls-ca", launch.tls.ca_file});
    if (launch.client_cert_required) {
      if (launch.tls.cert_file.empty() || launch.tls.key_file.empty()) {
        return absl::FailedPreconditionError(
            "--worker-tls-cert and --worker-tls-key: required to launch workers, since this "
            "coordinator requires client certificates (--tls-ca)");
      }
      args.insert(args.end(),
                  {"--tls-cert", launch.tls.cert_file, "--tls-key", launch.tls.key_file});
    }
  }
  if (launch.tls.insecure_token_over_plaintext) args.push_back(kInsecureTokenFlag);
  return args;
}

absl::Status Launchers::CancelSweep(const std::string& sweep_id) {
  SCALELAW_ASSIGN_OR_RETURN(std::vector<SweepJob> jobs, store_->ListSweepJobs(sweep_id));
  std::map<std::string, std::vector<std::string>> by_kind;
  for (const SweepJob& job : jobs) by_kind[job.launcher].push_back(job.job_id);
  for (const auto& [kind, ids] : by_kind) {
    auto it = launchers_.find(kind);
    if (it == launchers_.end()) {
      spdlog::warn("sweep {}: cannot cancel {} jobs {}: no {} launcher here", sweep_id, kind,
                   absl::StrJoin(ids, ", "), kind);
      continue;
    }
    SCALELAW_RETURN_IF_ERROR(it->second->Cancel(ids));
    spdlog::info("sweep {}: cancelled {} jobs {}", sweep_id, kind, absl::StrJoin(ids, ", "));
  }
  return absl::OkStatus();
}

}  // namespace scalelaw::coordinator
