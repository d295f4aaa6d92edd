#include "worker/worker_client.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "sweeps/spec_defaults.h"
#include "worker/coordinator_contact.h"
#include "worker/metric_stream.h"
#include "worker/trainer.h"

namespace scalelaw::worker {
namespace {

constexpr absl::Duration kRpcDeadline = absl::Seconds(10);
// A call made while the coordinator is unreachable (registration, a lease)
// waits this long for the channel; short, so that a stop request is noticed
// soon.
constexpr absl::Duration kRegisterAttempt = absl::Seconds(2);
// Between retries of a call. Calls wait for the channel to reconnect
// (wait_for_ready, under the channel's own capped backoff), so this only
// spaces out retries after errors; small, so a restarted coordinator is
// found within about a second.
constexpr absl::Duration kMinBackoff = absl::Milliseconds(200);
constexpr absl::Duration kMaxBackoff = absl::Seconds(1);
constexpr double kDefaultValFraction = 0.05;
// How long a stopped worker tries to give its trial back.
constexpr absl::Duration kStoppingFailBudget = absl::Seconds(10);

bool IsTransient(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
      return true;
    default:
      return false;
  }
}

absl::Status FromGrpc(const grpc::Status& status, const std::string& what) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout));
}

std::string Hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

// Calls `rpc(context)` until it succeeds or fails for good, or the
// coordinator has not answered for `contact`'s give-up time, or `budget`
// (at most that give-up time) has passed, e.g. while the coordinator keeps
// answering with a transient error such as RESOURCE_EXHAUSTED.
template <typename Rpc>
grpc::Status CallWithRetry(Rpc&& rpc, CoordinatorContact& contact,
                           absl::Duration budget = absl::InfiniteDuration()) {
  const absl::Time give_up = absl::Now() + std::min(budget, contact.give_up_after());
  absl::Duration backoff = kMinBackoff;
  while (true) {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);  // gets through as soon as the channel reconnects
    SetDeadline(context, kRpcDeadline);
    const absl::Time sent_at = absl::Now();
    const grpc::Status status = rpc(&context);
    contact.Record(status, sent_at);
    if (status.ok() || !IsTransient(status) || contact.GaveUp() ||
        absl::Now() + backoff > give_up) {
      return status;
    }
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

// Codes with which the coordinator says that this attempt no longer holds
// its lease (expired and requeued, ended, or the lease token is not its).
bool IsLeaseGone(grpc::StatusCode code) {
  return code == grpc::StatusCode::NOT_FOUND || code == grpc::StatusCode::FAILED_PRECONDITION ||
         code == grpc::StatusCode::PERMISSION_DENIED;
}

// How a trial's lease ended while the worker held it.
enum class LeaseEnd {
  kHeld,         // still ours
  kRevoked,      // the coordinator said it is no longer ours
  kUnreachable,  // no answer for connect_timeout: the worker gives up on it
};

// Keeps a trial's lease alive: calls Heartbeat every interval on its own
// thread until destroyed. The lease ends only when the coordinator says so
// (keep_going = false, or a refusal about the lease), or when the coordinator
// has not answered any call for connect_timeout (`contact`); then *stop is
// set. An outage shorter than that is ridden out: a restarted coordinator
// renews the leases it held, so training goes on meanwhile.
class HeartbeatThread {
 public:
  HeartbeatThread(v1::Coordinator::Stub* stub, v1::HeartbeatRequest request,
                  absl::Duration interval, CoordinatorContact* contact,
                  const std::atomic<uint64_t>* tokens_done, std::atomic<bool>* stop)
      : thread_([=, this, request = std::move(request)]() mutable {
          std::unique_lock<std::mutex> lock(mu_);
          while (!cv_.wait_for(lock, absl::ToChronoNanoseconds(interval), [&] { return done_; })) {
            request.set_tokens_done(tokens_done->load());
            grpc::ClientContext context;
            context.set_wait_for_ready(true);  // gets through as soon as the channel reconnects
            SetDeadline(context, std::min(interval, kRpcDeadline));
            in_flight_ = &context;
            lock.unlock();
            v1::HeartbeatResponse response;
            const absl::Time sent_at = absl::Now();
            const grpc::Status status = stub->Heartbeat(&context, request, &response);
            lock.lock();
            in_flight_ = nullptr;
            if (done_) return;
            contact->Record(status, sent_at);
            if (status.ok() && !response.keep_going()) {
              spdlog::warn("trial {} attempt {}: the coordinator revoked the lease; stopping",
                           request.trial_id(), request.attempt());
              end_ = LeaseEnd::kRevoked;
            } else if (IsLeaseGone(status.error_code())) {
              spdlog::warn("trial {} attempt {}: the lease is no longer ours ({}); stopping",
                           request.trial_id(), request.attempt(), status.error_message());
              end_ = LeaseEnd::kRevoked;
            } else if (contact->GaveUp()) {
              spdlog::error(
                  "trial {} attempt {}: the coordinator has not answered for {} "
                  "(connect timeout {}); giving up on the lease without completing the "
                  "trial: it expires and the trial is retried ({})",
                  request.trial_id(), request.attempt(),
                  absl::FormatDuration(contact->UnreachableFor()),
                  absl::FormatDuration(contact->give_up_after()), status.error_message());
              end_ = LeaseEnd::kUnreachable;
            } else if (!status.ok()) {
              spdlog::debug("heartbeat failed ({}); the lease is kept", status.error_message());
            }
            if (end_ != LeaseEnd::kHeld) {
              stop->store(true);
              return;
            }
          }
        }) {}

  ~HeartbeatThread() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      if (in_flight_ != nullptr) in_flight_->TryCancel();
    }
    cv_.notify_all();
    thread_.join();
  }

  LeaseEnd end() const {
    std::lock_guard<std::mutex> lock(mu_);
    return end_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  LeaseEnd end_ = LeaseEnd::kHeld;
  grpc::ClientContext* in_flight_ = nullptr;  // the heartbeat being sent, to cancel it
  std::thread thread_;                        // last: starts after the members it uses
};

}  // namespace

