#include "tests/monitoring/demo_sweep.h"

#include <chrono>
#include <cmath>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "sweeps/spec_defaults.h"

namespace scalelaw::monitoring_testing {
namespace {

using Stub = v1::Coordinator::Stub;

absl::Status FromGrpc(const grpc::Status& status, const char* what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

template <typename Request, typename Response>
absl::Status Call(Stub& stub,
                  grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                  const Request& request, Response* response, const char* what) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return FromGrpc((stub.*method)(&context, request, response), what);
}

absl::StatusOr<std::string> Register(Stub& stub, const std::string& hostname) {
  v1::RegisterWorkerRequest request;
  request.set_hostname(hostname);
  request.set_device("cpu");
  v1::RegisterWorkerResponse response;
  SCALELAW_RETURN_IF_ERROR(Call(stub, &Stub::RegisterWorker, request, &response, "RegisterWorker"));
  return response.worker_id();
}

absl::StatusOr<v1::LeaseTrialResponse> Lease(Stub& stub, const std::string& worker_id,
                                             const std::string& sweep_id) {
  v1::LeaseTrialRequest request;
  request.set_worker_id(worker_id);
  request.set_sweep_id(sweep_id);
  v1::LeaseTrialResponse response;
  SCALELAW_RETURN_IF_ERROR(Call(stub, &Stub::LeaseTrial, request, &response, "LeaseTrial"));
  return response;
}

absl::Status Heartbeat(Stub& stub, const std::string& worker_id,
                       const v1::LeaseTrialResponse& lease, uint64_t tokens_done) {
  v1::HeartbeatRequest request;
  request.set_worker_id(worker_id);
  request.set_trial_id(lease.trial().trial_id());
  request.set_attempt(lease.attempt());
  request.set_tokens_done(tokens_done);
  request.set_lease_token(lease.lease_token());
  v1::HeartbeatResponse response;
  return Call(stub, &Stub::Heartbeat, request, &response, "Heartbeat");
}

// Streams `n` points covering the first `fraction` of the trial's tokens.
absl::Status StreamPoints(Stub& stub, const v1::LeaseTrialResponse& lease, int n, double fraction,
                          double final_loss) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = stub.StreamMetrics(&context);
  const v1::TrialSpec& trial = lease.trial();
  for (int i = 1; i <= n; ++i) {
    v1::MetricPoint point;
    point.set_trial_id(trial.trial_id());
    point.set_attempt(lease.attempt());
    point.set_lease_token(lease.lease_token());
    point.set_seq(uint64_t(i));
    point.set_step(uint64_t(10 * i));
    const double tokens = double(trial.tokens()) * fraction * i / n;
    point.set_tokens(uint64_t(tokens));
    point.set_flops(trial.flops() * fraction * i / n);
    const double loss = final_loss + 2.0 / i;  // approaches the final loss
    point.set_train_loss(loss + 0.05);
    if (i % 2 == 0) point.set_val_loss(loss);
    point.set_lr(trial.optimizer().lr() * (1.0 - 0.5 * i / n));
    point.set_tokens_per_second(20000 + 100 * i);
    point.set_noise_scale(4.0 + i);
    point.set_wall_seconds(0.5 * i);
    if (!stream->Write(point)) break;
  }
  stream->WritesDone();
  v1::MetricAck ack;
  int acks = 0;
  while (stream->Read(&ack)) ++acks;
  SCALELAW_RETURN_IF_ERROR(FromGrpc(stream->Finish(), "StreamMetrics"));
  if (acks != n) return absl::InternalError(absl::StrCat("StreamMetrics: ", acks, " acks of ", n));
  return absl::OkStatus();
}

// A completion of `lease` with the trial's accounting; the caller sets the
// losses (or divergence).
v1::CompleteTrialRequest Completion(const std::string& worker_id,
                                    const v1::LeaseTrialResponse& lease) {
  const v1::TrialSpec& trial = lease.trial();
  v1::CompleteTrialRequest complete;
  complete.set_worker_id(worker_id);
  complete.set_trial_id(trial.trial_id());
  complete.set_attempt(lease.attempt());
  complete.set_lease_token(lease.lease_token());
  v1::TrialResult& result = *complete.mutable_result();
  result.set_params(trial.params());
  result.set_non_embedding_params(trial.non_embedding_params());
  result.set_tokens(trial.tokens());
  result.set_flops(trial.flops());
  result.set_tokens_per_second(21000);
  result.set_wall_seconds(double(trial.tokens()) / 21000);
  result.set_noise_scale(6.5);
  result.set_device("cpu");
  return complete;
}

absl::Status CompleteWithLoss(Stub& stub, const std::string& worker_id,
                              const v1::LeaseTrialResponse& lease, double loss) {
  SCALELAW_RETURN_IF_ERROR(Heartbeat(stub, worker_id, lease, lease.trial().tokens() / 2));
  v1::CompleteTrialRequest complete = Completion(worker_id, lease);
  complete.mutable_result()->set_final_val_loss(loss);
  complete.mutable_result()->set_final_train_loss(loss + 0.05);
  v1::CompleteTrialResponse completed;
  SCALELAW_RETURN_IF_ERROR(Call(stub, &Stub::CompleteTrial, complete, &completed, "CompleteTrial"));
  if (!completed.accepted()) return absl::InternalError("completion not accepted");
  return absl::OkStatus();
}

// Relative scatter of the ladder's losses, in plan order: fixed, so the fit
// and its forecast are the same on every run.
constexpr double kLadderScatter[] = {0.006,  -0.004, 0.002,  -0.007, 0.005,
                                     -0.001, 0.003,  -0.005, 0.001};

}  // namespace

