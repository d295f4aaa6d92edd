// The worker's side of the Coordinator protocol: registers, leases one trial
// at a time, trains it while a heartbeat thread keeps the lease, streams its
// metric points, and completes or fails it.
//
//   Register (retried with backoff until connect_timeout)
//   loop: LeaseTrial
//     granted:  train; Heartbeat every heartbeat_interval_ms (keep_going
//               false -> stop and drop the trial without completing it);
//               StreamMetrics with resend of unacknowledged points;
//               flush, then CompleteTrial (diverged is a result) or
//               FailTrial(retriable) on an error
//     not granted: no_more_work and exit_when_idle -> return, else sleep
//               retry_after_ms
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

namespace scalelaw::worker {

struct WorkerOptions {
  std::string sweep_id;         // lease only this sweep's trials; empty: any sweep
  uint32_t threads = 0;         // intra-op threads; 0: each trial's training.threads
  bool exit_when_idle = false;  // return from Run once the coordinator has no more work
  // Give up (Run returns Unavailable) after the coordinator has not answered
  // for this long: at registration, and later between answers.
  absl::Duration connect_timeout = absl::Seconds(60);
  // How long a finished trial waits for its metric points to be acknowledged
  // before completing anyway.
  absl::Duration metrics_flush_timeout = absl::Seconds(30);
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
  // Unavailable when the coordinator stayed unreachable for connect_timeout;
  // the coordinator's own error when it refuses a lease for good.
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
  // Trains one granted lease to its end (completed, failed or dropped).
  void RunLeasedTrial(const v1::LeaseTrialResponse& lease);
  absl::StatusOr<std::shared_ptr<const data::TokenDataset>> LoadCorpus(const v1::DataConfig& data);
  // Sleeps for `duration` unless Stop() is called first.
  void SleepUnlessStopped(absl::Duration duration);
  // Sends a trial's final RPC, retrying while the coordinator is unreachable.
  void FinishTrial(const v1::TrialSpec& spec, uint32_t attempt,
                   const absl::StatusOr<v1::TrialResult>& result);

  const WorkerOptions options_;
  std::shared_ptr<grpc::ChannelInterface> channel_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;

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
