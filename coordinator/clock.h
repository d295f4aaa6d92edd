// Time source for leases. The scheduler never reads the system clock itself, so
// tests drive lease expiry with a FakeClock instead of sleeping (ray's
// raylet/scheduling habit).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace scalelaw::coordinator {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time; leases and timestamps on the wire are Unix milliseconds.
  virtual std::chrono::system_clock::time_point Now() const = 0;

  int64_t NowMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Now().time_since_epoch()).count();
  }
};

// The real clock. Stateless and thread-safe.
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
};

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000) : now_ms_(start_ms) {}

  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(now_ms_.load()));
  }
  void Advance(std::chrono::milliseconds delta) { now_ms_ += delta.count(); }
  void SetMs(int64_t unix_ms) { now_ms_ = unix_ms; }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace scalelaw::coordinator
