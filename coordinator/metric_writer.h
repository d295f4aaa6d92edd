// Group commit for metric points: one writer thread drains a queue that every
// metric stream feeds and stores each batch in ONE store transaction
// (Store::AppendMetrics, one fsync), then completes every point of the batch.
// A stream acknowledges a point only from its completion, so an ack still
// means "durable in the store", while the fsync is paid once per batch
// instead of once per point, and off the gRPC threads and the scheduler's
// lock.
//
//   MetricWriter writer(&store, [&](const auto& stored) { /* observers */ });
//   bool more = writer.Enqueue(point, [](absl::StatusOr<MetricWrite> r) {...},
//                              [] { /* room again: read on */ });
//
// Completion: `done` runs exactly once per enqueued point, in queue order, on
// the writer thread: kStored, kDuplicate (a resend already held), the point's
// own error (it alone is not stored), or the batch's error (e.g.
// RESOURCE_EXHAUSTED on a full disk: none of the batch is stored, and
// workers resend). After Shutdown it is UNAVAILABLE and runs at once on the
// caller's thread, inside Enqueue: callers must not hold a lock `done` takes.
//
// Back-pressure: the queue holds about max_queued_points. Enqueue always
// takes the point it is given (it has been read already), but returns false
// when the queue is full; the caller should then read no more until
// `on_space` runs (once, on the writer thread, when the queue has drained to
// half, or at Shutdown).
//
// `on_stored` is told of each committed batch's new (not resent) points,
// and of the trials the batch moved LEASED -> RUNNING, on the writer thread,
// after the commit and before their `done` run, so that monitoring has seen
// a point by the time its ack is sent.
//
// Thread safety: Enqueue, Shutdown and queued are thread-safe. `store` must
// outlive the writer.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/store.h"
#include "coordinator/trial_scheduler.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::coordinator {

struct MetricWriterOptions {
  // The queue's bound, in points (>= 1; a point is ~100 bytes to a few KB).
  size_t max_queued_points = 4096;
  // The most points one transaction stores.
  size_t max_batch_points = 1024;
};

class MetricWriter {
 public:
  using Done = std::function<void(absl::StatusOr<MetricWrite>)>;
  using OnStored = std::function<void(const std::vector<v1::MetricPoint>& stored,
                                      const std::vector<std::string>& started)>;

  // Starts the writer thread. `on_stored` may be empty.
  MetricWriter(Store* store, OnStored on_stored, MetricWriterOptions options = {});
  ~MetricWriter();  // Shutdown()
  MetricWriter(const MetricWriter&) = delete;
  MetricWriter& operator=(const MetricWriter&) = delete;

  // Queues `point` (already validated: request limits, lease token). Returns
  // true when there is room for more; false when the queue is full, in which
  // case `on_space` will run once (otherwise it is dropped unrun).
  bool Enqueue(v1::MetricPoint point, Done done, std::function<void()> on_space);

  // Fails every queued point with UNAVAILABLE (none of them is stored), lets
  // the batch being written finish and complete, runs every waiting
  // `on_space`, and stops the thread. Later Enqueues fail at once.
  // Idempotent.
  void Shutdown();

  // Points queued and not yet taken into a batch.
  size_t queued() const;

 private:
  struct Item {
    v1::MetricPoint point;
    Done done;
  };
  void Run();
  // Stores `batch` and completes its points.
  void WriteBatch(std::vector<Item>& batch);

  Store* const store_;
  const OnStored on_stored_;
  const MetricWriterOptions options_;

  std::mutex shutdown_mu_;  // one Shutdown at a time (it joins the thread)
  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<Item> queue_;
  std::vector<std::function<void()>> waiting_for_space_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the rest is ready
};

}  // namespace scalelaw::coordinator
