// A CSV file as a table of strings, for the inputs that are not runs
// (noise-scale measurements, training curves, dated series). runs_csv.h
// reads runs; this is its plainer sibling.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace scalelaw::fitting {

// Header and rows of a CSV file. Fields may be double-quoted ("" is a quote
// inside one); CRLF line ends and blank lines are accepted. Every row has as
// many fields as the header.
struct CsvTable {
  std::string source;  // the file name, for messages
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int> line_numbers;  // 1-based, per row

  // Index of the first column named any of `names` (case-insensitive), or
  // -1. InvalidArgument when `required` and absent, naming the accepted names.
  absl::StatusOr<int> Column(const std::vector<std::string>& names, bool required) const;
  // Row `row`'s field in column `col` as a finite number, > 0 when
  // `positive`. InvalidArgument names the file, line and column.
  absl::StatusOr<double> Number(size_t row, int col, bool positive) const;
  // Row `row`'s name: its field in the optional id column `col` (-1 when
  // absent), or "line:<line number>" when that is missing or empty, so every
  // point can be named in exclusions and residual reports (as runs_csv.h
  // names runs).
  std::string RowId(size_t row, int col) const;
};

// Errors are InvalidArgument naming `source_name` and the line.
absl::StatusOr<CsvTable> ParseCsvTable(std::string_view text, std::string_view source_name);
// NotFound when `path` cannot be opened.
absl::StatusOr<CsvTable> ReadCsvTable(const std::string& path);

// Splits one CSV line into trimmed fields; a field that starts with '"' runs
// to the matching quote, with "" standing for a quote inside it. The error
// (unterminated quote) names `source` and `line_number`. Shared by every CSV
// reader here.
absl::StatusOr<std::vector<std::string>> SplitCsvFields(absl::string_view line, int line_number,
                                                        absl::string_view source);

}  // namespace scalelaw::fitting
