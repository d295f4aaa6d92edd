#include "worker/micro_batch_lanes.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

namespace scalelaw::worker {

uint32_t MicroBatchLanes(uint32_t threads, uint32_t micro_batches, bool cpu_fp32) {
  if (!cpu_fp32 || threads < 2 || threads > micro_batches) return 1;
  return threads;
}

void ForEachMicroBatch(uint32_t count, uint32_t lanes, const std::function<void(uint32_t)>& fn) {
  if (lanes <= 1 || count <= 1) {
    for (uint32_t i = 0; i < count; ++i) fn(i);
    return;
  }
  lanes = std::min(lanes, count);
  std::vector<std::exception_ptr> errors(lanes);
  std::vector<std::thread> workers;
  workers.reserve(lanes);
  try {
    for (uint32_t lane = 0; lane < lanes; ++lane) {
      workers.emplace_back([&, lane] {
        try {
          at::set_num_threads(1);
          for (uint32_t i = lane; i < count; i += lanes) fn(i);
        } catch (...) {
          errors[lane] = std::current_exception();
        }
      });
    }
  } catch (...) {  // a lane could not be started: end the others first
    for (std::thread& worker : workers) worker.join();
    throw;
  }
  for (std::thread& worker : workers) worker.join();
  for (const std::exception_ptr& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

}  // namespace scalelaw::worker
