#include "worker/micro_batch_lanes.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace scalelaw::worker {

uint32_t MicroBatchLanes(uint32_t threads, uint32_t micro_batches, bool cpu) {
  if (!cpu || threads < 2 || threads > micro_batches) return 1;
  return threads;
}

namespace {

// A lane's glibc arena grows in heaps of 64 MiB, aligned to their size, and
// glibc unmaps a heap (other than the arena's first) as soon as it is wholly
// free, whatever the trim threshold. A lane whose step crossed a heap
// boundary then faulted the heap's pages in afresh every step, in some runs
// and not others (bf16, ~1M, 2 lanes: 29-32k instead of 46-57k tokens/s, ~4x
// the page faults). So each lane first grows its arena by about a dozen heaps
// and keeps a small block at the start of each, which no later free can make
// wholly free. Only address space is reserved: the pages untouched stay
// unbacked. Returns the pins, to be freed when the lane ends.
std::vector<void*> PinArenaHeaps() {
  constexpr uintptr_t kHeapBytes = uintptr_t{64} << 20;  // glibc's HEAP_MAX_SIZE, 64-bit
  constexpr size_t kBlockBytes = size_t{30} << 20;       // under the worker's 32 MiB mmap threshold
  constexpr int kBlocks = 24;                            // ~12 heaps: ~720 MiB of address space
  std::vector<void*> blocks, pins;
  for (int i = 0; i < kBlocks; ++i) {
    if (void* block = std::malloc(kBlockBytes)) blocks.push_back(block);
  }
  for (void* block : blocks) {
    const bool starts_heap = (reinterpret_cast<uintptr_t>(block) & (kHeapBytes - 1)) < 4096;
    if (!starts_heap) {
      std::free(block);
      continue;
    }
    // Shrinking keeps the block where it is and frees the rest of it.
    void* pin = std::realloc(block, 64);
    pins.push_back(pin != nullptr ? pin : block);
  }
  return pins;
}

}  // namespace

struct MicroBatchLanePool::State {
  std::mutex mutex;
  std::condition_variable work, done;
  const std::function<void(uint32_t)>* fn = nullptr;
  uint32_t count = 0;
  uint64_t generation = 0;  // one per ForEach call
  uint32_t pending = 0;     // lanes still working on this generation
  bool stop = false;
  std::vector<std::exception_ptr> errors;
};

MicroBatchLanePool::MicroBatchLanePool(uint32_t lanes)
    : lanes_(std::max(1u, lanes)), state_(std::make_unique<State>()) {
  if (lanes_ == 1) return;
  state_->errors.resize(lanes_);
  threads_.reserve(lanes_);
  try {
    for (uint32_t lane = 0; lane < lanes_; ++lane) {
      threads_.emplace_back([this, lane] { Lane(lane); });
    }
  } catch (...) {  // a lane could not be started: stop the others first
    {
      const std::lock_guard<std::mutex> lock(state_->mutex);
      state_->stop = true;
    }
    state_->work.notify_all();
    for (std::thread& thread : threads_) thread.join();
    throw;
  }
}

MicroBatchLanePool::~MicroBatchLanePool() {
  {
    const std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stop = true;
  }
  state_->work.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

void MicroBatchLanePool::Lane(uint32_t lane) {
  try {
    at::set_num_threads(1);
  } catch (...) {  // the lane still computes the same, only on more threads
  }
  const std::vector<void*> pins = PinArenaHeaps();
  struct FreePins {
    const std::vector<void*>& pins;
    ~FreePins() {
      for (void* pin : pins) std::free(pin);
    }
  } free_pins{pins};
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(uint32_t)>* fn = nullptr;
    uint32_t count = 0;
    {
      std::unique_lock<std::mutex> lock(state_->mutex);
      state_->work.wait(lock, [&] { return state_->stop || state_->generation != seen; });
      if (state_->stop) return;
      seen = state_->generation;
      fn = state_->fn;
      count = state_->count;
    }
    std::exception_ptr error;
    try {
      for (uint32_t i = lane; i < count; i += lanes_) (*fn)(i);
    } catch (...) {
      error = std::current_exception();
    }
    {
      const std::lock_guard<std::mutex> lock(state_->mutex);
      state_->errors[lane] = error;
      if (--state_->pending == 0) state_->done.notify_one();
    }
  }
}

void MicroBatchLanePool::ForEach(uint32_t count, const std::function<void(uint32_t)>& fn) {
  // A wave of one still goes to a lane: on the caller it would run on all
  // intra-op threads and round differently from a one-thread run.
  if (lanes_ <= 1) {
    for (uint32_t i = 0; i < count; ++i) fn(i);
    return;
  }
  if (count == 0) return;
  std::vector<std::exception_ptr> errors;
  {
    std::unique_lock<std::mutex> lock(state_->mutex);
    state_->fn = &fn;
    state_->count = count;
    state_->pending = lanes_;
    ++state_->generation;
    state_->work.notify_all();
    state_->done.wait(lock, [&] { return state_->pending == 0; });
    state_->fn = nullptr;
    errors = state_->errors;
    std::fill(state_->errors.begin(), state_->errors.end(), nullptr);
  }
  for (const std::exception_ptr& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

void ForEachMicroBatch(uint32_t count, uint32_t lanes, const std::function<void(uint32_t)>& fn) {
  MicroBatchLanePool(std::min(lanes, count)).ForEach(count, fn);
}

}  // namespace scalelaw::worker
