// The launchers a coordinator starts sweeps' workers with, one per
// launcher.kind, and the bookkeeping that ties the jobs they start to the
// sweep in the store (sweep_jobs), so that cancelling a sweep stops its jobs
// even after a coordinator restart.
//
// The coordinator, not the CLI, launches: it owns the store, runs on the
// login or service node where sbatch works, and already answers SubmitSweep
// and CancelSweep, so `scalelaw sweep submit` / `sweep cancel` need nothing
// beyond those RPCs.
//
// Thread safety: LaunchSweep and CancelSweep may be called from any thread
// once every launcher has been added.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "coordinator/clock.h"
#include "coordinator/launcher.h"
#include "coordinator/store.h"

namespace scalelaw::coordinator {

class Launchers {
 public:
  // `store` and `clock` are not owned and must outlive this object. Workers
  // dial default_coordinator_address() when a spec leaves
  // launcher.coordinator_address empty.
  Launchers(Store* store, const Clock* clock,
            std::function<std::string()> default_coordinator_address);

  // Registers `launcher` for its kind(), replacing an earlier one. Call
  // before the coordinator serves.
  void Add(std::shared_ptr<Launcher> launcher);
  bool Has(const std::string& kind) const { return launchers_.count(kind) > 0; }
  // The coordinator's token, if any: launched workers get its file
  // (SweepLaunch::token_file), and launchers know one is required.
  void set_token(bool required, std::string file) {
    token_required_ = required;
    token_file_ = std::move(file);
  }
  // The coordinator's TLS (SweepLaunch::tls_required, client_cert_required)
  // and the files its launched workers dial it with (SweepLaunch::tls).
  void set_tls(bool required, bool client_cert_required, ClientTls worker_tls) {
    tls_required_ = required;
    client_cert_required_ = client_cert_required;
    worker_tls_ = std::move(worker_tls);
  }

  // Starts the workers of a stored sweep with the launcher its spec names,
  // records the job ids with the sweep and returns them. Nothing is started
  // when no local launcher is registered (`scalelaw run` starts its own
  // workers). The launcher's error otherwise (nothing is recorded then).
  absl::StatusOr<std::vector<SweepJob>> LaunchSweep(const std::string& sweep_id);

  // Cancels every job recorded for the sweep with the launcher that started
  // it. Jobs of a kind no longer registered are skipped with a warning.
  absl::Status CancelSweep(const std::string& sweep_id);

 private:
  Store* const store_;
  const Clock* const clock_;
  const std::function<std::string()> default_coordinator_address_;
  std::map<std::string, std::shared_ptr<Launcher>> launchers_;
  bool token_required_ = false;
  std::string token_file_;
  bool tls_required_ = false;
  bool client_cert_required_ = false;
  ClientTls worker_tls_;
};

}  // namespace scalelaw::coordinator