WorkerClient::WorkerClient(WorkerOptions options, std::shared_ptr<grpc::ChannelInterface> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(v1::Coordinator::NewStub(channel_)),
      contact_(options_.connect_timeout) {}

WorkerClient::~WorkerClient() = default;

std::string WorkerClient::worker_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return worker_id_;
}

void WorkerClient::Stop(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_requested_) return;
  stop_requested_ = true;
  stop_reason_ = why;
  if (current_trial_stop_ != nullptr) current_trial_stop_->store(true);
  stop_cv_.notify_all();
}

void WorkerClient::SleepUnlessStopped(absl::Duration duration) {
  std::unique_lock<std::mutex> lock(mu_);
  stop_cv_.wait_for(lock, absl::ToChronoNanoseconds(duration), [&] { return stop_requested_; });
}

absl::Status WorkerClient::Register() {
  v1::RegisterWorkerRequest request;
  request.set_hostname(Hostname());
  request.set_pid(getpid());
  request.set_device(options_.device.empty() ? AvailableDevice() : options_.device);
  request.set_threads(options_.threads);
  request.set_launcher_tag(options_.launcher_tag);

  const absl::Time give_up = absl::Now() + options_.connect_timeout;
  absl::Duration backoff = kMinBackoff;
  grpc::Status status;
  while (true) {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);  // wait for the channel to connect, up to the deadline
    SetDeadline(context,
                std::clamp(give_up - absl::Now(), absl::Milliseconds(1), kRegisterAttempt));
    v1::RegisterWorkerResponse response;
    const absl::Time sent_at = absl::Now();
    status = stub_->RegisterWorker(&context, request, &response);
    contact_.Record(status, sent_at);
    if (status.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      worker_id_ = response.worker_id();
      if (response.heartbeat_interval_ms() > 0)
        heartbeat_interval_ms_ = response.heartbeat_interval_ms();
      if (response.lease_timeout_ms() > 0) lease_timeout_ms_ = response.lease_timeout_ms();
      spdlog::info("registered as worker {} (heartbeat every {} ms, lease timeout {} ms)",
                   worker_id_, heartbeat_interval_ms_, lease_timeout_ms_);
      return absl::OkStatus();
    }
    if (!IsTransient(status)) return FromGrpc(status, "RegisterWorker");
    if (absl::Now() + backoff >= give_up) break;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_requested_) return absl::CancelledError("stopped before registering");
    }
    spdlog::debug("coordinator not answering yet ({}); retrying", status.error_message());
    SleepUnlessStopped(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  return absl::UnavailableError(
      absl::StrCat("RegisterWorker: no answer from the coordinator within ",
                   absl::FormatDuration(options_.connect_timeout), ": ", status.error_message()));
}

