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

template <typename Request, typename Response>
struct UnaryCall {
  grpc::ClientContext context;
  Request request;
  Response response;
  Clock::time_point start = Clock::now();
};

}  // namespace

// One attempt's StreamMetrics: writes the points at the worker's pace, at
// most `window` unacknowledged, reads the acks, half-closes after the last
// point (or at Stop) and tells the worker how the stream ended. Its state is
// guarded by the worker's mutex; gRPC calls are made without it held, since
// a reaction may run on the calling thread. Shared with its timers, so a
// timer that fires after the stream ended finds it still there.
class LoadWorker::AttemptStream
    : public grpc::ClientBidiReactor<v1::MetricPoint, v1::MetricAck>,
      public std::enable_shared_from_this<AttemptStream> {
 public:
  AttemptStream(LoadWorker* worker, v1::LeaseTrialResponse lease, int points)
      : worker_(worker),
        lease_(std::move(lease)),
        points_(points),
        period_(std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(1.0 / worker->options_.points_per_second))),
        sent_(points + 1) {}

  void Begin() {
    worker_->AddToken(&context_);
    worker_->stub_->async()->StreamMetrics(&context_, this);
    start_ = Clock::now();
    next_ = start_;
    StartRead(&ack_);
    StartCall();
    Action action;
    {
      std::lock_guard lock(worker_->mu_);
      due_ = 1;  // the first point goes at once
      action = Decide();
    }
    Act(action);
    SchedulePace();
  }

 private:
  enum class Action { kNone, kWrite, kWritesDone };

  void SchedulePace() {
    next_ += period_;
    if (Clock::now() - next_ > kMaxLag) next_ = Clock::now();
    worker_->timers_->At(next_, [self = shared_from_this()] { self->OnPace(); });
  }

  void OnPace() {
    Action action;
    {
      std::lock_guard lock(worker_->mu_);
      if (writes_done_ || broken_ || done_) return;
      // A point held back by a full window waits; the ones after it do not
      // pile up behind it (no burst to catch up).
      due_ = std::min(due_ + 1, written_ + 1);
      action = Decide();
      SchedulePace();
    }
    Act(action);
  }

  // What to do next; worker_->mu_ held.
  Action Decide() {
    if (write_in_flight_ || writes_done_ || broken_) return Action::kNone;
    const uint64_t window = static_cast<uint64_t>(worker_->options_.window);
    if (!worker_->stop_ && written_ < static_cast<uint64_t>(points_) && due_ > written_ &&
        written_ - acked_ < window) {
      const uint64_t seq = ++written_;
      sent_[seq] = Clock::now();
      writing_ = MakePoint(lease_.trial(), lease_.attempt(), seq, points_, lease_.lease_token(),
                           std::chrono::duration<double>(sent_[seq] - start_).count());
      write_in_flight_ = true;
      return Action::kWrite;
    }
    if (worker_->stop_ || written_ == static_cast<uint64_t>(points_)) {
      writes_done_ = true;
      return Action::kWritesDone;
    }
    return Action::kNone;
  }

  void Act(Action action) {
    if (action == Action::kWrite) {
      StartWrite(&writing_);
    } else if (action == Action::kWritesDone) {
      StartWritesDone();
      // Drain: the coordinator acks what it holds and ends the stream.
      worker_->timers_->At(Clock::now() + worker_->options_.drain_timeout,
                           [self = shared_from_this()] { self->OnDrainTimeout(); });
    }
  }

  void OnDrainTimeout() {
    {
      std::lock_guard lock(worker_->mu_);
      if (done_) return;
      drain_timed_out_ = true;
    }
    context_.TryCancel();
  }

  void OnWriteDone(bool ok) override {
    Action action;
    {
      std::lock_guard lock(worker_->mu_);
      write_in_flight_ = false;
      if (ok) {
        ++worker_->results_.points_offered;
        worker_->tokens_done_ = static_cast<uint64_t>(static_cast<double>(written_) / points_ *
                                                      static_cast<double>(lease_.trial().tokens()));
      } else {
        --written_;  // never sent: the stream has ended, and OnDone says why
        broken_ = true;
      }
      action = Decide();
    }
    Act(action);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream is over: OnDone follows
    const Clock::time_point now = Clock::now();
    Action action;
    {
      std::lock_guard lock(worker_->mu_);
      LoadWorkerResults& results = worker_->results_;
      if (ack_.trial_id() != lease_.trial().trial_id() || ack_.attempt() != lease_.attempt() ||
          ack_.seq() != acked_ + 1 || ack_.seq() > written_) {
        worker_->Error(absl::StrCat("unexpected ack ", ack_.trial_id(), "/", ack_.attempt(), "/",
                                    ack_.seq(), " (expected seq ", acked_ + 1, " of ",
                                    lease_.trial().trial_id(), ")"));
      } else {
        results.ack_ms.push_back(
            std::chrono::duration<double, std::milli>(now - sent_[ack_.seq()]).count());
        ++acked_;
        ++results.points_acked;
        if (!worker_->stop_) ++results.points_acked_timed;
      }
      action = Decide();
    }
    StartRead(&ack_);
    Act(action);
  }

  void OnDone(const grpc::Status& status) override {
    Ending ending;
    {
      std::lock_guard lock(worker_->mu_);
      done_ = true;
      if (acked_ < written_) {
        worker_->Error(absl::StrCat(written_ - acked_, " of ", written_, " points of ",
                                    lease_.trial().trial_id(), "/", lease_.attempt(),
                                    " were never acknowledged",
                                    drain_timed_out_ ? " (drain timed out)" : ""));
      }
      if (!status.ok() && !drain_timed_out_) {
        worker_->Error("StreamMetrics: " + Describe(status));
      }
      worker_->results_.attempts.push_back(
          AttemptAcks{lease_.trial().trial_id(), lease_.attempt(), acked_});
      ending = Ending{lease_, points_, acked_,
                      acked_ == static_cast<uint64_t>(points_) && status.ok(),
                      std::chrono::duration<double>(Clock::now() - start_).count()};
    }
    worker_->OnStreamDone(std::move(ending));
  }

  LoadWorker* const worker_;
  const v1::LeaseTrialResponse lease_;
  const int points_;
  const Clock::duration period_;
  grpc::ClientContext context_;
  v1::MetricAck ack_;  // the one read in flight fills it
  Clock::time_point start_, next_;  // next_: the pace timer's only

  // Guarded by worker_->mu_: points written and acknowledged (seq 1 ..
  // written_ and 1 .. acked_), when each was written, and the point being
  // written.
  std::vector<Clock::time_point> sent_;
  v1::MetricPoint writing_;
  uint64_t due_ = 0, written_ = 0, acked_ = 0;
  bool write_in_flight_ = false;
  bool writes_done_ = false;
  bool broken_ = false;
  bool drain_timed_out_ = false;
  bool done_ = false;
};

