// The trial life cycle and leases:
//
//   PENDING -> LEASED(worker, attempt, deadline) -> RUNNING -> SUCCEEDED | DIVERGED
//                                                            | FAILED | CANCELLED
//
// - A lease gives one trial to one worker with attempt = previous attempt + 1
//   and a deadline now + lease_timeout. Each heartbeat from the holder extends
//   the deadline; the first heartbeat or metric point moves LEASED to RUNNING.
// - ExpireLeases() puts every trial whose deadline has passed back to PENDING
//   (the attempt number is kept, so the next lease is attempt + 1), or FAILED
//   with "lease expired N times" once the sweep's max_attempts are used.
// - Heartbeat, CompleteTrial, FailTrial and metric points are honoured only from
//   the current attempt of the current holder; a stale caller gets
//   keep_going=false / accepted=false / FAILED_PRECONDITION and nothing changes.
// - Each attempt has a lease token (lease_token.h), issued by LeaseTrial and
//   kept in the store: a Heartbeat, CompleteTrial, FailTrial or metric point
//   without the token of the attempt it names is PERMISSION_DENIED and
//   changes nothing, whatever the worker id. Points are stored only while
//   their attempt holds the live lease (never into an ended trial).
// - A non-finite loss is a divergence: CompleteTrial with result.diverged
//   stores it (NaN included) and ends the trial DIVERGED; without diverged
//   it is INVALID_ARGUMENT naming result.final_val_loss / final_train_loss.
// - Cancelling a sweep ends its unended trials as CANCELLED; holders learn it
//   from their next heartbeat. Resuming it puts FAILED and CANCELLED trials
//   back to PENDING with a fresh max_attempts.
//
// Every change is committed to the Store before the method returns, so the
// RPC layer may acknowledge it. "No trial available" is a normal result
// (granted=false), not an error. Errors: INVALID_ARGUMENT for malformed input
// (empty ids, non-finite results), PERMISSION_DENIED for a wrong or missing
// lease token, NOT_FOUND for unknown workers, sweeps and trials, and the
// store's errors.
//
// Monitoring: an optional CoordinatorObserver hears of every committed change
// (called with the scheduler's lock held, in commit order; metric points
// written in batches are reported after their commit, ReportStoredMetrics).
//
// Thread safety: all methods are thread-safe; one mutex serialises state
// changes so each read-modify-write of a trial is atomic.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/clock.h"
#include "coordinator/coordinator_observer.h"
#include "coordinator/store.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::coordinator {

struct SchedulerOptions {
  // How long a lease lives without a heartbeat.
  std::chrono::milliseconds lease_timeout{30000};
  // What a worker is told to wait when no trial is free.
  std::chrono::milliseconds retry_after{1000};
  // Attempts per trial when the sweep spec leaves max_attempts at 0.
  uint32_t default_max_attempts = 3;
  // Directories submitted specs' paths must lie under (empty: anywhere the
  // validator allows); sweeps::ValidateSweepPathRoots.
  std::vector<std::string> allowed_path_roots;
};

// What ResumeSweep did.
struct ResumedSweep {
  uint32_t requeued = 0;  // FAILED and CANCELLED trials put back to PENDING
  // Some trial is PENDING and none is LEASED or RUNNING: whatever workers the
  // sweep had are gone (a live one would hold a lease), so the caller should
  // start new ones. True also when nothing was requeued but PENDING trials
  // were left without workers (their jobs died, or a launch failed).
  bool needs_workers = false;
};

// Whether a metric point was new or a resend the store already held.
enum class MetricWrite { kStored, kDuplicate };

class TrialScheduler {
 public:
  // `store`, `clock` and `observer` are not owned and must outlive the
  // scheduler; `observer` may be null.
  TrialScheduler(Store* store, const Clock* clock, SchedulerOptions options = {},
                 CoordinatorObserver* observer = nullptr);

  // Records a worker and returns its new id, "w-<n>.<secret>" (lease_token.h).
  absl::StatusOr<std::string> RegisterWorker(const v1::RegisterWorkerRequest& request);

  // Validates the spec (sweeps::ValidateSweepSpec; INVALID_ARGUMENT names the
  // field), plans its grid and stores the sweep with all its trials at once.
  // The sweep id is "<name>-<n>", n counting sweeps in this store.
  absl::StatusOr<v1::SubmitSweepResponse> SubmitSweep(const v1::SubmitSweepRequest& request);

