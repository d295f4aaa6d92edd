#include "coordinator/metric_stream_reactor.h"

#include <utility>

#include "coordinator/grpc_status.h"

namespace scalelaw::coordinator {

MetricStreamReactor::MetricStreamReactor(TrialScheduler* scheduler) : scheduler_(scheduler) {
  StartRead(&point_);
}

void MetricStreamReactor::OnReadDone(bool ok) {
  if (!ok) {  // the client half-closed, or the RPC was cancelled
    {
      std::lock_guard lock(mu_);
      reads_done_ = true;
    }
    Advance();
    return;
  }
  absl::StatusOr<MetricWrite> written = scheduler_->RecordMetric(point_);
  {
    std::lock_guard lock(mu_);
    if (written.ok()) {
      v1::MetricAck& ack = pending_.emplace_back();
      ack.set_trial_id(point_.trial_id());
      ack.set_attempt(point_.attempt());
      ack.set_seq(point_.seq());
    } else {
      final_status_ = ToGrpcStatus(written.status());
      reads_done_ = true;  // stop reading; finish once the acks due are written
    }
  }
  if (written.ok()) StartRead(&point_);
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
  if (finished_ || write_in_flight_) return;
  if (!pending_.empty() && !write_failed_) {
    writing_ack_ = std::move(pending_.front());
    pending_.pop_front();
    write_in_flight_ = true;
    lock.unlock();
    StartWrite(&writing_ack_);
    return;
  }
  if (!reads_done_) return;
  finished_ = true;
  grpc::Status status = final_status_;
  lock.unlock();
  Finish(status);
}

void MetricStreamReactor::OnDone() { delete this; }

}  // namespace scalelaw::coordinator
