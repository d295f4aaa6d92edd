#include "worker/metric_stream.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace scalelaw::worker {
namespace {

constexpr auto kMinBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::seconds(5);
// How long a finished stream waits for the server to close it after
// WritesDone before cancelling.
constexpr auto kCloseGrace = std::chrono::seconds(1);

}  // namespace

MetricStream::MetricStream(v1::Coordinator::StubInterface* stub, std::string trial_id,
                           uint32_t attempt)
    : stub_(stub), trial_id_(std::move(trial_id)), attempt_(attempt) {
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

uint64_t MetricStream::Push(v1::MetricPoint point) {
  uint64_t seq;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seq = point.seq() >= next_seq_ ? point.seq() : next_seq_;
    next_seq_ = seq + 1;
    point.set_trial_id(trial_id_);
    point.set_attempt(attempt_);
    point.set_seq(seq);
    unacked_.emplace(seq, std::move(point));
    to_send_.push_back(seq);
  }
  cv_.notify_all();
  return seq;
}

absl::Status MetricStream::Flush(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return unacked_.empty(); })) {
    return absl::OkStatus();
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "metrics of trial ", trial_id_, " attempt ", attempt_, ": ", unacked_.size(), " of ",
      next_seq_ - 1, " points unacknowledged after ", absl::FormatDuration(timeout)));
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

void MetricStream::SendLoop() {
  auto backoff = std::chrono::duration_cast<std::chrono::milliseconds>(kMinBackoff);
  while (true) {
    const bool delivered = RunOneStream();
    std::unique_lock<std::mutex> lock(mu_);
    if (shutdown_) return;
    backoff = delivered
                  ? std::chrono::duration_cast<std::chrono::milliseconds>(kMinBackoff)
                  : std::min(backoff * 2,
                             std::chrono::duration_cast<std::chrono::milliseconds>(kMaxBackoff));
    spdlog::warn(
        "metric stream of trial {} attempt {} broke; {} points unacknowledged, "
        "reconnecting in {} ms",
        trial_id_, attempt_, unacked_.size(), backoff.count());
    if (cv_.wait_for(lock, backoff, [&] { return shutdown_; })) return;
  }
}

bool MetricStream::RunOneStream() {
  grpc::ClientContext context;
  bool delivered = false;
  bool broken = false;
  bool reader_done = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return false;
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
  // Close politely when the stream still works, else cancel.
  if (!broken) {
    lock.unlock();
    stream->WritesDone();
    lock.lock();
    cv_.wait_for(lock, kCloseGrace, [&] { return reader_done; });
  }
  context.TryCancel();
  context_ = nullptr;
  lock.unlock();
  reader.join();
  const grpc::Status status = stream->Finish();
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    spdlog::debug("metric stream of trial {} ended: {}", trial_id_, status.error_message());
  }
  return delivered;
}

}  // namespace scalelaw::worker