absl::Status WorkerClient::Run() {
  if (absl::Status status = Register(); !status.ok()) {
    return status.code() == absl::StatusCode::kCancelled ? absl::OkStatus() : status;
  }

  absl::Duration backoff = kMinBackoff;
  bool just_registered = true;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_requested_) return absl::OkStatus();
    }
    v1::LeaseTrialRequest request;
    request.set_worker_id(worker_id());
    request.set_sweep_id(options_.sweep_id);
    v1::LeaseTrialResponse lease;
    grpc::ClientContext context;
    context.set_wait_for_ready(true);  // gets through as soon as the channel reconnects
    SetDeadline(context,
                contact_.UnreachableFor() > absl::ZeroDuration() ? kRegisterAttempt : kRpcDeadline);
    const absl::Time sent_at = absl::Now();
    const grpc::Status status = stub_->LeaseTrial(&context, request, &lease);
    contact_.Record(status, sent_at);

    if (!status.ok()) {
      // NOT_FOUND is a worker the coordinator lost (a new store): register
      // again, once. NOT_FOUND right after registering is the sweep itself
      // (--sweep names none), which no retry can cure.
      if (status.error_code() == grpc::StatusCode::NOT_FOUND && !just_registered) {
        spdlog::warn("the coordinator does not know worker {} ({}); registering again",
                     request.worker_id(), status.error_message());
        if (absl::Status registered = Register(); !registered.ok()) return registered;
        just_registered = true;
        continue;
      }
      if (!IsTransient(status)) return FromGrpc(status, "LeaseTrial");
      if (contact_.GaveUp()) {
        return absl::UnavailableError(absl::StrCat(
            "LeaseTrial: the coordinator has not answered for ",
            absl::FormatDuration(contact_.UnreachableFor()), " (connect timeout ",
            absl::FormatDuration(options_.connect_timeout), "): ", status.error_message()));
      }
      spdlog::warn("LeaseTrial failed ({}); retrying in {}", status.error_message(),
                   absl::FormatDuration(backoff));
      SleepUnlessStopped(backoff);
      backoff = std::min(backoff * 2, kMaxBackoff);
      continue;
    }
    backoff = kMinBackoff;
    just_registered = false;

    if (lease.granted()) {
      if (absl::Status trained = RunLeasedTrial(lease); !trained.ok()) return trained;
    } else if (lease.no_more_work() && options_.exit_when_idle) {
      spdlog::info("no more work; exiting ({} trials completed, {} failed, {} dropped)",
                   trials_completed(), trials_failed(), trials_dropped());
      return absl::OkStatus();
    } else {
      SleepUnlessStopped(
          absl::Milliseconds(lease.retry_after_ms() > 0 ? lease.retry_after_ms() : 1000));
    }
  }
}

bool WorkerClient::WorkRemains() {
  grpc::ClientContext context;
  SetDeadline(context, kRpcDeadline);
  if (!options_.sweep_id.empty()) {
    v1::GetSweepRequest request;
    request.set_sweep_id(options_.sweep_id);
    v1::Sweep sweep;
    const grpc::Status status = stub_->GetSweep(&context, request, &sweep);
    if (!status.ok()) {
      spdlog::warn("cannot ask the coordinator about sweep {} ({}); assuming work is left",
                   options_.sweep_id, status.error_message());
      return true;
    }
    return sweep.state() == v1::SWEEP_STATE_RUNNING;
  }
  v1::ListSweepsResponse sweeps;
  const grpc::Status status = stub_->ListSweeps(&context, v1::ListSweepsRequest(), &sweeps);
  if (!status.ok()) {
    spdlog::warn("cannot ask the coordinator for its sweeps ({}); assuming work is left",
                 status.error_message());
    return true;
  }
  return std::any_of(sweeps.sweeps().begin(), sweeps.sweeps().end(), [](const v1::Sweep& sweep) {
    return sweep.state() == v1::SWEEP_STATE_RUNNING;
  });
}

absl::StatusOr<std::shared_ptr<const data::TokenDataset>> WorkerClient::LoadCorpus(const v1::DataConfig& data) {
  const std::string directory = data.corpus().empty() ? sweeps::kDefaultCorpus : data.corpus();
  const double val_fraction = data.val_fraction() > 0 ? data.val_fraction() : kDefaultValFraction;
  const std::string tokenizer = data.tokenizer().empty() ? "byte" : data.tokenizer();
  const std::string key = absl::StrCat(directory, "\n", val_fraction, "\n", tokenizer);
  if (corpus_ != nullptr && key == corpus_key_) return corpus_;

  corpus_.reset();
  absl::StatusOr<data::TokenDataset> loaded = data::TokenDataset::Load(directory, val_fraction, tokenizer);
  if (!loaded.ok()) return loaded.status();
  const data::DatasetStats& stats = loaded->stats();
  spdlog::info(
      "corpus {}: {} documents, {} training / {} validation tokens, validation "
      "unigram entropy {:.4f} nats/token",
      directory, stats.documents, stats.train_tokens, stats.val_tokens, stats.val_unigram_entropy);
  corpus_ = std::make_shared<const data::TokenDataset>(*std::move(loaded));
  corpus_key_ = key;
  return corpus_;
}

