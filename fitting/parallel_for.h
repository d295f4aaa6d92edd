// A minimal parallel loop for independent fits (multi-start screening,
// bootstrap resamples).
#pragma once

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace scalelaw::fitting {

// Runs `work(k)` for every k < n on up to `num_threads` threads (the calling
// one included), handing out indices from a shared counter, and returns when
// all are done. Which thread runs which k is unspecified, so `work` must
// write only to slot k of its output for the result not to depend on the
// thread count.
template <typename Work>
void ParallelFor(size_t n, int num_threads, const Work& work) {
  std::atomic<size_t> next{0};
  const auto loop = [&] {
    for (size_t k = next++; k < n; k = next++) work(k);
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < num_threads && static_cast<size_t>(t) < n; ++t) threads.emplace_back(loop);
  loop();
  for (std::thread& thread : threads) thread.join();
}

}  // namespace scalelaw::fitting
