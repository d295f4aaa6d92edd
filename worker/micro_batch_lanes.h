// Micro-batches side by side on the CPU. The trainer takes every
// micro-batch's gradient separately (the noise scale needs each one's norm),
// so they are independent work until they are summed. Run one after the
// other with T intra-op threads each, small models scale poorly: at ~1M
// parameters two threads made a step only ~1.4x faster than one
// (bench/README.md), because the matmuls are too small to split well. Run
// side by side, one intra-op thread per lane, they keep every core busy on
// its own matmuls. Under bf16 autocast too: the autocast state and its cache
// of cast weights are per thread, and each lane casts for its own
// micro-batches, as the one-after-the-other path does.
//
// A lane computes a micro-batch's gradient exactly as a one-thread run does,
// and the trainer sums them in order, so the parameters follow the one-thread
// run bitwise. What the main thread reduces with all threads (the noise
// scale's squared norms, evaluations) may round differently (trainer_test).
//
// Each lane calls at::set_num_threads(1). With OpenMP that sets the lane's own
// thread count, but it also stores libtorch's process-wide default (read by
// threads that have not run parallel work yet): the trainer sets its own
// thread count at the start of every trial and has run parallel work before
// the first lane starts.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace scalelaw::worker {

// How many lanes to use for `micro_batches` micro-batches with `threads`
// intra-op threads: `threads` on the CPU when 2 <= threads <= micro_batches,
// so that every lane has one whole core and one thread; else 1 (one after the
// other). More threads than micro-batches were never measured with lanes.
uint32_t MicroBatchLanes(uint32_t threads, uint32_t micro_batches, bool cpu);

// `lanes` threads of one intra-op thread each, kept for a trial: a thread
// started per wave drew a malloc arena of its own each time, and an arena's
// heap is unmapped when it empties, so every wave page-faulted its memory back
// in (the reason TuneMallocForTraining kept one arena; bench/README.md).
class MicroBatchLanePool {
 public:
  // Starts the lane threads (none for one lane). Throws, with every started
  // lane stopped, if one cannot be started.
  explicit MicroBatchLanePool(uint32_t lanes);
  ~MicroBatchLanePool();
  MicroBatchLanePool(const MicroBatchLanePool&) = delete;
  MicroBatchLanePool& operator=(const MicroBatchLanePool&) = delete;

  // Calls fn(i) for every i in [0, count) on the lanes (lane l takes i = l,
  // l + lanes, ...) and returns when all are done, a wave of one included.
  // With one lane it calls fn in order on the calling thread. fn must only write state of its own i. If
  // a lane throws, the error of the lowest-numbered failing lane is rethrown
  // after every lane has finished its share. One caller at a time, and not
  // from inside fn.
  void ForEach(uint32_t count, const std::function<void(uint32_t)>& fn);

 private:
  struct State;
  void Lane(uint32_t lane);

  uint32_t lanes_;
  std::unique_ptr<State> state_;
  std::vector<std::thread> threads_;
};

// MicroBatchLanePool(lanes).ForEach(count, fn): lanes for one call.
void ForEachMicroBatch(uint32_t count, uint32_t lanes, const std::function<void(uint32_t)>& fn);

}  // namespace scalelaw::worker
