// The worker's side of the Coordinator protocol: registers, leases one trial
// at a time, trains it while a heartbeat thread keeps the lease, streams its
// metric points, and completes or fails it.
//
//   Register (retried with backoff until connect_timeout)
//   loop: LeaseTrial
//     granted:  train; Heartbeat every heartbeat_interval_ms; StreamMetrics
//               with resend of unacknowledged points; wait until every
//               point is acknowledged, then CompleteTrial (diverged is a
//               result) or FailTrial(retriable) on an error
//     not granted: no_more_work and exit_when_idle -> return, else sleep
//               retry_after_ms
//
// No metric point is lost, and coordinator restarts are ridden out:
//   - A trial is completed only after every point it produced has been
//     acknowledged (durable in the store). Points wait in the MetricStream and
//     are resent on every new stream (idempotent in the store); when
//     MetricStreamOptions::max_unacknowledged wait, training blocks rather
//     than drop one.
//   - The lease is lost only when the coordinator says so (keep_going false,
//     or NOT_FOUND / FAILED_PRECONDITION / PERMISSION_DENIED about it): the
//     trial is then dropped without completing it. An unreachable
//     coordinator is not a lost lease: training goes on (a restarted
//     coordinator renews the leases it held).
//   - One clock (CoordinatorContact) counts how long the coordinator has not
//     answered any call: lease, heartbeat, stream or completion. Past
//     connect_timeout the worker gives up: a trial in progress is left
//     leased, not completed (its lease expires and it is retried), and Run
//     returns Unavailable.
//   - Every call waits for the channel to reconnect (wait_for_ready); the
//     channel's reconnect backoff is capped (proto/coordinator_token.h), so
//     a restarted coordinator is found within about a second.
//   - Every Heartbeat, MetricPoint, CompleteTrial and FailTrial of an attempt
//     carries the attempt's LeaseTrialResponse.lease_token (empty if none).
//
// Free of libtorch: training goes through worker/trainer.h.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "scalelaw/v1/coordinator.grpc.pb.h"
#include "data/token_dataset.h"
#include "worker/coordinator_contact.h"

namespace scalelaw::worker {

struct WorkerOptions {
  std::string sweep_id;         // lease only this sweep's trials; empty: any sweep
  uint32_t threads = 0;         // intra-op threads; 0: each trial's training.threads
  bool exit_when_idle = false;  // return from Run once the coordinator has no more work
  // Give up (Run returns Unavailable) after the coordinator has not answered
  // any call for this long: at registration, and later between answers. A
  // coordinator restart must fit in it: meanwhile the worker keeps training
  // and holding its points.
  absl::Duration connect_timeout = absl::Minutes(10);
  std::string launcher_tag;  // e.g. the Slurm job id; sent at registration
  std::string device;        // sent at registration; empty: what the trainer finds
  // Overrides every trial's training.checkpoint_dir when set (e.g. a
  // node-local or shared directory this worker knows better than the spec).
  std::string checkpoint_dir;
};

class WorkerClient {
 public:
  // `channel` (to the coordinator) is shared; the client keeps a reference.
  WorkerClient(WorkerOptions options, std::shared_ptr<grpc::ChannelInterface> channel);
  ~WorkerClient();
  WorkerClient(const WorkerClient&) = delete;
  WorkerClient& operator=(const WorkerClient&) = delete;

  // Registers with the coordinator, retrying with backoff until it answers or
  // connect_timeout passes (Unavailable / DeadlineExceeded). Run calls it.
  absl::Status Register();

  // Registers, then leases and trains trials until Stop() is called or, with
  // exit_when_idle, the coordinator reports no more work (both OK). Errors:
  // Unavailable when the coordinator stayed unreachable for connect_timeout
  // (a trial in progress is then left leased, not completed); the
  // coordinator's own error when it refuses a lease for good.
  // Not reentrant: call from one thread.
  absl::Status Run();

  // Thread-safe, but not async-signal-safe (call it from a thread that waits
  // for signals): asks Run to return. A trial in progress stops at its next
  // step, checkpoints (when its training.checkpoint_dir is set) and is failed
  // as retriable with reason "preempted: worker stopped by <why>: ...", so the
  // coordinator leases it again and the next attempt resumes from the
  // checkpoint. Calling it again changes nothing.
  void Stop(const std::string& why = "a stop request");

  // After Run: whether the sweep this worker serves (any sweep without
  // WorkerOptions::sweep_id) still has trials that have not ended, so that a
  // launcher should start this worker again. True when the coordinator cannot
  // be asked (better a worker too many than a sweep left without one).
  bool WorkRemains();

  // The id the coordinator gave this worker; empty before Register.
  std::string worker_id() const;
  uint64_t trials_completed() const { return trials_completed_.load(); }
  uint64_t trials_failed() const { return trials_failed_.load(); }
  uint64_t trials_dropped() const { return trials_dropped_.load(); }

 private:
  // Trains one granted lease to its end (completed, failed or dropped): OK,
  // or Unavailable when the coordinator was given up on meanwhile.
  absl::Status RunLeasedTrial(const v1::LeaseTrialResponse& lease);
  absl::StatusOr<std::shared_ptr<const data::TokenDataset>> LoadCorpus(const v1::DataConfig& data);
  // Sleeps for `duration` unless Stop() is called first.
  void SleepUnlessStopped(absl::Duration duration);
  // Sends a trial's final RPC, retrying while the coordinator is unreachable:
  // OK, or Unavailable when it was given up on.
  absl::Status FinishTrial(const v1::TrialSpec& spec, uint32_t attempt,
                           const std::string& lease_token,
                           const absl::StatusOr<v1::TrialResult>& result);
  // Logs and returns the Unavailable of a final RPC given up on.
  absl::Status GaveUpOnFinishing(const v1::TrialSpec& spec, uint32_t attempt,
                                 const std::string& rpc, const grpc::Status& status);

  const WorkerOptions options_;
  std::shared_ptr<grpc::ChannelInterface> channel_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
  CoordinatorContact contact_;  // when the coordinator last answered any call

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_requested_ = false;                      // guarded by mu_
  std::string stop_reason_;                          // guarded by mu_
  std::atomic<bool>* current_trial_stop_ = nullptr;  // guarded by mu_
  std::string worker_id_;                            // guarded by mu_
  uint32_t heartbeat_interval_ms_ = 5000;
  uint32_t lease_timeout_ms_ = 30000;

  std::string corpus_key_;  // the cached corpus's (directory, val_fraction, tokenizer)
  std::shared_ptr<const data::TokenDataset> corpus_;

  std::atomic<uint64_t> trials_completed_{0};
  std::atomic<uint64_t> trials_failed_{0};
  std::atomic<uint64_t> trials_dropped_{0};
};

}  // namespace scalelaw::worker