LoadWorker::LoadWorker(LoadWorkerOptions options, LoadTimers* timers)
    : options_(std::move(options)), timers_(timers) {
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

void LoadWorker::Prepare(grpc::ClientContext* context) const {
  AddToken(context);
  context->set_deadline(std::chrono::system_clock::now() + options_.rpc_deadline);
}

void LoadWorker::AddToken(grpc::ClientContext* context) const {
  context->AddMetadata("authorization", "Bearer " + options_.token);
}

void LoadWorker::Error(const std::string& what) {
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
  Prepare(&context);
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
  {
    std::lock_guard lock(mu_);
    started_ = true;
    // Workers start together; each worker's phase keeps their heartbeats
    // from arriving in one burst every interval.
    next_heartbeat_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                         heartbeat_interval_ * Phase());
    timers_->At(next_heartbeat_, [this] { Heartbeat(); });
  }
  LeaseNext();
}

void LoadWorker::Stop() {
  std::lock_guard lock(mu_);
  stop_ = true;  // the stream half-closes at its next pace tick
  if (!started_) finished_ = true;
}

void LoadWorker::Join() {
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [this] { return finished_ && calls_in_flight_ == 0; });
}

void LoadWorker::Finish() {
  finished_ = true;
  done_cv_.notify_all();
}

