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
// RunForecast() then drives a second sweep with a `forecast:` block (issue
// 14), so that every scalelaw_forecast_* series has a value:
//
//   - a 3-size x 3-budget ladder (9 trials) and one target beyond the
//     ladder's compute; a worker completes every ladder trial with
//     SyntheticLoss plus a fixed scatter of under 1% (an exact law would
//     leave the fit no residuals and the prediction interval no width);
//   - the coordinator's forecast thread fits the ladder and stores the
//     target's forecast; RunForecast polls GetForecasts until it is there;
//   - the target is leased (only now can it be) and completed with its
//     SyntheticLoss.
//
// The coordinator should run with a short lease timeout (a few seconds) and
// expiry scan (~100 ms), or Run() waits long for the abandoned lease to
// expire, and RunForecast() for the scan to start the forecast. The running
// trial is heartbeated every 200 ms.
//
// Thread safety: one thread calls Run() and then RunForecast().
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
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

struct DemoForecast {
  std::string sweep_id;
  std::string target;        // the forecast target's name (ForecastTarget.name)
  std::string target_trial;  // its trial id
  v1::Forecast forecast;     // as stored, before the target was leased
  double actual_loss = 0;    // the target's final validation loss, nats/token
  int n_ladder = 0;          // ladder trials
};

class DemoSweepDriver {
 public:
  explicit DemoSweepDriver(const std::string& coordinator_address);
  ~DemoSweepDriver();  // stops the heartbeats of the running trial

  absl::StatusOr<DemoSweep> Run();
  // Errors: the RPCs' errors; DEADLINE_EXCEEDED when no forecast is stored
  // within `forecast_timeout`; INTERNAL when the stored forecast carries an
  // error or the coordinator leases a trial out of order.
  absl::StatusOr<DemoForecast> RunForecast(
      std::chrono::seconds forecast_timeout = std::chrono::seconds(90));

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
