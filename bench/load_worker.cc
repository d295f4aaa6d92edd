#include "bench/load_worker.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace scalelaw::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kErrorSamples = 5;
// A worker that fell this far behind its pace (a full window) resumes from
// now instead of bursting to catch up.
constexpr std::chrono::milliseconds kMaxLag{100};

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string Describe(const grpc::Status& status) {
  return absl::StrCat("code ", status.error_code(), ": ", status.error_message());
}

// A training curve's worth of point: the loss falls from ~5.5 nats toward 2.5
// over the trial; every 20th point also carries a validation loss.
v1::MetricPoint MakePoint(const v1::TrialSpec& trial, uint32_t attempt, uint64_t seq,
                          int points_per_trial, const std::string& lease_token,
                          double wall_seconds) {
  const double progress = static_cast<double>(seq) / points_per_trial;
  const uint64_t tokens = static_cast<uint64_t>(progress * static_cast<double>(trial.tokens()));
  const double flops_per_token =
      trial.tokens() > 0 ? trial.flops() / static_cast<double>(trial.tokens()) : 0.0;
  const double loss = 2.5 + 3.0 * std::exp(-5.0 * progress);
  v1::MetricPoint point;
  point.set_trial_id(trial.trial_id());
  point.set_attempt(attempt);
  point.set_seq(seq);
  point.set_step(seq * trial.training().log_every_steps());
  point.set_tokens(tokens);
  point.set_flops(flops_per_token * static_cast<double>(tokens));
  point.set_train_loss(loss);
  if (seq % 20 == 0) point.set_val_loss(loss + 0.05);
  point.set_lr(trial.optimizer().lr());
  point.set_tokens_per_second(wall_seconds > 0 ? static_cast<double>(tokens) / wall_seconds : 0);
  point.set_wall_seconds(wall_seconds);
  point.set_lease_token(lease_token);
  return point;
}

v1::TrialResult MakeResult(const v1::TrialSpec& trial, int points_per_trial, double wall_seconds) {
  v1::TrialResult result;
  result.set_params(trial.params());
  result.set_non_embedding_params(trial.non_embedding_params());
  result.set_tokens(trial.tokens());
  result.set_flops(trial.flops());
  if (trial.tokens() > 0) {
    result.set_flops_per_token(trial.flops() / static_cast<double>(trial.tokens()));
    result.set_flops_per_token_6n(6.0 * static_cast<double>(trial.params()));
  }
  result.set_final_val_loss(2.5 + 3.0 * std::exp(-5.0) + 0.05);
  result.set_final_train_loss(2.5 + 3.0 * std::exp(-5.0));
  result.set_tokens_per_second(wall_seconds > 0 ? static_cast<double>(trial.tokens()) / wall_seconds
                                                : 0);
  result.set_wall_seconds(wall_seconds);
  result.set_device("cpu");
  result.set_steps(static_cast<uint64_t>(points_per_trial) * trial.training().log_every_steps());
  return result;
}

}  // namespace

LoadWorker::LoadWorker(LoadWorkerOptions options) : options_(std::move(options)) {
  // A connection of its own, as a worker process would have: without a local
  // subchannel pool, every channel to one address shares one TCP connection.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  channel_ = grpc::CreateCustomChannel(options_.address, grpc::InsecureChannelCredentials(), args);
  stub_ = v1::Coordinator::NewStub(channel_);
}

LoadWorker::~LoadWorker() {
  Stop();
  Join();
}

void LoadWorker::SetDeadline(grpc::ClientContext* context) const {
  context->set_deadline(std::chrono::system_clock::now() + options_.rpc_deadline);
}

void LoadWorker::AddToken(grpc::ClientContext* context) const {
  context->AddMetadata("authorization", "Bearer " + options_.token);
}

void LoadWorker::Error(const std::string& what) {
  std::lock_guard lock(errors_mu_);
  ++results_.errors;
  if (results_.error_samples.size() < kErrorSamples) {
    results_.error_samples.push_back(absl::StrCat(worker_id_, ": ", what));
  }
}

absl::Status LoadWorker::Register() {
  v1::RegisterWorkerRequest request;
  request.set_hostname("coordinator-load");
  request.set_pid(::getpid());
  request.set_device("cpu");
  request.set_threads(1);
  request.set_launcher_tag("bench/coordinator_load");
  grpc::ClientContext context;
  AddToken(&context);
  SetDeadline(&context);
  context.set_wait_for_ready(true);
  v1::RegisterWorkerResponse response;
  const grpc::Status status = stub_->RegisterWorker(&context, request, &response);
  if (!status.ok()) return absl::UnavailableError("RegisterWorker: " + Describe(status));
  worker_id_ = response.worker_id();
  if (response.heartbeat_interval_ms() > 0) {
    heartbeat_interval_ = std::chrono::milliseconds(response.heartbeat_interval_ms());
  }
  return absl::OkStatus();
}

void LoadWorker::Start() {
  driver_ = std::thread([this] { Drive(); });
  heartbeat_thread_ = std::thread([this] { Heartbeats(); });
}