void LoadWorker::LeaseNext() {
  auto call = std::make_shared<UnaryCall<v1::LeaseTrialRequest, v1::LeaseTrialResponse>>();
  call->request.set_worker_id(worker_id_);
  call->request.set_sweep_id(options_.sweep_id);
  Prepare(&call->context);
  {
    std::lock_guard lock(mu_);
    ++calls_in_flight_;
  }
  stub_->async()->LeaseTrial(&call->context, &call->request, &call->response,
                             [this, call](grpc::Status status) {
                               OnLeased(call->response, status, MsSince(call->start));
                             });
}

void LoadWorker::OnLeased(const v1::LeaseTrialResponse& lease, const grpc::Status& status,
                          double ms) {
  std::shared_ptr<AttemptStream> stream;
  {
    std::lock_guard lock(mu_);
    --calls_in_flight_;
    results_.lease_ms.push_back(ms);
    std::chrono::milliseconds retry{1000};
    if (!status.ok()) {
      Error("LeaseTrial: " + Describe(status));
    } else if (lease.granted()) {
      // A coordinator from before lease tokens grants none; its leases are
      // counted, and the empty token is sent back.
      if (lease.lease_token().empty()) ++results_.leases_without_token;
      // Workers start together; if every first trial were as long, all 256
      // would end and lease again in the same millisecond, every trial, which
      // no cluster does. A shorter first trial (by the worker's phase) spreads
      // them.
      const bool first_attempt = attempts_started_++ == 0;
      const int points =
          first_attempt
              ? std::max(1, static_cast<int>(std::lround(Phase() * options_.points_per_trial)))
              : options_.points_per_trial;
      stream = std::make_shared<AttemptStream>(this, lease, points);
      stream_ = stream;
      lease_ = Lease{lease.trial().trial_id(), lease.attempt(), lease.lease_token()};
      tokens_done_ = 0;
      ++calls_in_flight_;  // until the attempt has ended
    } else if (lease.no_more_work()) {
      results_.starved = true;  // the sweep was sized too small: a bench problem, not an error
      Finish();
      return;
    } else {
      retry = std::chrono::milliseconds(lease.retry_after_ms());
    }
    if (!stream) {
      if (stop_) {
        Finish();
        return;
      }
      ++calls_in_flight_;
      timers_->At(Clock::now() + std::max(retry, std::chrono::milliseconds(10)), [this] {
        bool lease = false;
        {
          std::lock_guard lock(mu_);
          --calls_in_flight_;
          if (stop_) {
            Finish();
          } else {
            lease = true;
          }
        }
        if (lease) LeaseNext();
      });
      return;
    }
  }
  // A lease granted after Stop is run all the same: the stream half-closes
  // at once and the trial is given back.
  stream->Begin();
}

void LoadWorker::OnStreamDone(Ending ending) {
  {
    std::lock_guard lock(mu_);
    lease_.reset();  // no heartbeat races the call that ends the lease
    if (heartbeat_in_flight_) {
      ending_after_heartbeat_ = std::move(ending);
      return;
    }
  }
  EndAttempt(ending);
}

