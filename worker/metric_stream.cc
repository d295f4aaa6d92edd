#include "worker/metric_stream.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace scalelaw::worker {
namespace {

// Between streams that broke although the channel was connected (a server
// error, not an outage: reconnecting waits for the channel by itself).
constexpr std::chrono::milliseconds kMinBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2000};
// How long a finished stream waits for the server to close it after
// WritesDone before cancelling.
constexpr auto kCloseGrace = std::chrono::seconds(1);
// How often a blocked Push or Flush looks at *options.stop.
constexpr absl::Duration kStopPoll = absl::Milliseconds(50);

// Codes that say the coordinator refused the points themselves, so that no
// resend can succeed. Everything else (UNAVAILABLE, DEADLINE_EXCEEDED,
// RESOURCE_EXHAUSTED on a full disk, INTERNAL, a cancelled call while the
// server shuts down, ...) is retried.
bool IsRefusal(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return true;
    default:
      return false;
  }
}

}  // namespace

MetricStream::MetricStream(v1::Coordinator::StubInterface* stub, std::string trial_id,
                           uint32_t attempt, MetricStreamOptions options)
    : stub_(stub), trial_id_(std::move(trial_id)), attempt_(attempt), options_(std::move(options)) {
  sender_ = std::thread([this] { SendLoop(); });
}

MetricStream::~MetricStream() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  cv_.notify_all();
  sender_.join();
}

template <typename Done>
bool MetricStream::WaitUnlessStopped(std::unique_lock<std::mutex>& lock, absl::Duration timeout,
                                     Done done) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (stopped() || absl::Now() >= deadline) return false;
    cv_.wait_for(lock, absl::ToChronoNanoseconds(std::min(kStopPoll, deadline - absl::Now())));
  }
  return true;
}

std::string MetricStream::Unacknowledged() const {
  return absl::StrCat("metrics of trial ", trial_id_, " attempt ", attempt_, ": ", unacked_.size(),
                      " of ", next_seq_ - 1, " points unacknowledged");
}

absl::Status MetricStream::Push(v1::MetricPoint point) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    // Back-pressure, not loss: training waits for acknowledgements.
    const bool room = WaitUnlessStopped(lock, absl::InfiniteDuration(), [&] {
      return !refusal_.ok() || unacked_.size() < options_.max_unacknowledged;
    });
    if (!refusal_.ok()) return refusal_;
    if (!room) {
      return absl::CancelledError(
          absl::StrCat(Unacknowledged(), "; stopped while waiting for room for another"));
    }
    const uint64_t seq = point.seq() >= next_seq_ ? point.seq() : next_seq_;
    next_seq_ = seq + 1;
    point.set_trial_id(trial_id_);
    point.set_attempt(attempt_);
    point.set_seq(seq);
    point.set_lease_token(options_.lease_token);
    unacked_.emplace(seq, std::move(point));
    to_send_.push_back(seq);
  }
  cv_.notify_all();
  return absl::OkStatus();
}

absl::Status MetricStream::Flush(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const bool flushed =
      WaitUnlessStopped(lock, timeout, [&] { return unacked_.empty() || !refusal_.ok(); });
  if (!refusal_.ok()) return refusal_;
  if (flushed) return absl::OkStatus();
  if (stopped()) return absl::CancelledError(absl::StrCat(Unacknowledged(), "; stopped"));
  return absl::DeadlineExceededError(
      absl::StrCat(Unacknowledged(), " after ", absl::FormatDuration(timeout)));
}

uint64_t MetricStream::pushed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_seq_ - 1;
}

uint64_t MetricStream::unacknowledged() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unacked_.size();
}

uint64_t MetricStream::streams_opened() const {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_opened_;
}

absl::Status MetricStream::refusal() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refusal_;
}