void LoadWorker::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_.store(true);
  }
  cv_.notify_all();
  heartbeat_cv_.notify_all();
}

void LoadWorker::Join() {
  if (driver_.joinable()) driver_.join();
  {
    std::lock_guard lock(mu_);
    heartbeats_done_ = true;
  }
  heartbeat_cv_.notify_all();
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
}

void LoadWorker::Drive() {
  while (!Stopped()) {
    v1::LeaseTrialRequest request;
    request.set_worker_id(worker_id_);
    request.set_sweep_id(options_.sweep_id);
    grpc::ClientContext context;
    AddToken(&context);
    SetDeadline(&context);
    v1::LeaseTrialResponse lease;
    const Clock::time_point start = Clock::now();
    const grpc::Status status = stub_->LeaseTrial(&context, request, &lease);
    results_.lease_ms.push_back(MsSince(start));
    if (!status.ok()) {
      Error("LeaseTrial: " + Describe(status));
    } else if (lease.granted()) {
      // A coordinator from before lease tokens grants none; its leases are
      // counted, and the empty token is sent back.
      if (lease.lease_token().empty()) ++results_.leases_without_token;
      RunAttempt(lease);
      continue;
    } else if (lease.no_more_work()) {
      results_.starved = true;  // the sweep was sized too small: a bench problem, not an error
      return;
    }
    std::unique_lock lock(mu_);
    const auto retry = std::chrono::milliseconds(status.ok() ? lease.retry_after_ms() : 1000);
    cv_.wait_for(lock, std::max(retry, std::chrono::milliseconds(10)),
                 [this] { return Stopped(); });
  }
}

void LoadWorker::RunAttempt(const v1::LeaseTrialResponse& lease) {
  const v1::TrialSpec& trial = lease.trial();
  const uint32_t attempt = lease.attempt();
  // Workers start together; if every first trial were as long, all 256
  // would end and lease again in the same millisecond, every trial, which no
  // cluster does. A shorter first trial (by the worker's phase) spreads them.
  const bool first_attempt = attempts_started_++ == 0;
  const int points =
      first_attempt
          ? std::max(1, static_cast<int>(std::lround(Phase() * options_.points_per_trial)))
          : options_.points_per_trial;
  const Clock::time_point attempt_start = Clock::now();
  {
    std::lock_guard lock(mu_);
    heartbeat_lease_ = Lease{trial.trial_id(), attempt, lease.lease_token()};
  }
  tokens_done_.store(0);

  grpc::ClientContext stream_context;
  AddToken(&stream_context);
  std::unique_ptr<grpc::ClientReaderWriter<v1::MetricPoint, v1::MetricAck>> stream =
      stub_->StreamMetrics(&stream_context);

  // The window, guarded by mu_: points written and acknowledged (seq 1 ..
  // written and 1 .. acked), and when each was written.
  std::vector<Clock::time_point> sent(points + 1);
  uint64_t written = 0, acked = 0;
  bool reader_done = false;
  std::thread reader([&] {
    v1::MetricAck ack;
    while (stream->Read(&ack)) {
      const Clock::time_point now = Clock::now();
      std::lock_guard lock(mu_);
      if (ack.trial_id() != trial.trial_id() || ack.attempt() != attempt ||
          ack.seq() != acked + 1 || ack.seq() > written) {
        Error(absl::StrCat("unexpected ack ", ack.trial_id(), "/", ack.attempt(), "/", ack.seq(),
                           " (expected seq ", acked + 1, " of ", trial.trial_id(), ")"));
        continue;
      }
      results_.ack_ms.push_back(
          std::chrono::duration<double, std::milli>(now - sent[ack.seq()]).count());
      ++acked;
      ++results_.points_acked;
      if (!Stopped()) ++results_.points_acked_timed;
      if (driver_waits_for_acks_) cv_.notify_all();
    }
    std::lock_guard lock(mu_);
    reader_done = true;
    cv_.notify_all();
  });

  // Stream the points, paced, never more than `window` unacknowledged.
  const auto period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / options_.points_per_second));
  Clock::time_point next = Clock::now();
  for (uint64_t seq = 1; seq <= static_cast<uint64_t>(points); ++seq) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next, [this] { return Stopped(); });
      driver_waits_for_acks_ = true;
      cv_.wait(lock, [&] {
        return written - acked < static_cast<uint64_t>(options_.window) || reader_done || Stopped();
      });
      driver_waits_for_acks_ = false;
      if (reader_done || Stopped()) break;
      sent[seq] = Clock::now();
      ++written;
    }
    const double wall = std::chrono::duration<double>(Clock::now() - attempt_start).count();
    if (!stream->Write(MakePoint(trial, attempt, seq, points, lease.lease_token(), wall))) {
      std::lock_guard lock(mu_);
      --written;  // never sent: the stream has ended, and Finish says why
      break;
    }
    ++results_.points_offered;
    tokens_done_.store(static_cast<uint64_t>(static_cast<double>(seq) / points *
                                             static_cast<double>(trial.tokens())));
    next += period;
    if (Clock::now() - next > kMaxLag) next = Clock::now();
  }
  stream->WritesDone();

  // Drain: the coordinator acks what it has and ends the stream.
  bool drained = false;
  uint64_t sent_points = 0, acked_points = 0;
  {
    std::unique_lock lock(mu_);
    driver_waits_for_acks_ = true;
    drained = cv_.wait_for(lock, options_.drain_timeout, [&] { return reader_done; });
    driver_waits_for_acks_ = false;
    sent_points = written;
  }
  if (!drained) stream_context.TryCancel();
  reader.join();
  const grpc::Status stream_status = stream->Finish();
  {
    std::lock_guard lock(mu_);
    acked_points = acked;
  }
  if (acked_points < sent_points) {
    Error(absl::StrCat(sent_points - acked_points, " of ", sent_points, " points of ",
                       trial.trial_id(), "/", attempt, " were never acknowledged",
                       drained ? "" : " (drain timed out)"));
  }
  if (!stream_status.ok() && drained) Error("StreamMetrics: " + Describe(stream_status));
  results_.attempts.push_back(AttemptAcks{trial.trial_id(), attempt, acked_points});
  EndHeartbeats();

  // Complete a trial whose every point is durable; give back one cut short.
  const double wall = std::chrono::duration<double>(Clock::now() - attempt_start).count();
  grpc::ClientContext context;
  AddToken(&context);
  SetDeadline(&context);
  if (acked_points == static_cast<uint64_t>(points) && stream_status.ok()) {
    v1::CompleteTrialRequest request;
    request.set_worker_id(worker_id_);
    request.set_trial_id(trial.trial_id());
    request.set_attempt(attempt);
    *request.mutable_result() = MakeResult(trial, points, wall);
    request.set_lease_token(lease.lease_token());
    v1::CompleteTrialResponse response;
    const grpc::Status status = stub_->CompleteTrial(&context, request, &response);
    if (!status.ok()) {
      Error("CompleteTrial: " + Describe(status));
    } else if (!response.accepted()) {
      Error("CompleteTrial: " + trial.trial_id() + " not accepted");
    } else {
      ++results_.trials_completed;
    }
    return;
  }
  v1::FailTrialRequest request;
  request.set_worker_id(worker_id_);
  request.set_trial_id(trial.trial_id());
  request.set_attempt(attempt);
  request.set_reason(Stopped() ? "coordinator_load: timed phase over"
                               : "coordinator_load: stream broke");
  request.set_retriable(true);
  request.set_preempted(Stopped());
  request.set_lease_token(lease.lease_token());
  v1::FailTrialResponse response;
  const grpc::Status status = stub_->FailTrial(&context, request, &response);
  if (!status.ok()) {
    Error("FailTrial: " + Describe(status));
  } else if (!response.accepted()) {
    Error("FailTrial: " + trial.trial_id() + " not accepted");
  } else if (Stopped()) {
    ++results_.trials_given_back;
  }
}