absl::Status WorkerClient::RunLeasedTrial(const v1::LeaseTrialResponse& lease) {
  v1::TrialSpec spec = lease.trial();
  if (!options_.checkpoint_dir.empty()) {
    spec.mutable_training()->set_checkpoint_dir(options_.checkpoint_dir);
  }
  const uint32_t attempt = lease.attempt();
  spdlog::info("trial {} attempt {}: {} layers x d_model {}, {} tokens, lr {:.3g}, {} {}",
               spec.trial_id(), attempt, spec.shape().n_layer(), spec.shape().d_model(),
               spec.tokens(), spec.optimizer().lr(), spec.training().device(),
               spec.training().precision());

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> tokens_done{0};
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_requested_) stop = true;
    current_trial_stop_ = &stop;
  }

  absl::StatusOr<v1::TrialResult> result;
  LeaseEnd lease_end = LeaseEnd::kHeld;
  absl::Status finished;
  {
    MetricStream metrics(stub_.get(), spec.trial_id(), attempt,
                         {.lease_token = lease.lease_token(), .stop = &stop, .contact = &contact_});
    v1::HeartbeatRequest heartbeat;
    heartbeat.set_worker_id(worker_id());
    heartbeat.set_trial_id(spec.trial_id());
    heartbeat.set_attempt(attempt);
    heartbeat.set_lease_token(lease.lease_token());
    HeartbeatThread heartbeats(stub_.get(), heartbeat, absl::Milliseconds(heartbeat_interval_ms_),
                               &contact_, &tokens_done, &stop);

    absl::StatusOr<std::shared_ptr<const data::TokenDataset>> corpus = LoadCorpus(spec.data());
    if (corpus.ok()) {
      TrainerHooks hooks;
      // A refused stream ends the attempt: its points could never be stored.
      hooks.on_metric = [&](const v1::MetricPoint& point) {
        if (!metrics.Push(point).ok()) stop = true;
      };
      hooks.stop = &stop;
      hooks.tokens_done = &tokens_done;
      hooks.threads = options_.threads;
      result = TrainTrial(spec, **corpus, hooks);
    } else {
      result = corpus.status();
    }

    // A trial is completed only once every point it produced is stored:
    // wait for all acknowledgements, through any outage shorter than
    // connect_timeout (the heartbeats end the wait, setting stop, when the
    // lease is lost or the coordinator is given up on).
    absl::Status flushed;
    if (result.ok() && heartbeats.end() == LeaseEnd::kHeld) flushed = metrics.Flush();
    lease_end = heartbeats.end();
    const absl::Status refused = metrics.refusal();
    if (lease_end == LeaseEnd::kHeld &&
        IsLeaseGone(static_cast<grpc::StatusCode>(refused.code()))) {
      spdlog::warn(
          "trial {} attempt {}: the coordinator refused its metric points ({}); the "
          "lease is no longer ours",
          spec.trial_id(), attempt, refused.ToString());
      lease_end = LeaseEnd::kRevoked;
    }
    if (lease_end == LeaseEnd::kHeld) {
      if (!refused.ok()) {
        result = absl::Status(refused.code(), absl::StrCat("the coordinator refused the trial's "
                                                           "metric points: ",
                                                           refused.message()));
      } else if (!flushed.ok()) {
        result = flushed;  // Cancelled: the worker was stopped while points waited
      }
      finished = FinishTrial(spec, attempt, lease.lease_token(), result);
    }
  }  // heartbeats stop only after the trial's final RPC, the stream after them

  {
    std::lock_guard<std::mutex> lock(mu_);
    current_trial_stop_ = nullptr;
  }
  switch (lease_end) {
    case LeaseEnd::kHeld:
      return finished;
    case LeaseEnd::kRevoked:
      ++trials_dropped_;
      spdlog::warn("trial {} attempt {}: lease lost, dropped without completing", spec.trial_id(),
                   attempt);
      return absl::OkStatus();
    case LeaseEnd::kUnreachable:
      ++trials_dropped_;
      return absl::UnavailableError(absl::StrCat(
          "trial ", spec.trial_id(), " attempt ", attempt,
          ": the coordinator has not answered for ",
          absl::FormatDuration(contact_.UnreachableFor()), " (connect timeout ",
          absl::FormatDuration(options_.connect_timeout),
          "); left the trial leased without completing it: its lease expires and it is retried"));
  }
  return finished;
}

