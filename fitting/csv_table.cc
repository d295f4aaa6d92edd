#include "fitting/csv_table.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace scalelaw::fitting {
namespace {}  // namespace

absl::StatusOr<std::vector<std::string>> SplitCsvFields(absl::string_view line, int line_number,
                                                        absl::string_view source) {
  std::vector<std::string> fields;
  std::string field;
  size_t i = 0;
  while (true) {
    field.clear();
    while (i < line.size() && line[i] == ' ') ++i;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        field += line[i++];
      }
      if (!closed) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": line ", line_number, ": unterminated quoted field"));
      }
      while (i < line.size() && line[i] != ',') ++i;
    } else {
      while (i < line.size() && line[i] != ',') field += line[i++];
    }
    fields.push_back(std::string(absl::StripAsciiWhitespace(field)));
    if (i >= line.size()) break;
    ++i;
  }
  return fields;
}

absl::StatusOr<int> CsvTable::Column(const std::vector<std::string>& names, bool required) const {
  for (size_t i = 0; i < header.size(); ++i) {
    for (const std::string& name : names) {
      if (absl::EqualsIgnoreCase(header[i], name)) return static_cast<int>(i);
    }
  }
  if (!required) return -1;
  std::string message = absl::StrCat(source, ": missing column '", names.front(), "'");
  if (names.size() > 1) {
    absl::StrAppend(&message,
                    " (also accepted: ", absl::StrJoin(names.begin() + 1, names.end(), ", "), ")");
  }
  return absl::InvalidArgumentError(message);
}

absl::StatusOr<double> CsvTable::Number(size_t row, int col, bool positive) const {
  const std::string& cell = rows[row][col];
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(cell.c_str(), &end);
  if (cell.empty() || end != cell.c_str() + cell.size() || errno == ERANGE ||
      !std::isfinite(value) || (positive && !(value > 0))) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": line ", line_numbers[row], ", column '", header[col], "': expected a ",
        positive ? "positive " : "", "finite number, got '", cell, "'"));
  }
  return value;
}

std::string CsvTable::RowId(size_t row, int col) const {
  if (col >= 0 && !rows[row][col].empty()) return rows[row][col];
  return absl::StrCat("line:", line_numbers[row]);
}

absl::StatusOr<CsvTable> ParseCsvTable(std::string_view text_in, std::string_view source_in) {
  const absl::string_view text(text_in.data(), text_in.size());
  CsvTable table;
  table.source = std::string(source_in);
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    absl::StatusOr<std::vector<std::string>> fields =
        SplitCsvFields(line, line_number, table.source);
    if (!fields.ok()) return fields.status();
    if (table.header.empty()) {
      table.header = *std::move(fields);
      continue;
    }
    if (fields->size() != table.header.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(table.source, ": line ", line_number, ": expected ", table.header.size(),
                       " fields as in the header, got ", fields->size()));
    }
    table.rows.push_back(*std::move(fields));
    table.line_numbers.push_back(line_number);
  }
  if (table.header.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(table.source, ": empty file, expected a header"));
  }
  return table;
}

absl::StatusOr<CsvTable> ReadCsvTable(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  std::ostringstream contents;
  contents << file.rdbuf();
  if (file.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return ParseCsvTable(contents.str(), path);
}

}  // namespace scalelaw::fitting
