#include "coordinator/sqlite_db.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace scalelaw::coordinator {
namespace {

// A full disk is the one failure that clears without anyone touching the
// store: RESOURCE_EXHAUSTED, which workers retry, so they resend their
// points once space is freed. SQLite rolls the failed transaction back, so
// what was stored stays stored.
absl::Status Failure(sqlite3* db, int rc, std::string message) {
  const int primary = rc & 0xff;
  if (primary == SQLITE_FULL || (primary == SQLITE_IOERR && sqlite3_system_errno(db) == ENOSPC)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the store's disk is full; nothing stored is lost, and writes resume once space is "
        "freed (", message, ")"));
  }
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return absl::UnavailableError(std::move(message));
  }
  return absl::InternalError(std::move(message));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  // SQLite creates a store 0644 less the umask and gives its -wal and -shm
  // the store's own mode, so creating it 0600 first keeps all three private
  // to their owner whoever opens it (an existing file keeps its mode). A
  // failure here is SQLite's to report.
  if (path != ":memory:" && !path.starts_with("file:")) {
    if (const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600); fd >= 0) {
      ::close(fd);
    }
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("cannot open store '", path, "': ", message));
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<SqliteDb>(new SqliteDb(db));
}

SqliteDb::~SqliteDb() { sqlite3_close_v2(db_); }

std::string SqliteDb::ErrorMessage() const { return sqlite3_errmsg(db_); }

absl::Status SqliteDb::Exec(std::string_view sql) {
  std::string text(sql);
  char* error = nullptr;
  if (const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error); rc != SQLITE_OK) {
    std::string message = error ? error : ErrorMessage();
    sqlite3_free(error);
    return Failure(db_, rc, absl::StrCat("sqlite: ", message, " in: ", text));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SqliteStatement>> SqliteDb::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt, nullptr) != SQLITE_OK) {
    return absl::InternalError(
        absl::StrCat("sqlite: ", ErrorMessage(), " preparing: ", std::string(sql)));
  }
  return std::make_unique<SqliteStatement>(this, stmt, std::string(sql));
}

absl::StatusOr<int64_t> SqliteDb::QueryInt(std::string_view sql) {
  auto stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  auto row = (*stmt)->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::InternalError(absl::StrCat("sqlite: no row from: ", std::string(sql)));
  return (*stmt)->ColumnInt(0);
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

SqliteStatement& SqliteStatement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
SqliteStatement& SqliteStatement::Bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}
SqliteStatement& SqliteStatement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
SqliteStatement& SqliteStatement::BindBlob(int index, std::string_view bytes) {
  sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}
SqliteStatement& SqliteStatement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

absl::StatusOr<bool> SqliteStatement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Failure(db_->handle(), rc, absl::StrCat("sqlite: ", db_->ErrorMessage(), " in: ", sql_));
}

absl::Status SqliteStatement::Run() {
  auto row = Step();
  Reset();
  return row.status();
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t SqliteStatement::ColumnInt(int column) const { return sqlite3_column_int64(stmt_, column); }
double SqliteStatement::ColumnDouble(int column) const {
  return sqlite3_column_double(stmt_, column);
}
std::string SqliteStatement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  return text ? std::string(reinterpret_cast<const char*>(text),
                            static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
              : std::string();
}
std::string SqliteStatement::ColumnBlob(int column) const {
  const void* blob = sqlite3_column_blob(stmt_, column);
  return blob ? std::string(static_cast<const char*>(blob),
                            static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
              : std::string();
}
bool SqliteStatement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}
bool SqliteStatement::ColumnIsText(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_TEXT;
}

}  // namespace scalelaw::coordinator
