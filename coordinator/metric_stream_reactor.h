// The server side of Coordinator.StreamMetrics: each MetricPoint read is
// written to the store through TrialScheduler::RecordMetric (a resend of a
// stored point is ignored there), then acknowledged with a MetricAck, so an
// ack always means "durable". Acks are written one at a time, in order.
//
// A point of a stale attempt or an unknown trial ends the stream with that
// error (FAILED_PRECONDITION / NOT_FOUND) after the acks already due; the
// worker must stop that trial. A client that disappears mid-stream (killed
// worker) cancels the RPC: the outstanding read and write then complete with
// ok=false, the reactor finishes once both are done, and OnDone deletes it.
//
// Lifetime: created by CoordinatorService::StreamMetrics, owned by gRPC until
// OnDone, where it deletes itself. `scheduler` must outlive it (the server is
// shut down before the scheduler is destroyed). The store write is a short
// blocking fsync on the gRPC callback thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <deque>
#include <mutex>
#include <optional>

#include "coordinator/trial_scheduler.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::coordinator {

class MetricStreamReactor final : public grpc::ServerBidiReactor<v1::MetricPoint, v1::MetricAck> {
 public:
  explicit MetricStreamReactor(TrialScheduler* scheduler);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  // Starts the next ack write, or finishes the RPC when nothing is left to
  // read or write. Called without mu_ held.
  void Advance();

  TrialScheduler* const scheduler_;
  v1::MetricPoint point_;  // the read buffer: owned by gRPC between StartRead and OnReadDone

  std::mutex mu_;
  std::deque<v1::MetricAck> pending_;  // acks not yet written
  v1::MetricAck writing_ack_;          // the write buffer while write_in_flight_
  bool write_in_flight_ = false;
  bool write_failed_ = false;  // the stream broke; drop further acks
  bool reads_done_ = false;    // no read outstanding and none will be started
  bool finished_ = false;
  grpc::Status final_status_ = grpc::Status::OK;
};

}  // namespace scalelaw::coordinator
