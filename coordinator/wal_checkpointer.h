// Takes the store's WAL checkpoints off its writers. SQLite's automatic
// checkpoint runs inside whichever commit fills the WAL past 1,000 pages, on
// the committing thread and under the store's lock: under load that was the
// metric writer's commit, which then took 90-150 ms instead of ~3, and every
// lease, heartbeat and ack waited behind it. With a WalCheckpointer the store
// only reports the WAL's size after each commit; this thread, on a
// connection of its own, copies the WAL back into the database (PASSIVE: it
// never waits for a writer nor blocks one) once the WAL holds `wal_pages`
// pages, and at least every `period` while there is anything to copy.
//
//   auto checkpointer = WalCheckpointer::Start(store.get(), path);
//
// Durability is unchanged: a commit is durable once its WAL frames are
// fsync'd (synchronous=FULL), and a checkpoint only moves them.
//
// Thread safety: the object is used by its owner only; destroy it before
// the store. The destructor gives the store its automatic checkpoints back.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "coordinator/sqlite_db.h"
#include "coordinator/store.h"

namespace scalelaw::coordinator {

struct WalCheckpointOptions {
  int wal_pages = 1000;  // SQLite's own threshold
  std::chrono::milliseconds period{1000};
};

class WalCheckpointer {
 public:
  // Opens a second connection to `path` (the store's file) and starts.
  static absl::StatusOr<std::unique_ptr<WalCheckpointer>> Start(Store* store,
                                                                const std::string& path,
                                                                WalCheckpointOptions options = {});
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Checkpoints that copied every frame the WAL held (none was left to copy).
  int64_t complete_checkpoints() const { return complete_.load(); }

 private:
  WalCheckpointer(Store* store, std::unique_ptr<SqliteDb> db, WalCheckpointOptions options);
  void Run();
  void Checkpoint();

  Store* const store_;
  const std::unique_ptr<SqliteDb> db_;
  const WalCheckpointOptions options_;
  std::atomic<bool> committed_{false};  // since the last checkpoint began
  std::atomic<int64_t> complete_{0};
  std::chrono::steady_clock::time_point last_warning_{};

  std::mutex mu_;
  std::condition_variable cv_;
  bool wanted_ = false;
  bool stop_ = false;
  std::thread thread_;  // last: started once the rest is ready
};

}  // namespace scalelaw::coordinator
