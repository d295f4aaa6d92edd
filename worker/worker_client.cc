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
#include "worker/metric_stream.h"
#include "worker/trainer.h"

namespace scalelaw::worker {
namespace {

constexpr absl::Duration kRpcDeadline = absl::Seconds(10);
// One registration attempt waits this long for the channel; short, so that a
// stop request is noticed soon.
constexpr absl::Duration kRegisterAttempt = absl::Seconds(2);
constexpr absl::Duration kMinBackoff = absl::Milliseconds(200);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);
constexpr double kDefaultValFraction = 0.05;

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

// Calls `rpc(context)` until it succeeds, fails for good, or `budget` passes.
template <typename Rpc>
grpc::Status CallWithRetry(Rpc&& rpc, absl::Duration budget) {
  const absl::Time give_up = absl::Now() + budget;
  absl::Duration backoff = kMinBackoff;
  while (true) {
    grpc::ClientContext context;
    SetDeadline(context, kRpcDeadline);
    const grpc::Status status = rpc(&context);
    if (status.ok() || !IsTransient(status) || absl::Now() + backoff > give_up) return status;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

// Keeps a trial's lease alive: calls Heartbeat every interval on its own
// thread until destroyed. Sets *stop when the coordinator answers
// keep_going = false, or when no heartbeat got through for a whole lease
// timeout (the lease is surely gone).
class HeartbeatThread {
 public:
  HeartbeatThread(v1::Coordinator::Stub* stub, v1::HeartbeatRequest request,
                  absl::Duration interval, absl::Duration lease_timeout,
                  const std::atomic<uint64_t>* tokens_done, std::atomic<bool>* stop)
      : thread_([=, this, request = std::move(request)]() mutable {
          absl::Time last_ok = absl::Now();
          std::unique_lock<std::mutex> lock(mu_);
          while (!cv_.wait_for(lock, absl::ToChronoNanoseconds(interval), [&] { return done_; })) {
            lock.unlock();
            request.set_tokens_done(tokens_done->load());
            grpc::ClientContext context;
            SetDeadline(context, std::min(interval, kRpcDeadline));
            v1::HeartbeatResponse response;
            const grpc::Status status = stub->Heartbeat(&context, request, &response);
            lock.lock();
            if (status.ok() && response.keep_going()) {
              last_ok = absl::Now();
            } else if (status.ok()) {
              spdlog::warn("trial {} attempt {}: the coordinator revoked the lease; stopping",
                           request.trial_id(), request.attempt());
              lease_lost_ = true;
            } else if (absl::Now() - last_ok > lease_timeout) {
              spdlog::warn(
                  "trial {} attempt {}: no heartbeat got through for {}; the lease is "
                  "lost, stopping ({})",
                  request.trial_id(), request.attempt(),
                  absl::FormatDuration(absl::Now() - last_ok), status.error_message());
              lease_lost_ = true;
            } else {
              spdlog::debug("heartbeat failed: {}", status.error_message());
            }
            if (lease_lost_) {
              stop->store(true);
              return;
            }
          }
        }) {}

  ~HeartbeatThread() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  bool lease_lost() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lease_lost_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  bool lease_lost_ = false;
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace

WorkerClient::WorkerClient(WorkerOptions options, std::shared_ptr<grpc::ChannelInterface> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(v1::Coordinator::NewStub(channel_)) {}

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
    status = stub_->RegisterWorker(&context, request, &response);
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

  std::optional<absl::Time> unreachable_since;
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
    SetDeadline(context, kRpcDeadline);
    const grpc::Status status = stub_->LeaseTrial(&context, request, &lease);

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
      if (!unreachable_since) unreachable_since = absl::Now();
      if (absl::Now() - *unreachable_since > options_.connect_timeout) {
        return absl::UnavailableError(absl::StrCat(
            "LeaseTrial: the coordinator has not answered for ",
            absl::FormatDuration(absl::Now() - *unreachable_since), ": ", status.error_message()));
      }
      spdlog::warn("LeaseTrial failed ({}); retrying in {}", status.error_message(),
                   absl::FormatDuration(backoff));
      SleepUnlessStopped(backoff);
      backoff = std::min(backoff * 2, kMaxBackoff);
      continue;
    }
    unreachable_since.reset();
    backoff = kMinBackoff;
    just_registered = false;

    if (lease.granted()) {
      RunLeasedTrial(lease);
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

void WorkerClient::RunLeasedTrial(const v1::LeaseTrialResponse& lease) {
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
  bool lease_lost = false;
  {
    v1::HeartbeatRequest heartbeat;
    heartbeat.set_worker_id(worker_id());
    heartbeat.set_trial_id(spec.trial_id());
    heartbeat.set_attempt(attempt);
    HeartbeatThread heartbeats(stub_.get(), heartbeat, absl::Milliseconds(heartbeat_interval_ms_),
                               absl::Milliseconds(lease_timeout_ms_), &tokens_done, &stop);
    MetricStream metrics(stub_.get(), spec.trial_id(), attempt);

    absl::StatusOr<std::shared_ptr<const data::TokenDataset>> corpus = LoadCorpus(spec.data());
    if (corpus.ok()) {
      TrainerHooks hooks;
      hooks.on_metric = [&](const v1::MetricPoint& point) { metrics.Push(point); };
      hooks.stop = &stop;
      hooks.tokens_done = &tokens_done;
      hooks.threads = options_.threads;
      result = TrainTrial(spec, **corpus, hooks);
    } else {
      result = corpus.status();
    }

    lease_lost = heartbeats.lease_lost();
    if (!lease_lost) {
      if (result.ok()) {
        if (absl::Status flushed = metrics.Flush(options_.metrics_flush_timeout); !flushed.ok()) {
          spdlog::warn("{}; completing the trial anyway", std::string(flushed.message()));
        }
      }
      FinishTrial(spec, attempt, result);
    }
  }  // heartbeats stop only after the trial's final RPC

  {
    std::lock_guard<std::mutex> lock(mu_);
    current_trial_stop_ = nullptr;
  }
  if (lease_lost) {
    ++trials_dropped_;
    spdlog::warn("trial {} attempt {}: lease lost, dropped without completing", spec.trial_id(),
                 attempt);
  }
}

void WorkerClient::FinishTrial(const v1::TrialSpec& spec, uint32_t attempt,
                               const absl::StatusOr<v1::TrialResult>& result) {
  const absl::Duration budget = std::max(options_.connect_timeout, absl::Seconds(10));
  if (result.ok()) {
    v1::CompleteTrialRequest request;
    request.set_worker_id(worker_id());
    request.set_trial_id(spec.trial_id());
    request.set_attempt(attempt);
    *request.mutable_result() = *result;
    v1::CompleteTrialResponse response;
    const grpc::Status status = CallWithRetry(
        [&](grpc::ClientContext* context) {
          return stub_->CompleteTrial(context, request, &response);
        },
        budget);
    if (!status.ok()) {
      ++trials_failed_;
      spdlog::error("trial {} attempt {}: CompleteTrial failed: {}", spec.trial_id(), attempt,
                    status.error_message());
      return;
    }
    if (!response.accepted()) {
      ++trials_dropped_;
      spdlog::warn(
          "trial {} attempt {}: the coordinator refused the result (lease no longer "
          "ours)",
          spec.trial_id(), attempt);
      return;
    }
    ++trials_completed_;
    spdlog::info(
        "trial {} attempt {} {}: val loss {:.4f}, train loss {:.4f}, {} params, {} "
        "tokens, {:.0f} tokens/s, noise scale {:.1f}, {:.1f} s{}",
        spec.trial_id(), attempt, result->diverged() ? "DIVERGED" : "done",
        result->final_val_loss(), result->final_train_loss(), result->params(), result->tokens(),
        result->tokens_per_second(), result->noise_scale(), result->wall_seconds(),
        result->diverged() ? absl::StrCat(" (", result->divergence_reason(), ")") : "");
    return;
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
  // "preempted" is how the attempt's row and the trial's reason tell a
  // trial given back by a stopped worker from one that failed.
  request.set_reason(stopping ? absl::StrCat("preempted: worker stopped by ", stop_reason, ": ",
                                             result.status().message())
                              : result.status().ToString());
  // A spec the trainer cannot train fails the same way on every worker.
  request.set_retriable(result.status().code() != absl::StatusCode::kInvalidArgument);
  request.set_preempted(stopping && result.status().code() == absl::StatusCode::kCancelled);
  v1::FailTrialResponse response;
  const grpc::Status status = CallWithRetry(
      [&](grpc::ClientContext* context) { return stub_->FailTrial(context, request, &response); },
      budget);
  ++trials_failed_;
  spdlog::error("trial {} attempt {} failed ({}): {}{}", spec.trial_id(), attempt,
                request.retriable() ? "retriable" : "not retriable", request.reason(),
                !status.ok()           ? absl::StrCat(" (FailTrial: ", status.error_message(), ")")
                : !response.accepted() ? " (the coordinator had already ended this attempt: "
                                         "sweep cancelled or lease expired)"
                                       : "");
}

}  // namespace scalelaw::worker