void LoadWorker::EndAttempt(const Ending& ending) {
  // Complete a trial whose every point is durable; give back one cut short.
  const v1::TrialSpec& trial = ending.lease.trial();
  if (ending.complete) {
    auto call = std::make_shared<UnaryCall<v1::CompleteTrialRequest, v1::CompleteTrialResponse>>();
    call->request.set_worker_id(worker_id_);
    call->request.set_trial_id(trial.trial_id());
    call->request.set_attempt(ending.lease.attempt());
    *call->request.mutable_result() = MakeResult(trial, ending.points, ending.wall_seconds);
    call->request.set_lease_token(ending.lease.lease_token());
    Prepare(&call->context);
    stub_->async()->CompleteTrial(&call->context, &call->request, &call->response,
                                  [this, call](grpc::Status status) {
                                    OnEnded(call->response.accepted(), status, true,
                                            call->request.trial_id());
                                  });
    return;
  }
  auto call = std::make_shared<UnaryCall<v1::FailTrialRequest, v1::FailTrialResponse>>();
  call->request.set_worker_id(worker_id_);
  call->request.set_trial_id(trial.trial_id());
  call->request.set_attempt(ending.lease.attempt());
  bool stopped = false;
  {
    std::lock_guard lock(mu_);
    stopped = stop_;
  }
  call->request.set_reason(stopped ? "coordinator_load: timed phase over"
                                   : "coordinator_load: stream broke");
  call->request.set_retriable(true);
  call->request.set_preempted(stopped);
  call->request.set_lease_token(ending.lease.lease_token());
  Prepare(&call->context);
  stub_->async()->FailTrial(&call->context, &call->request, &call->response,
                            [this, call](grpc::Status status) {
                              OnEnded(call->response.accepted(), status, false,
                                      call->request.trial_id());
                            });
}

void LoadWorker::OnEnded(bool accepted, const grpc::Status& status, bool completed,
                         const std::string& trial_id) {
  bool lease = false;
  {
    std::lock_guard lock(mu_);
    --calls_in_flight_;  // the attempt's, taken when it was leased
    const char* call = completed ? "CompleteTrial: " : "FailTrial: ";
    if (!status.ok()) {
      Error(call + Describe(status));
    } else if (!accepted) {
      Error(absl::StrCat(call, trial_id, " not accepted"));
    } else if (completed) {
      ++results_.trials_completed;
    } else if (stop_) {
      ++results_.trials_given_back;
    }
    if (stop_) {
      Finish();
    } else {
      lease = true;
    }
  }
  if (lease) LeaseNext();
}

double LoadWorker::Phase() const {
  return static_cast<double>(std::hash<std::string>{}(worker_id_) % 1000) / 1000.0;
}

void LoadWorker::Heartbeat() {
  auto call = std::make_shared<UnaryCall<v1::HeartbeatRequest, v1::HeartbeatResponse>>();
  {
    std::lock_guard lock(mu_);
    if (finished_) return;  // no more timers
    next_heartbeat_ = std::max(next_heartbeat_ + heartbeat_interval_, Clock::now());
    timers_->At(next_heartbeat_, [this] { Heartbeat(); });
    if (!lease_ || heartbeat_in_flight_) return;
    heartbeat_in_flight_ = true;
    ++calls_in_flight_;
    call->request.set_worker_id(worker_id_);
    call->request.set_trial_id(lease_->trial_id);
    call->request.set_attempt(lease_->attempt);
    call->request.set_tokens_done(tokens_done_);
    call->request.set_lease_token(lease_->lease_token);
  }
  Prepare(&call->context);
  stub_->async()->Heartbeat(
      &call->context, &call->request, &call->response, [this, call](grpc::Status status) {
        std::optional<Ending> ending;
        {
          std::lock_guard lock(mu_);
          --calls_in_flight_;
          heartbeat_in_flight_ = false;
          results_.heartbeat_ms.push_back(MsSince(call->start));
          if (!status.ok()) {
            Error("Heartbeat: " + Describe(status));
          } else if (!call->response.keep_going()) {
            Error("Heartbeat: lease of " + call->request.trial_id() +
                  " refused (keep_going false)");
          }
          ending.swap(ending_after_heartbeat_);
          done_cv_.notify_all();
        }
        if (ending) EndAttempt(*ending);
      });
}

}  // namespace scalelaw::bench
