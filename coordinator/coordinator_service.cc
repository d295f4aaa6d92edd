#include "coordinator/coordinator_service.h"

#include <boost/asio/post.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "coordinator/forecaster.h"
#include "coordinator/grpc_status.h"
#include "coordinator/lease_token.h"
#include "coordinator/metric_stream_reactor.h"
#include "coordinator/request_limits.h"
#include "coordinator/sweep_summary.h"
#include "proto/coordinator_token.h"

namespace scalelaw::coordinator {
namespace {

// Finishes a unary call: copies the value into *response on success.
template <typename Response>
grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* context,
                                absl::StatusOr<Response> result, Response* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (result.ok()) *response = std::move(*result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

// A response with one field set from `value` by `setter`, or value's error.
template <typename Response, typename T, typename Setter>
absl::StatusOr<Response> Wrap(absl::StatusOr<T> value, Setter setter) {
  if (!value.ok()) return value.status();
  Response response;
  (response.*setter)(*value);
  return response;
}

absl::Status RequireSweepId(const std::string& sweep_id) {
  if (sweep_id.empty()) return absl::InvalidArgumentError("sweep_id: must not be empty");
  return absl::OkStatus();
}

// Finishes the call with INVALID_ARGUMENT when the request is out of the
// limits of request_limits.h; nullptr when it is within them.
template <typename Request>
grpc::ServerUnaryReactor* RefuseOutOfLimits(grpc::CallbackServerContext* context,
                                            const Request& request) {
  const absl::Status within = CheckRequestLimits(request);
  if (within.ok()) return nullptr;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(within));
  return reactor;
}

// A metric stream refused before it starts (no token).
class RefusedStream final : public grpc::ServerBidiReactor<v1::MetricPoint, v1::MetricAck> {
 public:
  explicit RefusedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

void AddJobs(const std::vector<SweepJob>& jobs,
             google::protobuf::RepeatedPtrField<v1::LauncherJob>* out) {
  for (const SweepJob& job : jobs) {
    v1::LauncherJob* entry = out->Add();
    entry->set_launcher(job.launcher);
    entry->set_job_id(job.job_id);
    entry->set_submitted_ms(job.submitted_ms);
  }
}

const SystemClock kSystemClock;

}  // namespace

grpc::ServerUnaryReactor* CoordinatorService::Refuse(grpc::CallbackServerContext* context) const {
  const absl::Status allowed = CheckCoordinatorToken(*context, options_.token);
  if (allowed.ok()) return nullptr;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(allowed));
  return reactor;
}

absl::StatusOr<v1::Sweep> CoordinatorService::Summary(const SweepRecord& sweep) const {
  SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::Trial> trials, store_->ListTrials(sweep.sweep_id));
  SCALELAW_ASSIGN_OR_RETURN(std::vector<SweepJob> jobs, store_->ListSweepJobs(sweep.sweep_id));
  SweepTimes times;
  SCALELAW_ASSIGN_OR_RETURN(times.started_ms, store_->FirstAttemptStartMs(sweep.sweep_id));
  times.now_ms = (options_.clock != nullptr ? options_.clock : &kSystemClock)->NowMs();
  return SummarizeSweep(sweep, trials, jobs, times);
}

absl::StatusOr<v1::Sweep> CoordinatorService::Summary(const std::string& sweep_id) const {
  SCALELAW_RETURN_IF_ERROR(RequireSweepId(sweep_id));
  SCALELAW_ASSIGN_OR_RETURN(SweepRecord sweep, store_->GetSweep(sweep_id));
  return Summary(sweep);
}

CoordinatorService::CoordinatorService(Store* store, TrialScheduler* scheduler,
                                       ServiceOptions options)
    : store_(store),
      scheduler_(scheduler),
      options_(options),
      metric_writer_(
          store,
          [scheduler](const std::vector<v1::MetricPoint>& stored,
                      const std::vector<std::string>& started) {
            scheduler->ReportStoredMetrics(stored, started);
          },
          options.metric_writer) {}

CoordinatorService::~CoordinatorService() {
  fit_pool_.join();
  launch_pool_.join();
}

