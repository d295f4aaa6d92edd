#include "worker/micro_batch_lanes.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "worker/trainer.h"

namespace scalelaw::worker {
namespace {

TEST(MicroBatchLanesTest, OneLanePerThreadOnTheCpuOnly) {
  EXPECT_EQ(MicroBatchLanes(/*threads=*/2, /*micro_batches=*/2, /*cpu=*/true), 2u);
  EXPECT_EQ(MicroBatchLanes(2, 8, true), 2u);
  EXPECT_EQ(MicroBatchLanes(1, 2, true), 1u);
  EXPECT_EQ(MicroBatchLanes(4, 2, true), 1u);  // more threads than micro-batches: not measured
  EXPECT_EQ(MicroBatchLanes(2, 2, false), 1u);
}

TEST(MicroBatchLanesTest, LanesTakeEveryOtherMicroBatchOnTheirOwnThreads) {
  std::mutex mutex;
  std::vector<std::thread::id> ran_on(5);
  std::vector<int> calls(5, 0);
  ForEachMicroBatch(/*count=*/5, /*lanes=*/2, [&](uint32_t i) {
    std::lock_guard<std::mutex> lock(mutex);
    ran_on[i] = std::this_thread::get_id();
    ++calls[i];
  });
  EXPECT_EQ(calls, std::vector<int>(5, 1));
  EXPECT_EQ(ran_on[0], ran_on[2]);
  EXPECT_EQ(ran_on[0], ran_on[4]);
  EXPECT_EQ(ran_on[1], ran_on[3]);
  EXPECT_NE(ran_on[0], ran_on[1]);
  EXPECT_NE(ran_on[0], std::this_thread::get_id());
  EXPECT_NE(ran_on[1], std::this_thread::get_id());
}

TEST(MicroBatchLanesTest, OneLaneRunsInOrderOnTheCaller) {
  std::vector<uint32_t> order;
  const std::thread::id caller = std::this_thread::get_id();
  ForEachMicroBatch(3, 1, [&](uint32_t i) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    order.push_back(i);
  });
  EXPECT_EQ(order, (std::vector<uint32_t>{0, 1, 2}));
}

TEST(MicroBatchLanesTest, ALanesErrorReachesTheCallerAfterAllLanesEnd) {
  std::mutex mutex;
  std::vector<int> calls(4, 0);
  try {
    ForEachMicroBatch(4, 2, [&](uint32_t i) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        ++calls[i];
      }
      if (i == 1) throw std::runtime_error("micro-batch 1 failed");
    });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "micro-batch 1 failed");
  }
  // Lane 0 finished its micro-batches 0 and 2; lane 1 stopped at 1.
  EXPECT_EQ(calls, (std::vector<int>{1, 1, 1, 0}));
}

// A trial's pool runs every wave on the same lane threads, and a wave that
// failed leaves the pool ready for the next.
TEST(MicroBatchLanesTest, APoolKeepsItsThreadsFromWaveToWave) {
  MicroBatchLanePool pool(2);
  std::mutex mutex;
  std::vector<std::thread::id> first(2), second(2);
  pool.ForEach(2, [&](uint32_t i) {
    const std::lock_guard<std::mutex> lock(mutex);
    first[i] = std::this_thread::get_id();
  });
  EXPECT_THROW(pool.ForEach(2,
                            [](uint32_t i) {
                              if (i == 0) throw std::runtime_error("wave failed");
                            }),
               std::runtime_error);
  pool.ForEach(2, [&](uint32_t i) {
    const std::lock_guard<std::mutex> lock(mutex);
    second[i] = std::this_thread::get_id();
  });
  EXPECT_EQ(first, second);
  EXPECT_NE(first[0], first[1]);
  EXPECT_NE(first[0], std::this_thread::get_id());
}

long ThreadMinorFaults() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt;
}

// A lane whose step needs more than its arena's first heap must not fault
// that memory in afresh every step (see PinArenaHeaps): glibc would unmap
// the wholly freed heaps after each wave.
TEST(MicroBatchLanesTest, ALanesMemoryStaysMappedFromWaveToWave) {
  TuneMallocForTraining();  // the worker's mmap threshold: 1 MiB blocks come from the arena
  constexpr size_t kBlockBytes = size_t{1} << 20;
  constexpr int kBlocks = 160;  // 160 MiB a lane: three 64 MiB heaps
  MicroBatchLanePool pool(2);
  std::vector<long> faults;
  for (int wave = 0; wave < 4; ++wave) {
    std::atomic<long> wave_faults{0};
    pool.ForEach(2, [&](uint32_t) {
      const long before = ThreadMinorFaults();
      std::vector<void*> blocks;
      for (int i = 0; i < kBlocks; ++i) {
        blocks.push_back(std::malloc(kBlockBytes));
        std::memset(blocks.back(), 1, kBlockBytes);  // touch every page
      }
      for (void* block : blocks) std::free(block);
      wave_faults += ThreadMinorFaults() - before;
    });
    faults.push_back(wave_faults.load());
  }
  // The first wave maps ~2 x 40k pages; later waves reuse them.
  EXPECT_GT(faults[0], 2 * kBlocks * 200);
  for (int wave = 1; wave < 4; ++wave) {
    EXPECT_LT(faults[wave], faults[0] / 10) << "wave " << wave;
  }
}

}  // namespace
}  // namespace scalelaw::worker
