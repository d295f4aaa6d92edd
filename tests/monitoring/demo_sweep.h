// Drives a small sweep through a real coordinator over gRPC, the way workers
// and the CLI would, so that every metric the coordinator exports has a value:
//
//   - 3 workers register; a 4-size x 3-budget sweep (12 trials) is submitted;
//   - worker 3 leases a trial and vanishes: its lease expires and the trial
//     is requeued (one lease expiration, one retry);
//   - worker 2 leases a trial and keeps it RUNNING, heartbeating from a
//     background thread until the driver is destroyed;
//   - worker 1 runs every other trial: heartbeat, a stream of metric points
//     (train/val loss, lr, tokens/s, noise scale), completion with a loss
//     from Hoffmann et al.'s law; one attempt fails and is retried, one trial
//     diverges;
//   - a Chinchilla and a power-law fit are requested (budgets 1e17..1e19),
//     and one GetSweep of an unknown id (a NOT_FOUND code).
//
// The coordinator should run with a short lease timeout (a few seconds) and
// expiry scan (~100 ms), or Run() waits long for the abandoned lease to
// expire. The running trial is heartbeated every 200 ms.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "scalelaw/v1/coordinator.grpc.pb.h"

namespace scalelaw::monitoring_testing {

struct DemoSweep {
  std::string sweep_id;
  std::string running_trial;  // kept RUNNING by worker 2
  std::string diverged_trial;
  std::string succeeded_trial;  // one of the succeeded trials
  double succeeded_val_loss = 0;
  int n_trials = 0;
};

class DemoSweepDriver {
 public:
  explicit DemoSweepDriver(const std::string& coordinator_address);
  ~DemoSweepDriver();  // stops the heartbeats of the running trial

  absl::StatusOr<DemoSweep> Run();

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
  std::atomic<bool> stop_{false};
  std::thread keep_alive_;
};

// The loss a synthetic trial reports: L(N, D) = E + A/N^alpha + B/D^beta with
// Hoffmann et al. 2022's fitted values.
double SyntheticLoss(double params, double tokens);

}  // namespace scalelaw::monitoring_testing
