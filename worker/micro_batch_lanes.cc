#include "worker/micro_batch_lanes.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

namespace scalelaw::worker {

uint32_t MicroBatchLanes(uint32_t threads, uint32_t micro_batches, bool cpu_fp32) {
  if (!cpu_fp32) return 1;
  return std::max(1u, std::min(threads, micro_batches));
}

void ForEachMicroBatch(uint32_t count, uint32_t lanes, uint32_t threads,
                       const std::function<void(uint32_t)>& fn) {
  if (lanes <= 1) {
    for (uint32_t i = 0; i < count; ++i) fn(i);
    return;
  }
  const int lane_threads = static_cast<int>(std::max(1u, threads / lanes));
  std::vector<std::exception_ptr> errors(lanes);
  std::vector<std::thread> workers;
  workers.reserve(lanes);
  for (uint32_t lane = 0; lane < lanes; ++lane) {
    workers.emplace_back([&, lane] {
      try {
        // OpenMP keeps the thread count per thread, so this sizes this
        // lane's own parallel regions (and OpenBLAS's and oneDNN's, which
        // ask OpenMP) without touching the calling thread's.
        at::set_num_threads(lane_threads);
        for (uint32_t i = lane; i < count; i += lanes) fn(i);
      } catch (...) {
        errors[lane] = std::current_exception();
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  for (const std::exception_ptr& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

}  // namespace scalelaw::worker
