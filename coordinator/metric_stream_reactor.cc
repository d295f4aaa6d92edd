#include "coordinator/metric_stream_reactor.h"

#include <utility>

#include "common/status_macros.h"
#include "coordinator/grpc_status.h"
#include "coordinator/request_limits.h"

namespace scalelaw::coordinator {

MetricStreamReactor::MetricStreamReactor(TrialScheduler* scheduler, MetricWriter* writer)
    : scheduler_(scheduler), writer_(writer) {
  read_in_flight_ = true;  // no callback can run before this read completes
  StartRead(&point_);
}

absl::Status MetricStreamReactor::Check(const v1::MetricPoint& point) {
  SCALELAW_RETURN_IF_ERROR(CheckRequestLimits(point));
  // A lease token never changes once issued, so an attempt's later points
  // with the same token need not be checked again; whether the attempt is
  // still live the store checks when it writes them.
  if (!checked_token_.empty() && point.lease_token() == checked_token_ &&
      point.attempt() == checked_attempt_ && point.trial_id() == checked_trial_id_) {
    return absl::OkStatus();
  }
  SCALELAW_RETURN_IF_ERROR(scheduler_->CheckMetric(point));
  checked_trial_id_ = point.trial_id();
  checked_attempt_ = point.attempt();
  checked_token_ = point.lease_token();
  return absl::OkStatus();
}

void MetricStreamReactor::OnReadDone(bool ok) {
  {
    std::lock_guard lock(mu_);
    read_in_flight_ = false;
    if (!ok) reads_done_ = true;  // the client half-closed, or the RPC was cancelled
    // A read that completes after a point failed (or after Finish) is dropped.
    if (!ok || failed_ || finished_) ok = false;
  }
  if (!ok) {
    Advance();
    return;
  }
  const absl::Status checked = Check(point_);
  uint64_t index = 0;
  {
    std::lock_guard lock(mu_);
    index = first_slot_ + slots_.size();
    Slot& slot = slots_.emplace_back();
    slot.ack.set_trial_id(point_.trial_id());
    slot.ack.set_attempt(point_.attempt());
    slot.ack.set_seq(point_.seq());
    if (!checked.ok()) slot.outcome = checked;
    // Until Enqueue has answered, the writer may already call OnRoom or
    // complete the point; this keeps the reactor from finishing meanwhile.
    awaiting_room_ = checked.ok();
  }
  if (!checked.ok()) {
    Advance();
    return;
  }
  const bool room = writer_->Enqueue(
      std::move(point_),
      [this, index](absl::StatusOr<MetricWrite> written) {
        OnPointWritten(index, std::move(written));
      },
      [this] { OnRoom(); });
  if (room) {
    OnRoom();
  } else {
    Advance();  // OnRoom follows when the writer has drained
  }
}

void MetricStreamReactor::OnRoom() {
  bool read = false;
  {
    std::lock_guard lock(mu_);
    awaiting_room_ = false;
    read = !failed_ && !finished_ && !reads_done_;
    read_in_flight_ = read;
  }
  if (read) {
    StartRead(&point_);
  } else {
    Advance();
  }
}

void MetricStreamReactor::OnPointWritten(uint64_t index, absl::StatusOr<MetricWrite> written) {
  {
    std::lock_guard lock(mu_);
    slots_[index - first_slot_].outcome = written.status();
  }
  Advance();
}

void MetricStreamReactor::OnWriteDone(bool ok) {
  {
    std::lock_guard lock(mu_);
    write_in_flight_ = false;
    if (!ok) {
      write_failed_ = true;
      pending_.clear();
    }
  }
  Advance();
}

void MetricStreamReactor::Advance() {
  std::unique_lock lock(mu_);
  if (finished_) return;
  while (!slots_.empty() && slots_.front().outcome.has_value()) {
    Slot& slot = slots_.front();
    if (!failed_ && !write_failed_) {
      if (slot.outcome->ok()) {
        pending_.push_back(std::move(slot.ack));
      } else {
        failed_ = true;  // stop reading; finish once the acks due are written
        final_status_ = ToGrpcStatus(*slot.outcome);
      }
    }
    slots_.pop_front();
    ++first_slot_;
  }
  if (write_in_flight_) return;
  if (!pending_.empty() && !write_failed_) {
    writing_ack_ = std::move(pending_.front());
    pending_.pop_front();
    write_in_flight_ = true;
    lock.unlock();
    StartWrite(&writing_ack_);
    return;
  }
  // Points still with the writer hold callbacks into this reactor.
  if (!slots_.empty() || awaiting_room_) return;
  // After a failure a read may still be outstanding: Finish ends it
  // (OnReadDone(false)), and gRPC calls OnDone only after it.
  if (!reads_done_ && !failed_) return;
  finished_ = true;
  grpc::Status status = final_status_;
  lock.unlock();
  Finish(status);
}

void MetricStreamReactor::OnDone() { delete this; }

}  // namespace scalelaw::coordinator
