// Streams the metric points of one trial attempt to the coordinator over the
// bidirectional StreamMetrics RPC.
//
// Every point is kept until the coordinator acknowledges it (the ack means it
// is durable in the store). When the stream breaks, a new one is opened after
// a backoff and every unacknowledged point is sent again, in sequence order;
// the store ignores a (trial_id, attempt, seq) it already holds, so resending
// never doubles a point.
//
// Thread safety: Push, Flush and the accessors may be called from any thread.
// A background thread owns the RPC.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "scalelaw/v1/coordinator.grpc.pb.h"

namespace scalelaw::worker {

class MetricStream {
 public:
  // `stub` must outlive the stream.
  MetricStream(v1::Coordinator::StubInterface* stub, std::string trial_id, uint32_t attempt);
  // Stops at once: points not yet acknowledged are dropped. Call Flush first
  // to wait for them.
  ~MetricStream();
  MetricStream(const MetricStream&) = delete;
  MetricStream& operator=(const MetricStream&) = delete;

  // Queues `point` with this stream's trial_id and attempt and returns its
  // sequence number: point.seq when set (the trainer numbers a trial's points
  // itself, continuing across resumed attempts; it must exceed every seq
  // pushed before), else the next one (1, 2, ...). Never blocks on the network.
  uint64_t Push(v1::MetricPoint point);

  // Waits until every pushed point is acknowledged, or `timeout` passes
  // (DeadlineExceeded, naming how many are still unacknowledged).
  absl::Status Flush(absl::Duration timeout);

  uint64_t pushed() const;
  uint64_t unacknowledged() const;
  uint64_t streams_opened() const;  // 1 + the number of reconnects

 private:
  void SendLoop();
  // Runs one stream until it breaks or the stream is shut down; returns true
  // when it delivered an acknowledgement.
  bool RunOneStream();

  v1::Coordinator::StubInterface* const stub_;
  const std::string trial_id_;
  const uint32_t attempt_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, v1::MetricPoint> unacked_;  // by seq
  std::deque<uint64_t> to_send_;            // seqs not yet written on the current stream, ascending
  grpc::ClientContext* context_ = nullptr;  // of the current stream, for cancelling it
  uint64_t next_seq_ = 1;
  uint64_t streams_opened_ = 0;
  bool shutdown_ = false;
  std::thread sender_;
};

}  // namespace scalelaw::worker
