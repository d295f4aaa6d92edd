// Reading runs made elsewhere from a CSV file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "fitting/observation.h"

namespace scalelaw::fitting {

// Parses a header line and one run per line. Columns, in any order (names
// are matched without regard to case or surrounding spaces; other columns
// are ignored):
//   params  (or model_size, N)        required, > 0
//   tokens  (or training_tokens, D)   required, > 0
//   loss                              required, > 0
//   flops   (or compute)              optional, >= 0; empty or absent = 6·N·D
//   budget                            optional, >= 0; the planned IsoFLOP budget
//   id                                optional; absent = "line:<line number>"
// Fields may be double-quoted ("" is a quote inside one). CRLF line ends and
// blank lines are accepted. Errors are InvalidArgument and name the source,
// the 1-based line and the column, e.g.
//   runs.csv: line 7, column 'loss': expected a number, got 'abc'
//   runs.csv: missing column 'tokens' (also accepted: training_tokens, D)
// `source_name` is only used in messages. Thread-safe (no shared state).
absl::StatusOr<std::vector<Observation>> ParseRunsCsv(std::string_view text,
                                                      std::string_view source_name);

// Reads `path` and parses it with ParseRunsCsv, naming the file in errors
// (NotFound when it cannot be opened).
absl::StatusOr<std::vector<Observation>> ReadRunsCsv(const std::string& path);

}  // namespace scalelaw::fitting