  // Gives the worker the next PENDING trial (of `sweep_id`, or any sweep when
  // empty), with a fresh lease token. A worker that already holds a lease gets
  // that same trial, attempt and token back with a fresh deadline, so a lost
  // response is harmless.
  absl::StatusOr<v1::LeaseTrialResponse> LeaseTrial(const v1::LeaseTrialRequest& request);

  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request);

  // Stores a point of the trial's current attempt (a resend is kDuplicate);
  // the trial's latest losses and tokens are read from its points. FAILED_PRECONDITION for a
  // point of an attempt that does not hold the live lease (requeued, ended).
  // CheckMetric, Store::AppendMetrics and ReportStoredMetrics in turn: the
  // path of one point; streams take it in batches (metric_writer.h).
  absl::StatusOr<MetricWrite> RecordMetric(const v1::MetricPoint& point);
  // What RecordMetric checks before it writes, with the lock held only for
  // that: the trial exists, the point carries its attempt's lease token
  // (PERMISSION_DENIED) and that attempt holds the live lease
  // (FAILED_PRECONDITION). The store checks liveness again at the write.
  absl::Status CheckMetric(const v1::MetricPoint& point);
  // Tells the observer of points the store has just committed: OnTrialWritten
  // for each trial they moved LEASED -> RUNNING (`started`), as it is now and
  // under the lock, so the observer sees state changes in commit order; then
  // OnMetricStored per point.
  void ReportStoredMetrics(const std::vector<v1::MetricPoint>& points,
                           const std::vector<std::string>& started);

  // True when accepted. A resent completion of the same attempt is accepted
  // again without change.
  absl::StatusOr<bool> CompleteTrial(const v1::CompleteTrialRequest& request);
  absl::StatusOr<bool> FailTrial(const v1::FailTrialRequest& request);

  // Returns how many trials were cancelled (0 for a sweep already cancelled or
  // done; a done sweep stays DONE).
  absl::StatusOr<uint32_t> CancelSweep(const std::string& sweep_id);

  // Puts the sweep's FAILED and CANCELLED trials back to PENDING (DIVERGED is
  // a result and stays) and clears its cancelled mark, in one transaction.
  // Their attempts so far stop counting against max_attempts; attempt
  // numbers go on increasing, so stale workers of old attempts stay stale.
  absl::StatusOr<ResumedSweep> ResumeSweep(const std::string& sweep_id);

  // Requeues or fails every trial whose lease deadline has passed. Returns how
  // many leases expired.
  absl::StatusOr<int> ExpireLeases();

  // Gives every live lease (LEASED, RUNNING) at least a full lease_timeout from
  // now; called when a coordinator reopens its store, so workers that outlived
  // a restart have time to heartbeat before their leases expire.
  absl::Status RenewLiveLeases();

  const SchedulerOptions& options() const { return options_; }

 private:
  absl::StatusOr<uint32_t> MaxAttempts(const std::string& sweep_id);
  // Of a trial's attempts (ListAttempts), those that count against
  // max_attempts: all but those the worker gave back preempted and those made
  // before the trial was last resumed (the current, unended attempt included).
  static uint32_t CountedAttempts(const std::vector<AttemptRecord>& attempts,
                                  uint32_t resumed_after_attempt);
  // A trial given back preempted more than this many times fails all the
  // same: a cluster that never lets it finish should not requeue it forever.
  static constexpr uint32_t kMaxPreemptions = 100;
  int64_t DeadlineFromNow() const;
  // PERMISSION_DENIED unless `token` is the stored token of (trial, attempt).
  // The message never holds a token.
  absl::Status CheckLeaseToken(const std::string& trial_id, uint32_t attempt,
                               const std::string& token);
  // Commits `ended`'s write. When it ended without success (FAILED or
  // DIVERGED), the trials waiting for it (a WSD stable run's cooldown
  // branches) have nothing to start from and end FAILED in the same
  // transaction.
  absl::Status CommitEnding(const TrialWrite& ended, v1::TrialState previous);

  Store* const store_;
  const Clock* const clock_;
  const SchedulerOptions options_;
  CoordinatorObserver* const observer_;  // never null (a no-op when none given)
  std::mutex mu_;
};

}  // namespace scalelaw::coordinator