absl::Status WorkerClient::GaveUpOnFinishing(const v1::TrialSpec& spec, uint32_t attempt,
                                             const std::string& rpc, const grpc::Status& status) {
  ++trials_dropped_;
  const std::string message = absl::StrCat(
      "trial ", spec.trial_id(), " attempt ", attempt, ": ", rpc,
      ": the coordinator has not answered for ", absl::FormatDuration(contact_.UnreachableFor()),
      " (connect timeout ", absl::FormatDuration(options_.connect_timeout),
      "); left the trial leased: its lease expires and it is retried (", status.error_message(),
      ")");
  spdlog::error("{}", message);
  return absl::UnavailableError(message);
}

absl::Status WorkerClient::FinishTrial(const v1::TrialSpec& spec, uint32_t attempt,
                                       const std::string& lease_token,
                                       const absl::StatusOr<v1::TrialResult>& result) {
  if (result.ok()) {
    v1::CompleteTrialRequest request;
    request.set_worker_id(worker_id());
    request.set_trial_id(spec.trial_id());
    request.set_attempt(attempt);
    request.set_lease_token(lease_token);
    *request.mutable_result() = *result;
    v1::CompleteTrialResponse response;
    const grpc::Status status = CallWithRetry(
        [&](grpc::ClientContext* context) {
          return stub_->CompleteTrial(context, request, &response);
        },
        contact_);
    if (IsNoAnswer(status)) return GaveUpOnFinishing(spec, attempt, "CompleteTrial", status);
    if ((status.ok() && !response.accepted()) || IsLeaseGone(status.error_code())) {
      ++trials_dropped_;
      spdlog::warn(
          "trial {} attempt {}: the coordinator refused the result (lease no longer "
          "ours{})",
          spec.trial_id(), attempt, status.ok() ? "" : absl::StrCat(": ", status.error_message()));
      return absl::OkStatus();
    }
    if (!status.ok()) {
      ++trials_failed_;
      spdlog::error("trial {} attempt {}: CompleteTrial failed: {}", spec.trial_id(), attempt,
                    status.error_message());
      return absl::OkStatus();
    }
    ++trials_completed_;
    spdlog::info(
        "trial {} attempt {} {}: val loss {:.4f}, train loss {:.4f}, {} params, {} "
        "tokens, {:.0f} tokens/s, noise scale {:.1f}, {:.1f} s{}",
        spec.trial_id(), attempt, result->diverged() ? "DIVERGED" : "done",
        result->final_val_loss(), result->final_train_loss(), result->params(), result->tokens(),
        result->tokens_per_second(), result->noise_scale(), result->wall_seconds(),
        result->diverged() ? absl::StrCat(" (", result->divergence_reason(), ")") : "");
    return absl::OkStatus();
  }

  bool stopping;
  std::string stop_reason;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping = stop_requested_;
    stop_reason = stop_reason_;
  }
  v1::FailTrialRequest request;
  request.set_worker_id(worker_id());
  request.set_trial_id(spec.trial_id());
  request.set_attempt(attempt);
  request.set_lease_token(lease_token);
  // "preempted" is how the attempt's row and the trial's reason tell a
  // trial given back by a stopped worker from one that failed.
  request.set_reason(stopping ? absl::StrCat("preempted: worker stopped by ", stop_reason, ": ",
                                             result.status().message())
                              : result.status().ToString());
  // A spec the trainer cannot train fails the same way on every worker.
  request.set_retriable(result.status().code() != absl::StatusCode::kInvalidArgument);
  request.set_preempted(stopping && result.status().code() == absl::StatusCode::kCancelled);
  v1::FailTrialResponse response;
  // A stopped worker (e.g. SIGTERM before a Slurm time limit) has little time
  // left: it tries briefly; unanswered, the lease simply expires.
  const grpc::Status status = CallWithRetry(
      [&](grpc::ClientContext* context) { return stub_->FailTrial(context, request, &response); },
      contact_, stopping ? kStoppingFailBudget : absl::InfiniteDuration());
  if (IsNoAnswer(status) && !stopping) {
    return GaveUpOnFinishing(spec, attempt, "FailTrial", status);
  }
  ++trials_failed_;
  spdlog::error("trial {} attempt {} failed ({}): {}{}", spec.trial_id(), attempt,
                request.retriable() ? "retriable" : "not retriable", request.reason(),
                !status.ok()           ? absl::StrCat(" (FailTrial: ", status.error_message(), ")")
                : !response.accepted() ? " (the coordinator had already ended this attempt: "
                                         "sweep cancelled or lease expired)"
                                       : "");
  return absl::OkStatus();
}

}  // namespace scalelaw::worker