void MetricStream::SendLoop() {
  std::chrono::milliseconds backoff = kMinBackoff;
  while (true) {
    const StreamEnd end = RunOneStream();
    std::unique_lock<std::mutex> lock(mu_);
    if (shutdown_) return;
    if (IsRefusal(end.status.error_code())) {
      refusal_ = absl::Status(static_cast<absl::StatusCode>(end.status.error_code()),
                              absl::StrCat("StreamMetrics: ", end.status.error_message()));
      spdlog::error("metric stream of trial {} attempt {} refused ({}); {}; not resending",
                    trial_id_, attempt_, refusal_.ToString(), Unacknowledged());
      cv_.notify_all();
      return;
    }
    backoff = end.delivered ? kMinBackoff : std::min(backoff * 2, kMaxBackoff);
    spdlog::warn("metric stream of trial {} attempt {} broke ({}); {}; reconnecting", trial_id_,
                 attempt_, end.status.error_message(), Unacknowledged());
    if (cv_.wait_for(lock, backoff, [&] { return shutdown_; })) return;
  }
}

MetricStream::StreamEnd MetricStream::RunOneStream() {
  grpc::ClientContext context;
  // Opening the stream waits for the channel to (re)connect instead of
  // failing at once while it is in TRANSIENT_FAILURE; shutdown cancels it.
  context.set_wait_for_ready(true);
  const absl::Time opened_at = absl::Now();
  bool delivered = false;
  bool broken = false;
  bool reader_done = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return {};
    context_ = &context;
    ++streams_opened_;
    // Everything not yet acknowledged goes out again on the new stream.
    to_send_.clear();
    for (const auto& [seq, point] : unacked_) to_send_.push_back(seq);
  }
  std::unique_ptr<grpc::ClientReaderWriterInterface<v1::MetricPoint, v1::MetricAck>> stream =
      stub_->StreamMetrics(&context);

  std::thread reader([&] {
    v1::MetricAck ack;
    while (stream->Read(&ack)) {
      std::lock_guard<std::mutex> lock(mu_);
      // This stream carries one attempt's points: an ack that leaves
      // trial_id / attempt unset still names its point by seq.
      const bool ours = (ack.trial_id().empty() || ack.trial_id() == trial_id_) &&
                        (ack.attempt() == 0 || ack.attempt() == attempt_);
      if (ours && unacked_.erase(ack.seq())) {
        delivered = true;
        cv_.notify_all();
      }
      if (options_.contact != nullptr) options_.contact->Answered();
    }
    std::lock_guard<std::mutex> lock(mu_);
    broken = true;
    reader_done = true;
    cv_.notify_all();
  });

  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return shutdown_ || broken || !to_send_.empty(); });
    if (shutdown_ || broken) break;
    const uint64_t seq = to_send_.front();
    to_send_.pop_front();
    auto it = unacked_.find(seq);
    if (it == unacked_.end()) continue;  // acknowledged meanwhile
    const v1::MetricPoint point = it->second;
    lock.unlock();
    const bool written = stream->Write(point);
    lock.lock();
    if (!written) {
      broken = true;
      break;
    }
  }
  // Close politely when the stream still works. Either way, unless shutting
  // down, let the reader take the server's last acks; cancel only a reader
  // still blocked after that, since cancelling a call whose reads are done
  // turns the server's status (a refusal) into CANCELLED.
  if (!broken) {
    lock.unlock();
    stream->WritesDone();
    lock.lock();
  }
  if (!shutdown_) cv_.wait_for(lock, kCloseGrace, [&] { return reader_done; });
  if (!reader_done) context.TryCancel();
  context_ = nullptr;
  lock.unlock();
  reader.join();
  const grpc::Status status = stream->Finish();
  if (options_.contact != nullptr && !status.ok() &&
      status.error_code() != grpc::StatusCode::CANCELLED) {
    options_.contact->Record(status, delivered ? absl::Now() : opened_at);
  }
  return {delivered, status};
}

}  // namespace scalelaw::worker
