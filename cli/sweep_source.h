// Where a CLI command reads a finished or running sweep from: the
// coordinator's store file (--db; safe while the coordinator runs, the store
// is in WAL mode) or a running coordinator (--coordinator, ListTrials), so
// `fit`, `report`, `sweep export` and `sweep critical-batch` read both the
// same way.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/commands.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::cli {

struct SweepSource {
  std::string db;           // a store file; when empty, the coordinator
  std::string coordinator;  // host:port; empty: DefaultCoordinatorAddress()
  std::string token_file;   // for the coordinator (proto/coordinator_token.h)
  ClientTls tls;            // for the coordinator (proto/coordinator_tls.h)
};

// A sweep's trials in plan order and, when asked for, the stored points of
// each trial's latest attempt (which hold its whole curve: a resumed attempt
// replays the points up to its checkpoint).
struct SweepData {
  std::string sweep_id;
  std::vector<v1::Trial> trials;
  std::vector<v1::MetricPoint> metrics;
  std::string source;  // "sweep ID in FILE" / "sweep ID at HOST:PORT", for messages
};

// The `sweep` subcommands' source: the store file `db` when given, else the
// group's coordinator and token.
SweepSource SourceOf(const std::string& db, const SweepGroupFlags& group);

// `sweep_id` may be empty with a store that holds exactly one sweep. Errors
// name the flag: NOT_FOUND for a missing store file or sweep,
// INVALID_ARGUMENT for an ambiguous store, the coordinator's error otherwise.
absl::StatusOr<SweepData> LoadSweep(const std::string& sweep_id, const SweepSource& source,
                                    bool with_metrics);

// The sweep's stored forecasts beside its targets' outcomes (empty for a
// sweep without forecasts, or before they are stored). Errors as LoadSweep's.
absl::StatusOr<std::vector<v1::ForecastOutcome>> LoadForecasts(const std::string& sweep_id,
                                                               const SweepSource& source);

}  // namespace scalelaw::cli
