#include "coordinator/store_backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace scalelaw::coordinator {
namespace {

// How long the copy waits for the coordinator's write lock to clear.
constexpr int kBusyTimeoutMs = 30000;

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, CloseDb>;

absl::StatusOr<Db> OpenDb(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(absl::StrCat(
        "cannot open '", path, "': ", raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
  return db;
}

absl::StatusOr<std::string> QueryText(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    return absl::InternalError(absl::StrCat(sql, ": ", sqlite3_errmsg(db)));
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  if (sqlite3_step(stmt.get()) != SQLITE_ROW) {
    return absl::InternalError(absl::StrCat(sql, ": ", sqlite3_errmsg(db)));
  }
  const unsigned char* text = sqlite3_column_text(stmt.get(), 0);
  return text != nullptr ? std::string(reinterpret_cast<const char*>(text)) : std::string();
}

// fsync of a file or directory by path.
absl::Status Sync(const std::filesystem::path& path, bool directory) {
  const int fd = open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open '", path.string(), "' to sync"));
  const bool ok = fsync(fd) == 0;
  close(fd);
  if (!ok) return absl::InternalError(absl::StrCat("fsync of '", path.string(), "' failed"));
  return absl::OkStatus();
}

absl::StatusOr<BackupStats> CopyPages(sqlite3* source, sqlite3* copy) {
  sqlite3_backup* backup = sqlite3_backup_init(copy, "main", source, "main");
  if (backup == nullptr) return absl::InternalError(sqlite3_errmsg(copy));
  // One step of all pages: a single read transaction, so a busy coordinator
  // cannot make the copy restart (as page-by-page steps would on every write).
  int rc;
  while ((rc = sqlite3_backup_step(backup, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    sqlite3_sleep(50);
  }
  BackupStats stats;
  stats.pages = sqlite3_backup_pagecount(backup);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    return absl::InternalError(absl::StrCat("copying pages: ", sqlite3_errstr(rc)));
  }
  return stats;
}

}  // namespace

absl::StatusOr<BackupStats> BackupStore(const std::string& db_path, const std::string& out_path) {
  const auto start = std::chrono::steady_clock::now();
  std::error_code error;
  if (!std::filesystem::exists(db_path, error)) {
    return absl::NotFoundError(absl::StrCat("--db: no store at '", db_path, "'"));
  }
  if (std::filesystem::exists(out_path, error)) {
    return absl::AlreadyExistsError(
        absl::StrCat("--out: '", out_path, "' exists; a backup never overwrites a file"));
  }
  SCALELAW_ASSIGN_OR_RETURN(Db source, OpenDb(db_path, SQLITE_OPEN_READONLY));
  SCALELAW_ASSIGN_OR_RETURN(std::string version, QueryText(source.get(), "PRAGMA user_version"));
  if (version == "0") {
    return absl::FailedPreconditionError(
        absl::StrCat("--db: '", db_path, "' is not a scalelaw store"));
  }

  const std::filesystem::path out = std::filesystem::absolute(out_path);
  const std::filesystem::path partial = out.string() + ".partial";
  std::filesystem::remove(partial, error);
  absl::StatusOr<BackupStats> stats = [&]() -> absl::StatusOr<BackupStats> {
    SCALELAW_ASSIGN_OR_RETURN(
        Db copy, OpenDb(partial.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
    SCALELAW_ASSIGN_OR_RETURN(BackupStats copied, CopyPages(source.get(), copy.get()));
    // The copy keeps the store's WAL mode; fold everything into the main file.
    sqlite3_exec(copy.get(), "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    SCALELAW_ASSIGN_OR_RETURN(std::string check, QueryText(copy.get(), "PRAGMA integrity_check"));
    if (check != "ok") {
      return absl::DataLossError(absl::StrCat("the copy failed its integrity check: ", check));
    }
    SCALELAW_ASSIGN_OR_RETURN(std::string copied_version,
                              QueryText(copy.get(), "PRAGMA user_version"));
    copied.schema_version = std::stoll(copied_version);
    return copied;
  }();
  if (stats.ok()) {
    // Closed above; the -wal/-shm of the copy are gone after the checkpoint.
    absl::Status durable = Sync(partial, /*directory=*/false);
    if (durable.ok()) {
      std::filesystem::rename(partial, out, error);
      if (error) durable = absl::InternalError(absl::StrCat("--out: ", error.message()));
    }
    if (durable.ok()) durable = Sync(out.parent_path(), /*directory=*/true);
    if (!durable.ok()) stats = durable;
  }
  if (!stats.ok()) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(partial.string() + suffix, error);
    }
    return stats.status();
  }
  stats->bytes = static_cast<int64_t>(std::filesystem::file_size(out, error));
  stats->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace scalelaw::coordinator