grpc::ServerUnaryReactor* CoordinatorService::RegisterWorker(
    grpc::CallbackServerContext* context, const v1::RegisterWorkerRequest* request,
    v1::RegisterWorkerResponse* response) {
  if (grpc::ServerUnaryReactor* refused = Refuse(context)) return refused;
  if (grpc::ServerUnaryReactor* refused = RefuseOutOfLimits(context, *request)) return refused;
  absl::StatusOr<v1::RegisterWorkerResponse> result =
      [&]() -> absl::StatusOr<v1::RegisterWorkerResponse> {
    SCALELAW_ASSIGN_OR_RETURN(std::string worker_id, scheduler_->RegisterWorker(*request));
    v1::RegisterWorkerResponse out;
    out.set_worker_id(worker_id);
    out.set_heartbeat_interval_ms(static_cast<uint32_t>(options_.heartbeat_interval.count()));
    out.set_lease_timeout_ms(static_cast<uint32_t>(scheduler_->options().lease_timeout.count()));
    return out;
  }();
  return Reply(context, std::move(result), response);
}

grpc::ServerUnaryReactor* CoordinatorService::LeaseTrial(grpc::CallbackServerContext* context,
                                                         const v1::LeaseTrialRequest* request,
                                                         v1::LeaseTrialResponse* response) {
  if (grpc::ServerUnaryReactor* refused = Refuse(context)) return refused;
  if (grpc::ServerUnaryReactor* refused = RefuseOutOfLimits(context, *request)) return refused;
  return Reply(context, scheduler_->LeaseTrial(*request), response);
}

grpc::ServerUnaryReactor* CoordinatorService::Heartbeat(grpc::CallbackServerContext* context,
                                                        const v1::HeartbeatRequest* request,
                                                        v1::HeartbeatResponse* response) {
  if (grpc::ServerUnaryReactor* refused = Refuse(context)) return refused;
  if (grpc::ServerUnaryReactor* refused = RefuseOutOfLimits(context, *request)) return refused;
  return Reply(context, scheduler_->Heartbeat(*request), response);
}

grpc::ServerBidiReactor<v1::MetricPoint, v1::MetricAck>* CoordinatorService::StreamMetrics(
    grpc::CallbackServerContext* context) {
  if (absl::Status allowed = CheckCoordinatorToken(*context, options_.token); !allowed.ok())
    return new RefusedStream(ToGrpcStatus(allowed));
  return new MetricStreamReactor(scheduler_, &metric_writer_);
}

grpc::ServerUnaryReactor* CoordinatorService::CompleteTrial(grpc::CallbackServerContext* context,
                                                            const v1::CompleteTrialRequest* request,
                                                            v1::CompleteTrialResponse* response) {
  if (grpc::ServerUnaryReactor* refused = Refuse(context)) return refused;
  if (grpc::ServerUnaryReactor* refused = RefuseOutOfLimits(context, *request)) return refused;
  return Reply(context,
               Wrap<v1::CompleteTrialResponse>(scheduler_->CompleteTrial(*request),
                                               &v1::CompleteTrialResponse::set_accepted),
               response);
}

grpc::ServerUnaryReactor* CoordinatorService::FailTrial(grpc::CallbackServerContext* context,
                                                        const v1::FailTrialRequest* request,
                                                        v1::FailTrialResponse* response) {
  if (grpc::ServerUnaryReactor* refused = Refuse(context)) return refused;
  if (grpc::ServerUnaryReactor* refused = RefuseOutOfLimits(context, *request)) return refused;
  return Reply(context,
               Wrap<v1::FailTrialResponse>(scheduler_->FailTrial(*request),
                                           &v1::FailTrialResponse::set_accepted),
               response);
}

