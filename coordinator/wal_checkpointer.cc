#include "coordinator/wal_checkpointer.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <utility>

#include "common/status_macros.h"

namespace scalelaw::coordinator {

absl::StatusOr<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Start(
    Store* store, const std::string& path, WalCheckpointOptions options) {
  SCALELAW_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  // A checkpoint fsyncs the WAL before it copies and the database after.
  SCALELAW_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL"));
  return std::unique_ptr<WalCheckpointer>(
      new WalCheckpointer(store, std::move(db), options));
}

WalCheckpointer::WalCheckpointer(Store* store, std::unique_ptr<SqliteDb> db,
                                 WalCheckpointOptions options)
    : store_(store), db_(std::move(db)), options_(options) {
  thread_ = std::thread([this] { Run(); });
  store_->set_wal_commit_hook([this](int pages) {
    committed_.store(true);
    if (pages < options_.wal_pages) return;
    {
      std::lock_guard lock(mu_);
      if (wanted_) return;
      wanted_ = true;
    }
    cv_.notify_one();
  });
}

WalCheckpointer::~WalCheckpointer() {
  store_->set_wal_commit_hook(nullptr);  // waits out a commit calling the hook
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void WalCheckpointer::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, options_.period, [this] { return wanted_ || stop_; });
    if (stop_) return;
    wanted_ = false;
    if (!committed_.exchange(false)) continue;  // the WAL holds nothing new
    lock.unlock();
    Checkpoint();
    lock.lock();
  }
}

void WalCheckpointer::Checkpoint() {
  int wal_frames = 0, copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                           &wal_frames, &copied);
  if (rc == SQLITE_OK) {
    if (copied == wal_frames) ++complete_;
    return;
  }
  if (rc == SQLITE_BUSY) return;  // another checkpoint is running: the next one copies
  // E.g. SQLITE_FULL: the WAL keeps growing until space returns, and
  // nothing committed is lost. Said once a minute, not at every try.
  const auto now = std::chrono::steady_clock::now();
  if (now - last_warning_ < std::chrono::minutes(1)) return;
  last_warning_ = now;
  spdlog::warn("checkpointing the store's WAL failed ({}); retrying every {} ms",
               db_->ErrorMessage(), options_.period.count());
}

}  // namespace scalelaw::coordinator
