// Reading runs made elsewhere from JSON: an array of objects, or JSON Lines
// (one object per line), with the same fields and aliases as the CSV reader
// (fitting/runs_csv.h): params (model_size, N), tokens (training_tokens, D),
// loss, optional flops (compute), budget, id. Numbers may be JSON numbers or
// numeric strings; other keys are ignored.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "fitting/observation.h"

namespace scalelaw::fitting {

// Errors are InvalidArgument and name the source, the 1-based record and the
// key, e.g. "runs.json: record 3, key 'loss': expected a positive number, got
// \"abc\"". A record without an id gets "record:<n>". Thread-safe.
absl::StatusOr<std::vector<Observation>> ParseRunsJson(std::string_view text,
                                                       const std::string& source_name);

// Runs from `path`: JSON when it ends in .json or .jsonl, CSV otherwise.
// NotFound when the file cannot be opened.
absl::StatusOr<std::vector<Observation>> ReadRuns(const std::string& path);

}  // namespace scalelaw::fitting
