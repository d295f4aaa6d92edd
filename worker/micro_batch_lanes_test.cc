#include "worker/micro_batch_lanes.h"

#include <gtest/gtest.h>

#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

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
  EXPECT_THROW(pool.ForEach(2, [](uint32_t i) {
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

}  // namespace
}  // namespace scalelaw::worker