grpc::ServerUnaryReactor* CoordinatorService::SubmitSweep(grpc::CallbackServerContext* context,
                                                          const v1::SubmitSweepRequest* request,
                                                          v1::SubmitSweepResponse* response) {
  if (grpc::ServerUnaryReactor* refused = Refuse(context)) return refused;
  if (grpc::ServerUnaryReactor* refused = RefuseOutOfLimits(context, *request)) return refused;
  if (options_.launchers == nullptr)
    return Reply(context, scheduler_->SubmitSweep(*request), response);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // request and response stay valid until Finish.
  boost::asio::post(launch_pool_, [this, reactor, request, response] {
    absl::StatusOr<v1::SubmitSweepResponse> submitted = scheduler_->SubmitSweep(*request);
    if (submitted.ok()) {
      const absl::StatusOr<std::vector<SweepJob>> launched =
          options_.launchers->LaunchSweep(submitted->sweep_id());
      if (launched.ok()) {
        AddJobs(*launched, submitted->mutable_jobs());
      } else {
        // A sweep nobody will work on would wait forever: take it back.
        const absl::StatusOr<uint32_t> cancelled = scheduler_->CancelSweep(submitted->sweep_id());
        submitted = absl::Status(
            launched.status().code(),
            absl::StrCat("sweep ", submitted->sweep_id(),
                         cancelled.ok() ? " was cancelled" : " could not be cancelled either",
                         ": its workers could not be started: ", launched.status().message()));
      }
    }
    if (submitted.ok()) *response = std::move(*submitted);
    reactor->Finish(ToGrpcStatus(submitted.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* CoordinatorService::GetSweep(grpc::CallbackServerContext* context,
                                                       const v1::GetSweepRequest* request,
                                                       v1::Sweep* response) {
  if (grpc::ServerUnaryReactor* refused = Refuse(context)) return refused;
  if (grpc::ServerUnaryReactor* refused = RefuseOutOfLimits(context, *request)) return refused;
  return Reply(context, Summary(request->sweep_id()), response);
}

grpc::ServerUnaryReactor* CoordinatorService::ListSweeps(grpc::CallbackServerContext* context,
                                                         const v1::ListSweepsRequest* request,
                                                         v1::ListSweepsResponse* response) {
  if (grpc::ServerUnaryReactor* refused = Refuse(context)) return refused;
  if (grpc::ServerUnaryReactor* refused = RefuseOutOfLimits(context, *request)) return refused;
  absl::StatusOr<v1::ListSweepsResponse> result = [&]() -> absl::StatusOr<v1::ListSweepsResponse> {
    SCALELAW_ASSIGN_OR_RETURN(std::vector<SweepRecord> sweeps, store_->ListSweeps());
    v1::ListSweepsResponse out;
    for (const SweepRecord& sweep : sweeps) {
      SCALELAW_ASSIGN_OR_RETURN(*out.add_sweeps(), Summary(sweep));
    }
    return out;
  }();
  return Reply(context, std::move(result), response);
}

grpc::ServerUnaryReactor* CoordinatorService::CancelSweep(grpc::CallbackServerContext* context,
                                                          const v1::CancelSweepRequest* request,
                                                          v1::CancelSweepResponse* response) {
  if (grpc::ServerUnaryReactor* refused = Refuse(context)) return refused;
  if (grpc::ServerUnaryReactor* refused = RefuseOutOfLimits(context, *request)) return refused;
  if (options_.launchers == nullptr) {
    return Reply(context,
                 Wrap<v1::CancelSweepResponse>(scheduler_->CancelSweep(request->sweep_id()),
                                               &v1::CancelSweepResponse::set_cancelled_trials),
                 response);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  boost::asio::post(launch_pool_, [this, reactor, request, response] {
    // Trials first: a worker stopped by the cancelled job then finds its
    // sweep cancelled and does not ask to be requeued.
    absl::StatusOr<v1::CancelSweepResponse> cancelled =
        Wrap<v1::CancelSweepResponse>(scheduler_->CancelSweep(request->sweep_id()),
                                      &v1::CancelSweepResponse::set_cancelled_trials);
    if (cancelled.ok()) {
      const absl::Status stopped = options_.launchers->CancelSweep(request->sweep_id());
      if (!stopped.ok()) {
        cancelled = absl::Status(
            stopped.code(),
            absl::StrCat("sweep ", request->sweep_id(), ": ", cancelled->cancelled_trials(),
                         " trials cancelled, but its jobs could not be: ", stopped.message()));
      }
    }
    if (cancelled.ok()) *response = std::move(*cancelled);
    reactor->Finish(ToGrpcStatus(cancelled.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* CoordinatorService::ResumeSweep(grpc::CallbackServerContext* context,
                                                          const v1::ResumeSweepRequest* request,
                                                          v1::ResumeSweepResponse* response) {
  if (grpc::ServerUnaryReactor* refused = Refuse(context)) return refused;
  if (grpc::ServerUnaryReactor* refused = RefuseOutOfLimits(context, *request)) return refused;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // On the launch thread: a resumed sweep may need its workers again.
  auto resume = [this, reactor, request, response] {
    absl::StatusOr<v1::ResumeSweepResponse> result =
        [&]() -> absl::StatusOr<v1::ResumeSweepResponse> {
      SCALELAW_ASSIGN_OR_RETURN(ResumedSweep resumed, scheduler_->ResumeSweep(request->sweep_id()));
      v1::ResumeSweepResponse out;
      out.set_requeued_trials(resumed.requeued);
      if (options_.launchers != nullptr && resumed.needs_workers) {
        absl::StatusOr<std::vector<SweepJob>> launched =
            options_.launchers->LaunchSweep(request->sweep_id());
        if (!launched.ok()) {
          return absl::Status(
              launched.status().code(),
              absl::StrCat("sweep ", request->sweep_id(), ": ", resumed.requeued,
                           " trials requeued, but no workers could be started for its pending "
                           "trials (`sweep resume` again tries again): ",
                           launched.status().message()));
        }
        AddJobs(*launched, out.mutable_jobs());
      }
      return out;
    }();
    if (result.ok()) *response = std::move(*result);
    reactor->Finish(ToGrpcStatus(result.status()));
  };
  boost::asio::post(launch_pool_, std::move(resume));
  return reactor;
}

grpc::ServerUnaryReactor* CoordinatorService::ListTrials(grpc::CallbackServerContext* context,
                                                         const v1::ListTrialsRequest* request,
                                                         v1::ListTrialsResponse* response) {
  if (grpc::ServerUnaryReactor* refused = Refuse(context)) return refused;
  if (grpc::ServerUnaryReactor* refused = RefuseOutOfLimits(context, *request)) return refused;
  absl::StatusOr<v1::ListTrialsResponse> result = [&]() -> absl::StatusOr<v1::ListTrialsResponse> {
    SCALELAW_RETURN_IF_ERROR(RequireSweepId(request->sweep_id()));
    SCALELAW_RETURN_IF_ERROR(store_->GetSweep(request->sweep_id()).status());
    SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::Trial> trials,
                              store_->ListTrials(request->sweep_id()));
    v1::ListTrialsResponse out;
    for (v1::Trial& trial : trials) {
      if (request->include_metrics() && trial.attempt() > 0) {
        SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::MetricPoint> points,
                                  store_->ListMetrics(trial.spec().trial_id(), trial.attempt()));
        for (v1::MetricPoint& point : points) *out.add_metrics() = std::move(point);
      }
      // The worker id's secret part never leaves the coordinator.
      trial.set_worker_id(PublicWorkerId(trial.worker_id()));
      *out.add_trials() = std::move(trial);
    }
    return out;
  }();
  return Reply(context, std::move(result), response);
}

grpc::ServerUnaryReactor* CoordinatorService::GetFit(grpc::CallbackServerContext* context,
                                                     const v1::GetFitRequest* request,
                                                     v1::FitResult* response) {
  if (grpc::ServerUnaryReactor* refused = Refuse(context)) return refused;
  if (grpc::ServerUnaryReactor* refused = RefuseOutOfLimits(context, *request)) return refused;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<std::vector<v1::Trial>> trials = [&]() -> absl::StatusOr<std::vector<v1::Trial>> {
    SCALELAW_RETURN_IF_ERROR(RequireSweepId(request->sweep_id()));
    SCALELAW_RETURN_IF_ERROR(store_->GetSweep(request->sweep_id()).status());
    return store_->ListTrials(request->sweep_id());
  }();
  if (!trials.ok()) {
    reactor->Finish(ToGrpcStatus(trials.status()));
    return reactor;
  }
  // request and response stay valid until Finish.
  boost::asio::post(fit_pool_, [this, reactor, request, response, trials = std::move(*trials)] {
    absl::StatusOr<v1::FitResult> fit = FitSweep(trials, *request, options_.fit);
    if (fit.ok()) {
      if (options_.observer != nullptr) options_.observer->OnFit(request->sweep_id(), *fit);
      *response = std::move(*fit);
    }
    reactor->Finish(ToGrpcStatus(fit.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* CoordinatorService::GetForecasts(
    grpc::CallbackServerContext* context, const v1::GetForecastsRequest* request,
    v1::GetForecastsResponse* response) {
  if (grpc::ServerUnaryReactor* refused = Refuse(context)) return refused;
  if (grpc::ServerUnaryReactor* refused = RefuseOutOfLimits(context, *request)) return refused;
  absl::StatusOr<v1::GetForecastsResponse> result =
      [&]() -> absl::StatusOr<v1::GetForecastsResponse> {
    SCALELAW_RETURN_IF_ERROR(RequireSweepId(request->sweep_id()));
    SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::ForecastOutcome> outcomes,
                              ForecastOutcomes(*store_, request->sweep_id()));
    v1::GetForecastsResponse out;
    for (v1::ForecastOutcome& outcome : outcomes) *out.add_forecasts() = std::move(outcome);
    return out;
  }();
  return Reply(context, std::move(result), response);
}

}  // namespace scalelaw::coordinator
