// One thread that runs callbacks at given times, for bench/load_worker: the
// pace of 256 workers' points and their heartbeats, without a thread per
// worker. Callbacks run one at a time on the timer thread, in time order,
// and must be quick (start an RPC, not wait for one).
//
//   bench::LoadTimers timers;
//   timers.At(Clock::now() + 5ms, [] { ... });
//   ...
//   timers.Shutdown();  // drops what has not run yet; then destroy the workers
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace scalelaw::bench {

class LoadTimers {
 public:
  using Clock = std::chrono::steady_clock;

  LoadTimers() : thread_([this] { Run(); }) {}
  ~LoadTimers() { Shutdown(); }
  LoadTimers(const LoadTimers&) = delete;
  LoadTimers& operator=(const LoadTimers&) = delete;

  // Runs `fn` at `at` (at once if that has passed), unless Shutdown comes first.
  void At(Clock::time_point at, std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      const bool earliest = queue_.empty() || at < queue_.top().at;
      queue_.push(Entry{at, next_id_++, std::move(fn)});
      if (!earliest) return;
    }
    cv_.notify_one();
  }

  // Stops the thread once the callback running (if any) returns; the rest never run.
  void Shutdown() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Entry {
    Clock::time_point at;
    uint64_t id;  // ties keep the order they were added in
    std::function<void()> fn;
    bool operator>(const Entry& other) const {
      return at != other.at ? at > other.at : id > other.id;
    }
  };

  void Run() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (queue_.empty()) {
        cv_.wait(lock);
        continue;
      }
      if (Clock::now() < queue_.top().at) {
        cv_.wait_until(lock, queue_.top().at);
        continue;
      }
      std::function<void()> fn = std::move(const_cast<Entry&>(queue_.top()).fn);
      queue_.pop();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> queue_;
  uint64_t next_id_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: started once the rest is ready
};

}  // namespace scalelaw::bench
