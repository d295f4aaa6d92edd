// The Coordinator gRPC service (proto/scalelaw/v1/coordinator.proto), callback
// API: unary RPCs answer through the context's DefaultReactor; StreamMetrics
// is a MetricStreamReactor, whose points the service's MetricWriter stores in
// batches. State changes go through TrialScheduler (each is committed to the
// store before the reply); reads go to the Store directly.
//
// Errors: INVALID_ARGUMENT for malformed requests (empty ids, invalid sweep
// specs — the message names the field), NOT_FOUND for unknown sweeps, trials
// and workers, FAILED_PRECONDITION for a fit the sweep cannot support yet,
// UNAUTHENTICATED for a call without the coordinator's token.
//
// GetFit runs on the service's own fit thread, not on a gRPC thread, since a
// Chinchilla fit takes seconds.
//
// With launchers (ServiceOptions::launchers), SubmitSweep and CancelSweep run
// on the service's launch thread, since they call cluster tools (sbatch,
// scancel): SubmitSweep stores the sweep, then starts its workers with the
// launcher its spec names; when that fails the sweep is cancelled and the
// error (e.g. sbatch's message) is the reply. CancelSweep cancels the trials,
// then the sweep's recorded jobs. ResumeSweep (also on the launch thread)
// requeues FAILED and CANCELLED trials and, when PENDING trials are left with
// no live lease (so no workers), launches workers for them again.
//
// With ServiceOptions::token, every RPC without that token is refused with
// UNAUTHENTICATED before it touches anything.
//
// Lifetime: `store` and `scheduler` are not owned and must outlive the
// service; the gRPC server must be shut down before the service is destroyed.
// Thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <string>

#include "coordinator/clock.h"
#include "coordinator/coordinator_observer.h"
#include "coordinator/launchers.h"
#include "coordinator/metric_writer.h"
#include "coordinator/store.h"
#include "coordinator/sweep_fit.h"
#include "coordinator/trial_scheduler.h"
#include "scalelaw/v1/coordinator.grpc.pb.h"

namespace scalelaw::coordinator {

struct ServiceOptions {
  // Told to workers at registration.
  std::chrono::milliseconds heartbeat_interval{5000};
  SweepFitOptions fit;
  // Told of every successful fit (monitoring). Not owned; may be null; must
  // outlive the service.
  CoordinatorObserver* observer = nullptr;
  // Starts and stops sweeps' workers. Not owned; may be null (then nothing is
  // launched: `scalelaw run` starts its own workers); must outlive the service.
  Launchers* launchers = nullptr;
  // Every call must carry this token (proto/coordinator_token.h); empty: none.
  std::string token;
  // For sweeps' ETAs. Not owned; null: the system clock.
  const Clock* clock = nullptr;
  // The group commit of metric points (coordinator/metric_writer.h).
  MetricWriterOptions metric_writer;
};

class CoordinatorService final : public v1::Coordinator::CallbackService {
 public:
  CoordinatorService(Store* store, TrialScheduler* scheduler, ServiceOptions options = {});
  ~CoordinatorService() override;  // waits for a running fit

  grpc::ServerUnaryReactor* RegisterWorker(grpc::CallbackServerContext* context,
                                           const v1::RegisterWorkerRequest* request,
                                           v1::RegisterWorkerResponse* response) override;
  grpc::ServerUnaryReactor* LeaseTrial(grpc::CallbackServerContext* context,
                                       const v1::LeaseTrialRequest* request,
                                       v1::LeaseTrialResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const v1::HeartbeatRequest* request,
                                      v1::HeartbeatResponse* response) override;
  grpc::ServerBidiReactor<v1::MetricPoint, v1::MetricAck>* StreamMetrics(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* CompleteTrial(grpc::CallbackServerContext* context,
                                          const v1::CompleteTrialRequest* request,
                                          v1::CompleteTrialResponse* response) override;
  grpc::ServerUnaryReactor* FailTrial(grpc::CallbackServerContext* context,
                                      const v1::FailTrialRequest* request,
                                      v1::FailTrialResponse* response) override;

  grpc::ServerUnaryReactor* SubmitSweep(grpc::CallbackServerContext* context,
                                        const v1::SubmitSweepRequest* request,
                                        v1::SubmitSweepResponse* response) override;
  grpc::ServerUnaryReactor* GetSweep(grpc::CallbackServerContext* context,
                                     const v1::GetSweepRequest* request,
                                     v1::Sweep* response) override;
  grpc::ServerUnaryReactor* ListSweeps(grpc::CallbackServerContext* context,
                                       const v1::ListSweepsRequest* request,
                                       v1::ListSweepsResponse* response) override;
  grpc::ServerUnaryReactor* CancelSweep(grpc::CallbackServerContext* context,
                                        const v1::CancelSweepRequest* request,
                                        v1::CancelSweepResponse* response) override;
  grpc::ServerUnaryReactor* ResumeSweep(grpc::CallbackServerContext* context,
                                        const v1::ResumeSweepRequest* request,
                                        v1::ResumeSweepResponse* response) override;
  grpc::ServerUnaryReactor* ListTrials(grpc::CallbackServerContext* context,
                                       const v1::ListTrialsRequest* request,
                                       v1::ListTrialsResponse* response) override;
  grpc::ServerUnaryReactor* GetFit(grpc::CallbackServerContext* context,
                                   const v1::GetFitRequest* request,
                                   v1::FitResult* response) override;
  // The sweep's stored forecasts beside its targets' outcomes so far.
  grpc::ServerUnaryReactor* GetForecasts(grpc::CallbackServerContext* context,
                                         const v1::GetForecastsRequest* request,
                                         v1::GetForecastsResponse* response) override;

 private:
  // A reactor already finished with UNAUTHENTICATED when the call lacks the
  // token; null when it may go on.
  grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* context) const;
  absl::StatusOr<v1::Sweep> Summary(const SweepRecord& sweep) const;
  absl::StatusOr<v1::Sweep> Summary(const std::string& sweep_id) const;

  Store* const store_;
  TrialScheduler* const scheduler_;
  const ServiceOptions options_;
  // Stores every stream's points; its queued points are failed (never
  // acknowledged) when the service is destroyed, after the gRPC server.
  MetricWriter metric_writer_;
  boost::asio::thread_pool fit_pool_{1};
  boost::asio::thread_pool launch_pool_{1};
};

}  // namespace scalelaw::coordinator
