// The server side of Coordinator.StreamMetrics. Each MetricPoint read is
// checked at once (request limits, TrialScheduler::CheckMetric: trial, lease
// token, live attempt; once per trial attempt and token on a stream, since
// the store checks liveness again at the write), then handed to the
// MetricWriter, which stores it with other streams' points in one
// transaction. Only when its transaction has committed is its MetricAck
// sent, so an ack always means "durable"; a resend of a stored point is
// acknowledged again. Acks are written one at a time, in the order the
// points were read, and reading goes on while points wait for the writer.
//
// A point of a stale attempt, an unknown trial, without its attempt's lease
// token, out of the request limits, or that the store could not write (e.g.
// RESOURCE_EXHAUSTED on a full disk) ends the stream with that error
// (FAILED_PRECONDITION / NOT_FOUND / PERMISSION_DENIED / INVALID_ARGUMENT /
// the store's) after the acks of the points before it, and is not stored;
// points after it get no ack (the worker resends them; resends of stored
// ones are harmless).
//
// Back-pressure: when the writer's queue is full the reactor starts no read
// until the writer says there is room, so the client's stream flow control
// slows the worker; no gRPC thread blocks.
//
// A client that disappears mid-stream (killed worker) cancels the RPC: the
// outstanding read and write then complete with ok=false.
//
// Lifetime: created by CoordinatorService::StreamMetrics, owned by gRPC until
// OnDone, where it deletes itself. The writer's callbacks (a point's
// completion, "room again") hold a raw `this`: that is safe because the
// reactor calls Finish only once every point it enqueued has completed and
// no room callback is pending, and gRPC calls OnDone only after Finish, so
// no callback can run after OnDone. The writer completes every point it
// takes exactly once (stored, failed, or failed at shutdown), so the reactor
// always finishes. `scheduler` and `writer` must outlive it (the server is
// shut down before the service that owns the writer is destroyed).
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "coordinator/metric_writer.h"
#include "coordinator/trial_scheduler.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::coordinator {

class MetricStreamReactor final : public grpc::ServerBidiReactor<v1::MetricPoint, v1::MetricAck> {
 public:
  MetricStreamReactor(TrialScheduler* scheduler, MetricWriter* writer);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  // A point read and not yet answered: its ack, and once known, whether it
  // was stored (OK) or the error that ends the stream.
  struct Slot {
    v1::MetricAck ack;
    std::optional<absl::Status> outcome;
  };

  // CheckRequestLimits and, unless this (trial, attempt, token) has passed
  // it on this stream, TrialScheduler::CheckMetric. Called only from
  // OnReadDone (reads are one at a time), so it needs no lock.
  absl::Status Check(const v1::MetricPoint& point);
  // The writer's completion of the point in slot `index`.
  void OnPointWritten(uint64_t index, absl::StatusOr<MetricWrite> written);
  // The writer's queue has room again: read on.
  void OnRoom();
  // Answers the slots whose outcome is known, from the front; starts the
  // next ack write, or finishes the RPC when nothing is left to read, wait
  // for or write. Called without mu_ held.
  void Advance();

  TrialScheduler* const scheduler_;
  MetricWriter* const writer_;
  v1::MetricPoint point_;         // the read buffer: owned by gRPC between StartRead and OnReadDone
  std::string checked_trial_id_;  // what Check last let through CheckMetric
  uint32_t checked_attempt_ = 0;
  std::string checked_token_;

  std::mutex mu_;
  std::deque<Slot> slots_;             // points read and not yet answered, in order
  uint64_t first_slot_ = 0;            // the index of slots_.front()
  std::deque<v1::MetricAck> pending_;  // acks not yet written
  v1::MetricAck writing_ack_;          // the write buffer while write_in_flight_
  bool write_in_flight_ = false;
  bool write_failed_ = false;  // the stream broke; drop further acks
  bool read_in_flight_ = false;
  bool reads_done_ = false;  // the client half-closed, or the RPC was cancelled
  // The writer may call OnRoom, or OnReadDone may yet start a read: either
  // way the reactor must not finish.
  bool awaiting_room_ = false;
  bool failed_ = false;  // a point failed: read no more, acknowledge no more
  bool finished_ = false;
  grpc::Status final_status_ = grpc::Status::OK;
};

}  // namespace scalelaw::coordinator
