// One simulated worker of bench/coordinator_load: the real worker's RPCs
// against a real coordinator, with no training behind them. It registers,
// leases a trial, heartbeats at the interval the coordinator gave it, streams
// `points_per_trial` metric points over StreamMetrics (seq 1, 2, 3, ..., at
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
// Threads: none of its own. Every call is made with gRPC's callback API and
// paced by a LoadTimers thread that all workers share, so 256 workers cost a
// few threads rather than three each: with blocking calls on a 2-core
// machine the bench spent as much CPU as the coordinator it measures, and
// its own threads' wake-ups showed in the latencies. Stop and Join may be
// called from any thread; the results only after Join. After Join, shut the
// timers down before destroying the worker (a timer may still name it).
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/load_timers.h"
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

// (trial, attempt) and how many of its points (seq 1 .. acked) were acknowledged.
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
  // `timers` must outlive the worker's Join.
  LoadWorker(LoadWorkerOptions options, LoadTimers* timers);
  ~LoadWorker();  // stops and joins
  LoadWorker(const LoadWorker&) = delete;
  LoadWorker& operator=(const LoadWorker&) = delete;

  // RegisterWorker, waiting for the channel to connect. The error names the call.
  absl::Status Register();
  void Start();
  void Stop();
  // Waits until the trial in progress is completed or given back and no
  // call of this worker is in flight.
  void Join();
  const LoadWorkerResults& results() const { return results_; }

 private:
  class AttemptStream;
  friend class AttemptStream;
  struct Lease {
    std::string trial_id;
    uint32_t attempt = 0;
    std::string lease_token;
  };
  // How an attempt's stream ended, for its completion or give-back.
  struct Ending {
    v1::LeaseTrialResponse lease;
    int points = 0;
    uint64_t acked = 0;
    bool complete = false;  // every point acknowledged and the stream OK
    double wall_seconds = 0;
  };

  void LeaseNext();
  void OnLeased(const v1::LeaseTrialResponse& lease, const grpc::Status& status, double ms);
  void OnEnded(bool accepted, const grpc::Status& status, bool completed,
               const std::string& trial_id);
  // The stream ended (its acks counted): ends the attempt once no heartbeat
  // of its lease is in flight.
  void OnStreamDone(Ending ending);
  void EndAttempt(const Ending& ending);
  // The heartbeat timer: sends one while a lease is held, and sets the next.
  void Heartbeat();
  // The driving is over (stopped, starved): Join may return once no call is
  // in flight. mu_ held.
  void Finish();
  // This worker's fixed place in [0, 1), from its id: desynchronises the
  // workers' heartbeats and trial ends.
  double Phase() const;
  void Prepare(grpc::ClientContext* context) const;  // token and deadline
  void AddToken(grpc::ClientContext* context) const;
  void Error(const std::string& what);  // mu_ held

  const LoadWorkerOptions options_;
  LoadTimers* const timers_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
  std::string worker_id_;
  std::chrono::milliseconds heartbeat_interval_{5000};

  mutable std::mutex mu_;  // guards everything below, and results_ until Join
  std::condition_variable done_cv_;
  bool started_ = false;
  bool stop_ = false;
  bool finished_ = false;  // the driving is over (stopped or starved)
  int calls_in_flight_ = 0;  // unary calls and timers still to come back
  int attempts_started_ = 0;
  std::optional<Lease> lease_;  // the attempt in progress, for heartbeats
  uint64_t tokens_done_ = 0;    // of the attempt in progress, for heartbeats
  bool heartbeat_in_flight_ = false;
  std::optional<Ending> ending_after_heartbeat_;
  LoadTimers::Clock::time_point next_heartbeat_;
  std::shared_ptr<AttemptStream> stream_;  // the attempt's; its timers share it

  LoadWorkerResults results_;
};

}  // namespace scalelaw::bench