void LoadWorker::EndHeartbeats() {
  std::unique_lock lock(mu_);
  heartbeat_cv_.wait(lock, [this] { return !heartbeat_in_flight_; });
  heartbeat_lease_.reset();
}

double LoadWorker::Phase() const {
  return static_cast<double>(std::hash<std::string>{}(worker_id_) % 1000) / 1000.0;
}

void LoadWorker::Heartbeats() {
  // Workers start together; each worker's phase keeps their heartbeats from
  // arriving in one burst every interval.
  const auto interval = heartbeat_interval_;
  Clock::time_point next =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(interval * Phase());
  std::unique_lock lock(mu_);
  while (true) {
    heartbeat_cv_.wait_until(lock, next, [this] { return heartbeats_done_; });
    if (heartbeats_done_) return;
    if (Clock::now() < next) continue;
    next = std::max(next + interval, Clock::now());
    if (!heartbeat_lease_) continue;
    const Lease lease = *heartbeat_lease_;
    heartbeat_in_flight_ = true;
    lock.unlock();

    v1::HeartbeatRequest request;
    request.set_worker_id(worker_id_);
    request.set_trial_id(lease.trial_id);
    request.set_attempt(lease.attempt);
    request.set_tokens_done(tokens_done_.load());
    request.set_lease_token(lease.lease_token);
    grpc::ClientContext context;
    AddToken(&context);
    SetDeadline(&context);
    v1::HeartbeatResponse response;
    const Clock::time_point start = Clock::now();
    const grpc::Status status = stub_->Heartbeat(&context, request, &response);
    results_.heartbeat_ms.push_back(MsSince(start));
    if (!status.ok()) {
      Error("Heartbeat: " + Describe(status));
    } else if (!response.keep_going()) {
      Error("Heartbeat: lease of " + lease.trial_id + " refused (keep_going false)");
    }

    lock.lock();
    heartbeat_in_flight_ = false;
    heartbeat_cv_.notify_all();
  }
}

}  // namespace scalelaw::bench