double SyntheticLoss(double params, double tokens) {
  return 1.69 + 406.4 / std::pow(params, 0.34) + 410.7 / std::pow(tokens, 0.28);
}

DemoSweepDriver::DemoSweepDriver(const std::string& coordinator_address)
    : channel_(grpc::CreateChannel(coordinator_address, grpc::InsecureChannelCredentials())),
      stub_(v1::Coordinator::NewStub(channel_)) {}

DemoSweepDriver::~DemoSweepDriver() {
  stop_ = true;
  if (keep_alive_.joinable()) keep_alive_.join();
}

absl::StatusOr<DemoSweep> DemoSweepDriver::Run() {
  Stub& stub = *stub_;
  SCALELAW_ASSIGN_OR_RETURN(std::string main_worker, Register(stub, "demo-main"));
  SCALELAW_ASSIGN_OR_RETURN(std::string runner, Register(stub, "demo-runner"));
  SCALELAW_ASSIGN_OR_RETURN(std::string vanishing, Register(stub, "demo-vanishing"));

  v1::SubmitSweepRequest submit;
  v1::SweepSpec& spec = *submit.mutable_spec();
  spec = sweeps::DefaultSweepSpec();
  spec.set_name("monitoring-demo");
  for (double params : {1e5, 3e5, 1e6, 3e6}) spec.add_models()->set_target_params(params);
  for (double tokens : {1e6, 4e6, 1.6e7}) spec.add_tokens(tokens);
  spec.add_seeds(1);
  spec.set_max_attempts(3);
  v1::SubmitSweepResponse submitted;
  SCALELAW_RETURN_IF_ERROR(Call(stub, &Stub::SubmitSweep, submit, &submitted, "SubmitSweep"));
  DemoSweep demo;
  demo.sweep_id = submitted.sweep_id();
  demo.n_trials = int(submitted.n_trials());

  // A worker that leases and vanishes: wait until the coordinator requeues.
  SCALELAW_ASSIGN_OR_RETURN(v1::LeaseTrialResponse abandoned,
                            Lease(stub, vanishing, demo.sweep_id));
  if (!abandoned.granted()) return absl::InternalError("first lease not granted");
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (true) {
    v1::ListTrialsRequest list;
    list.set_sweep_id(demo.sweep_id);
    v1::ListTrialsResponse trials;
    SCALELAW_RETURN_IF_ERROR(Call(stub, &Stub::ListTrials, list, &trials, "ListTrials"));
    bool requeued = false;
    for (const v1::Trial& trial : trials.trials()) {
      requeued |= trial.spec().trial_id() == abandoned.trial().trial_id() &&
                  trial.state() == v1::TRIAL_STATE_PENDING;
    }
    if (requeued) break;
    if (std::chrono::steady_clock::now() > give_up) {
      return absl::DeadlineExceededError("the abandoned lease did not expire within 60 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  // A trial that stays RUNNING (it is the requeued one: attempt 2, a retry).
  SCALELAW_ASSIGN_OR_RETURN(v1::LeaseTrialResponse running, Lease(stub, runner, demo.sweep_id));
  if (!running.granted()) return absl::InternalError("runner's lease not granted");
  demo.running_trial = running.trial().trial_id();
  const uint64_t running_tokens = running.trial().tokens() / 3;
  SCALELAW_RETURN_IF_ERROR(Heartbeat(stub, runner, running, running_tokens));
  SCALELAW_RETURN_IF_ERROR(StreamPoints(
      stub, running, 6, 1.0 / 3,
      SyntheticLoss(double(running.trial().params()), double(running.trial().tokens()))));
  keep_alive_ = std::thread([this, runner, running, running_tokens] {
    while (!stop_) {
      (void)Heartbeat(*stub_, runner, running, running_tokens);
      for (int i = 0; i < 10 && !stop_; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  });

  // Worker 1 runs the rest: the 3rd trial diverges, the 5th fails once.
  int leased = 0;
  bool failed_once = false;
  while (true) {
    SCALELAW_ASSIGN_OR_RETURN(v1::LeaseTrialResponse lease,
                              Lease(stub, main_worker, demo.sweep_id));
    if (!lease.granted()) break;
    ++leased;
    const v1::TrialSpec& trial = lease.trial();
    const double loss = SyntheticLoss(double(trial.params()), double(trial.tokens()));
    SCALELAW_RETURN_IF_ERROR(Heartbeat(stub, main_worker, lease, trial.tokens() / 2));
    SCALELAW_RETURN_IF_ERROR(StreamPoints(stub, lease, 4, 1.0, loss));
    if (leased == 5 && !failed_once) {
      failed_once = true;
      v1::FailTrialRequest fail;
      fail.set_worker_id(main_worker);
      fail.set_trial_id(trial.trial_id());
      fail.set_attempt(lease.attempt());
      fail.set_lease_token(lease.lease_token());
      fail.set_reason("demo: simulated out-of-memory");
      fail.set_retriable(true);
      v1::FailTrialResponse failed;
      SCALELAW_RETURN_IF_ERROR(Call(stub, &Stub::FailTrial, fail, &failed, "FailTrial"));
      continue;
    }
    v1::CompleteTrialRequest complete = Completion(main_worker, lease);
    v1::TrialResult& result = *complete.mutable_result();
    if (leased == 3) {
      result.set_diverged(true);
      result.set_divergence_reason("demo: loss is nan at step 40");
      result.set_final_val_loss(std::nan(""));
      demo.diverged_trial = trial.trial_id();
    } else {
      result.set_final_val_loss(loss);
      result.set_final_train_loss(loss + 0.05);
      demo.succeeded_trial = trial.trial_id();
      demo.succeeded_val_loss = loss;
    }
    v1::CompleteTrialResponse completed;
    SCALELAW_RETURN_IF_ERROR(
        Call(stub, &Stub::CompleteTrial, complete, &completed, "CompleteTrial"));
    if (!completed.accepted()) return absl::InternalError("completion not accepted");
  }

  for (const char* law : {"chinchilla", "power"}) {
    v1::GetFitRequest fit_request;
    fit_request.set_sweep_id(demo.sweep_id);
    fit_request.set_law(law);
    for (double budget : {1e17, 1e18, 1e19}) fit_request.add_compute_budgets(budget);
    v1::FitResult fit;
    SCALELAW_RETURN_IF_ERROR(Call(stub, &Stub::GetFit, fit_request, &fit, "GetFit"));
  }
  v1::GetSweepRequest unknown;
  unknown.set_sweep_id("no-such-sweep");
  v1::Sweep ignored;
  if (Call(stub, &Stub::GetSweep, unknown, &ignored, "GetSweep").ok()) {
    return absl::InternalError("GetSweep of an unknown sweep succeeded");
  }
  return demo;
}

absl::StatusOr<DemoForecast> DemoSweepDriver::RunForecast(std::chrono::seconds forecast_timeout) {
  Stub& stub = *stub_;
  SCALELAW_ASSIGN_OR_RETURN(std::string worker, Register(stub, "demo-forecaster"));

  // Ladder: 3 sizes x 3 budgets, up to 6ND = 1.2e16 FLOPs; the target
  // (3e7 parameters, 6e8 tokens) spends about 1e17.
  v1::SubmitSweepRequest submit;
  v1::SweepSpec& spec = *submit.mutable_spec();
  spec = sweeps::DefaultSweepSpec();
  spec.set_name("monitoring-demo-forecast");
  for (double params : {1e6, 3e6, 1e7}) spec.add_models()->set_target_params(params);
  for (double tokens : {2e7, 6e7, 2e8}) spec.add_tokens(tokens);
  spec.add_seeds(1);
  v1::ForecastPlan& plan = *spec.mutable_forecast();
  plan = sweeps::DefaultForecastPlan();
  plan.set_bootstrap(50);
  v1::ForecastTarget& target = *plan.add_targets();
  target.set_name("big");
  target.mutable_size()->set_target_params(3e7);
  target.set_tokens(6e8);
  v1::SubmitSweepResponse submitted;
  SCALELAW_RETURN_IF_ERROR(Call(stub, &Stub::SubmitSweep, submit, &submitted, "SubmitSweep"));
  DemoForecast demo;
  demo.sweep_id = submitted.sweep_id();
  demo.target = target.name();

  // The ladder: every lease until the coordinator holds the target back.
  while (true) {
    SCALELAW_ASSIGN_OR_RETURN(v1::LeaseTrialResponse lease, Lease(stub, worker, demo.sweep_id));
    if (!lease.granted()) break;
    const v1::TrialSpec& trial = lease.trial();
    if (!trial.forecast_target().empty()) {
      return absl::InternalError(
          absl::StrCat("target ", trial.trial_id(), " was leased before its forecast was stored"));
    }
    const double scatter = kLadderScatter[demo.n_ladder % std::size(kLadderScatter)];
    ++demo.n_ladder;
    SCALELAW_RETURN_IF_ERROR(CompleteWithLoss(
        stub, worker, lease,
        SyntheticLoss(double(trial.params()), double(trial.tokens())) * (1 + scatter)));
  }

  // The forecast thread (started by the coordinator's expiry scan) fits the
  // ladder and stores the forecast.
  const auto give_up = std::chrono::steady_clock::now() + forecast_timeout;
  while (true) {
    v1::GetForecastsRequest request;
    request.set_sweep_id(demo.sweep_id);
    v1::GetForecastsResponse forecasts;
    SCALELAW_RETURN_IF_ERROR(Call(stub, &Stub::GetForecasts, request, &forecasts, "GetForecasts"));
    if (forecasts.forecasts_size() > 0) {
      demo.forecast = forecasts.forecasts(0).forecast();
      break;
    }
    if (std::chrono::steady_clock::now() > give_up) {
      return absl::DeadlineExceededError(
          absl::StrCat("no forecast of sweep ", demo.sweep_id, " was stored within ",
                       forecast_timeout.count(), " s of its ladder ending"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!demo.forecast.error().empty()) {
    return absl::InternalError(
        absl::StrCat("the forecast of sweep ", demo.sweep_id, " failed: ", demo.forecast.error()));
  }
  demo.target_trial = demo.forecast.trial_id();

  // The target, now leasable, reaches the law's loss.
  SCALELAW_ASSIGN_OR_RETURN(v1::LeaseTrialResponse lease, Lease(stub, worker, demo.sweep_id));
  if (!lease.granted() || lease.trial().trial_id() != demo.target_trial) {
    return absl::InternalError(absl::StrCat("the target ", demo.target_trial,
                                            " was not leased once its forecast was stored"));
  }
  demo.actual_loss = SyntheticLoss(double(lease.trial().params()), double(lease.trial().tokens()));
  SCALELAW_RETURN_IF_ERROR(CompleteWithLoss(stub, worker, lease, demo.actual_loss));
  return demo;
}

}  // namespace scalelaw::monitoring_testing
