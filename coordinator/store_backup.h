// An online copy of a coordinator's store, safe while the coordinator writes
// to it: SQLite's backup API copies every page within one read transaction,
// so the copy is the store as of one commit (WAL mode lets the coordinator go
// on committing meanwhile). The copy is written beside OUT, checked with
// PRAGMA integrity_check, made durable and only then renamed to OUT, so OUT
// is either a whole, checked store or absent.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace scalelaw::coordinator {

struct BackupStats {
  int64_t pages = 0;
  int64_t bytes = 0;
  int64_t schema_version = 0;
  double seconds = 0;
};

// Copies the store at `db_path` to `out_path`, which must not exist yet.
// Errors name the file: a missing store, a file that is not a scalelaw store,
// an existing OUT, a copy that fails its integrity check.
absl::StatusOr<BackupStats> BackupStore(const std::string& db_path, const std::string& out_path);

}  // namespace scalelaw::coordinator
