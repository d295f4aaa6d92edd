// Thin RAII wrappers over the sqlite3 C API: a connection and a prepared
// statement. Errors come back as absl::Status naming the SQL and SQLite's
// message. Neither class is thread-safe; Store serialises access.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace scalelaw::coordinator {

class SqliteStatement;

// Owns one sqlite3 connection; closes it on destruction.
class SqliteDb {
 public:
  // Opens (creating if missing) the database file at `path`.
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more statements that return no rows (schema, pragmas, BEGIN).
  absl::Status Exec(std::string_view sql);
  // Compiles `sql`; the statement must not outlive this connection.
  absl::StatusOr<std::unique_ptr<SqliteStatement>> Prepare(std::string_view sql);
  // Runs a statement returning a single integer (e.g. PRAGMA user_version).
  absl::StatusOr<int64_t> QueryInt(std::string_view sql);

  sqlite3* handle() { return db_; }
  // SQLite's last error message on this connection.
  std::string ErrorMessage() const;

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// A prepared statement. Bind indices are 1-based, column indices 0-based, as
// in SQLite. Reset() clears bindings so the statement can be reused.
class SqliteStatement {
 public:
  SqliteStatement(SqliteDb* db, sqlite3_stmt* stmt, std::string sql)
      : db_(db), stmt_(stmt), sql_(std::move(sql)) {}
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  SqliteStatement& Bind(int index, int64_t value);
  SqliteStatement& Bind(int index, double value);
  SqliteStatement& Bind(int index, std::string_view text);  // TEXT
  SqliteStatement& BindBlob(int index, std::string_view bytes);
  SqliteStatement& BindNull(int index);

  // Advances: true when a row is ready, false when done.
  absl::StatusOr<bool> Step();
  // Steps a statement that returns no rows.
  absl::Status Run();
  void Reset();

  int64_t ColumnInt(int column) const;
  double ColumnDouble(int column) const;
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;
  bool ColumnIsNull(int column) const;
  bool ColumnIsText(int column) const;  // a TEXT value, whatever the column's affinity

 private:
  SqliteDb* db_;
  sqlite3_stmt* stmt_;
  std::string sql_;
};

}  // namespace scalelaw::coordinator
