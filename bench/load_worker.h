// One simulated worker of bench/coordinator_load: the real worker's RPCs
// against a real coordinator, with no training behind them. It registers,
// leases a trial, heartbeats at the interval the coordinator gave it, streams
// `points_per_trial` metric points over StreamMetrics (seq 0, 1, 2, ..., at
// most `window` unacknowledged, paced at `points_per_second`), completes the
// trial with a plausible result once every point is acknowledged, and leases
// the next, until Stop. A trial in progress at Stop gets its acknowledgements
// drained and is given back (FailTrial, preempted). Every call carries the
// lease's token.
//
// It times each LeaseTrial and Heartbeat, and each point from its Write to
// its ack, and counts errors: a non-OK status, a refused lease, completion or
// give-back, an ack out of order, a point never acknowledged.
//
// Threads: Start runs a driver thread (lease, stream writes, complete) and a
// heartbeat thread; each attempt adds a reader of the stream's acks. Stop and
// Join may be called from any thread; the results only after Join.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "scalelaw/v1/coordinator.grpc.pb.h"

namespace scalelaw::bench {

struct LoadWorkerOptions {
  std::string address;  // 127.0.0.1:PORT
  std::string token;    // the coordinator's bearer token
  std::string sweep_id;
  double points_per_second = 39.0625;  // 256 workers offer 10,000 points/s
  int window = 64;                     // unacknowledged points at most
  int points_per_trial = 200;
  // How long a stopped worker waits for the acks still due, and bound of
  // every unary call.
  std::chrono::milliseconds drain_timeout{10000};
  std::chrono::milliseconds rpc_deadline{10000};
};

// (trial, attempt) and how many of its points (seq 0 .. acked-1) were acknowledged.
struct AttemptAcks {
  std::string trial_id;
  uint32_t attempt = 0;
  uint64_t acked = 0;
};

struct LoadWorkerResults {
  std::vector<double> lease_ms;       // every LeaseTrial call, granted or not
  std::vector<double> heartbeat_ms;   // every Heartbeat call
  std::vector<double> ack_ms;         // each point, Write to ack
  uint64_t points_offered = 0;        // written before Stop
  uint64_t points_acked = 0;          // every ack, the drain's included
  uint64_t points_acked_timed = 0;    // acks that arrived before Stop
  uint64_t trials_completed = 0;      // CompleteTrial accepted
  uint64_t trials_given_back = 0;     // FailTrial (preempted) accepted at Stop
  uint64_t leases_without_token = 0;  // granted with an empty lease_token
  bool starved = false;               // the sweep had no trial left to lease
  uint64_t errors = 0;
  std::vector<std::string> error_samples;  // the first few, for the report
  std::vector<AttemptAcks> attempts;
};

class LoadWorker {
 public:
  explicit LoadWorker(LoadWorkerOptions options);
  ~LoadWorker();  // stops and joins
  LoadWorker(const LoadWorker&) = delete;
  LoadWorker& operator=(const LoadWorker&) = delete;

  // RegisterWorker, waiting for the channel to connect. The error names the call.
  absl::Status Register();
  void Start();
  void Stop();
  void Join();
  const LoadWorkerResults& results() const { return results_; }

 private:
  struct Lease {
    std::string trial_id;
    uint32_t attempt = 0;
    std::string lease_token;
  };

  void Drive();
  void RunAttempt(const v1::LeaseTrialResponse& lease);
  void Heartbeats();
  // This worker's fixed place in [0, 1), from its id: desynchronises the
  // workers' heartbeats and trial ends.
  double Phase() const;
  // Clears the heartbeat thread's lease, waiting out a heartbeat in flight,
  // so no heartbeat races the completion that ends the lease.
  void EndHeartbeats();
  void SetDeadline(grpc::ClientContext* context) const;
  void AddToken(grpc::ClientContext* context) const;
  void Error(const std::string& what);
  bool Stopped() const { return stop_.load(); }

  const LoadWorkerOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
  std::string worker_id_;
  int attempts_started_ = 0;  // the driver's only
  std::chrono::milliseconds heartbeat_interval_{5000};

  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> tokens_done_{0};  // of the attempt in progress, for heartbeats
  std::mutex mu_;                         // guards the fields below and an attempt's window
  std::condition_variable cv_;            // the driver waits: pace, window, drain
  bool driver_waits_for_acks_ = false;    // so the reader wakes the driver only then
  std::condition_variable heartbeat_cv_;  // the heartbeat thread and EndHeartbeats wait
  std::optional<Lease> heartbeat_lease_;
  bool heartbeat_in_flight_ = false;
  bool heartbeats_done_ = false;

  std::mutex errors_mu_;  // errors come from the driver, the reader and the heartbeats
  LoadWorkerResults results_;
  std::thread driver_;
  std::thread heartbeat_thread_;
};

}  // namespace scalelaw::bench
