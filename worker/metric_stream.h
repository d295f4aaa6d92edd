// Streams the metric points of one trial attempt to the coordinator over the
// bidirectional StreamMetrics RPC.
//
// Every point is kept until the coordinator acknowledges it (the ack means it
// is durable in the store). When the stream breaks (a coordinator restart, a
// network fault), a new one is opened as soon as the channel reconnects
// (wait_for_ready; the channel's reconnect backoff is capped, see
// proto/coordinator_token.h) and every unacknowledged point is sent again, in
// sequence order; the store ignores a (trial_id, attempt, seq) it already
// holds, so resending never doubles a point. Nothing is ever dropped while the
// stream lives: when max_unacknowledged points wait, Push blocks (back-
// pressure on the training loop) until acknowledgements make room.
//
// A stream the coordinator ends with a refusal (FAILED_PRECONDITION or
// NOT_FOUND: the attempt no longer holds the lease; PERMISSION_DENIED,
// INVALID_ARGUMENT, ...) is not reopened: resending cannot help. Push and
// Flush then return that refusal.
//
// Thread safety: Push, Flush and the accessors may be called from any thread.
// A background thread owns the RPC.
#pragma once

#include <atomic>
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
#include "worker/coordinator_contact.h"

namespace scalelaw::worker {

struct MetricStreamOptions {
  // Copied into every point (LeaseTrialResponse.lease_token); may be empty.
  std::string lease_token;
  // Points held for acknowledgement before Push blocks. 65,536 points are
  // ~10 MB, hours of a trial's points at usual log_every_steps.
  size_t max_unacknowledged = 1 << 16;
  // When set, Push and Flush stop waiting once *stop is true (the trial is
  // stopping: lease lost, coordinator given up on, worker stopped).
  const std::atomic<bool>* stop = nullptr;
  // When set, told of every acknowledgement and every unanswered stream.
  CoordinatorContact* contact = nullptr;
};

class MetricStream {
 public:
  // `stub`, options.stop and options.contact must outlive the stream.
  MetricStream(v1::Coordinator::StubInterface* stub, std::string trial_id, uint32_t attempt,
               MetricStreamOptions options = {});
  // Stops at once: points not yet acknowledged are dropped. Call Flush first
  // to wait for them.
  ~MetricStream();
  MetricStream(const MetricStream&) = delete;
  MetricStream& operator=(const MetricStream&) = delete;

  // Queues `point` with this stream's trial_id, attempt and lease token.
  // Its sequence number is point.seq when set (the trainer numbers a trial's
  // points itself, continuing across resumed attempts; it must exceed every
  // seq pushed before), else the next one (1, 2, ...). Blocks only while
  // max_unacknowledged points wait. Errors (the point is not queued): the
  // coordinator's refusal of the stream; Cancelled when *options.stop was set
  // while waiting for room.
  absl::Status Push(v1::MetricPoint point);

  // Waits until every pushed point is acknowledged (OK). Errors: the
  // coordinator's refusal; Cancelled when *options.stop is set;
  // DeadlineExceeded after `timeout`. Both of the latter name how many points
  // are still unacknowledged.
  absl::Status Flush(absl::Duration timeout = absl::InfiniteDuration());

  uint64_t pushed() const;
  uint64_t unacknowledged() const;
  uint64_t streams_opened() const;  // 1 + the number of reconnects
  // OK, or the coordinator's refusal that ended the stream for good.
  absl::Status refusal() const;

 private:
  struct StreamEnd {
    bool delivered = false;  // at least one acknowledgement came
    grpc::Status status;     // how the RPC ended
  };
  void SendLoop();
  // Runs one stream until it breaks or the stream is shut down.
  StreamEnd RunOneStream();
  // Waits on cv_ until `done`, checking *options_.stop every poll.
  template <typename Done>
  bool WaitUnlessStopped(std::unique_lock<std::mutex>& lock, absl::Duration timeout, Done done);
  bool stopped() const { return options_.stop != nullptr && options_.stop->load(); }
  std::string Unacknowledged() const;  // "N of M points unacknowledged"; mu_ held

  v1::Coordinator::StubInterface* const stub_;
  const std::string trial_id_;
  const uint32_t attempt_;
  const MetricStreamOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, v1::MetricPoint> unacked_;  // by seq
  std::deque<uint64_t> to_send_;            // seqs not yet written on the current stream, ascending
  grpc::ClientContext* context_ = nullptr;  // of the current stream, for cancelling it
  uint64_t next_seq_ = 1;
  uint64_t streams_opened_ = 0;
  absl::Status refusal_;  // set once; the sender then stops
  bool shutdown_ = false;
  std::thread sender_;
};

}  // namespace scalelaw::worker
