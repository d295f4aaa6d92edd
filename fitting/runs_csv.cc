#include "fitting/runs_csv.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "fitting/csv_table.h"

namespace scalelaw::fitting {
namespace {

// A logical column and the header names that give it; the first is canonical.
struct ColumnSpec {
  std::vector<std::string> names;
  bool required;
};

const ColumnSpec kParams{{"params", "model_size", "N"}, true};
const ColumnSpec kTokens{{"tokens", "training_tokens", "D"}, true};
const ColumnSpec kLoss{{"loss"}, true};
const ColumnSpec kFlops{{"flops", "compute"}, false};
const ColumnSpec kBudget{{"budget"}, false};
const ColumnSpec kId{{"id"}, false};

// Index of `spec`'s column in `header`, nullopt when absent. Two names of the
// same column (e.g. params and model_size) are ambiguous.
absl::StatusOr<std::optional<size_t>> FindColumn(const std::vector<std::string>& header,
                                                 const ColumnSpec& spec, absl::string_view source) {
  std::optional<size_t> found;
  for (size_t i = 0; i < header.size(); ++i) {
    for (const std::string& name : spec.names) {
      if (!absl::EqualsIgnoreCase(header[i], name)) continue;
      if (found.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": columns '", header[*found],
                                                       "' and '", header[i], "' both give ",
                                                       spec.names.front(), "; keep one"));
      }
      found = i;
    }
  }
  if (!found.has_value() && spec.required) {
    std::string message = absl::StrCat(source, ": missing column '", spec.names.front(), "'");
    if (spec.names.size() > 1) {
      absl::StrAppend(&message, " (also accepted: ",
                      absl::StrJoin(spec.names.begin() + 1, spec.names.end(), ", "), ")");
    }
    return absl::InvalidArgumentError(message);
  }
  return found;
}

// Parses a whole field as a double; NaN and infinities parse and are
// rejected by the caller's range check.
std::optional<double> ParseNumber(const std::string& text) {
  if (text.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE) return std::nullopt;
  return value;
}

}  // namespace

absl::StatusOr<std::vector<Observation>> ParseRunsCsv(std::string_view text_in,
                                                      std::string_view source_in) {
  // Debian's abseil has its own string_view; convert once at the edge.
  const absl::string_view text(text_in.data(), text_in.size());
  const absl::string_view source_name(source_in.data(), source_in.size());
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  int line_number = 0;
  std::vector<std::string> header;
  std::optional<size_t> params_col, tokens_col, loss_col, flops_col, budget_col, id_col;
  std::vector<Observation> observations;
  for (absl::string_view line : lines) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    SCALELAW_ASSIGN_OR_RETURN(std::vector<std::string> fields,
                              SplitCsvFields(line, line_number, source_name));
    if (header.empty()) {
      header = std::move(fields);
      SCALELAW_ASSIGN_OR_RETURN(params_col, FindColumn(header, kParams, source_name));
      SCALELAW_ASSIGN_OR_RETURN(tokens_col, FindColumn(header, kTokens, source_name));
      SCALELAW_ASSIGN_OR_RETURN(loss_col, FindColumn(header, kLoss, source_name));
      SCALELAW_ASSIGN_OR_RETURN(flops_col, FindColumn(header, kFlops, source_name));
      SCALELAW_ASSIGN_OR_RETURN(budget_col, FindColumn(header, kBudget, source_name));
      SCALELAW_ASSIGN_OR_RETURN(id_col, FindColumn(header, kId, source_name));
      continue;
    }
    if (fields.size() != header.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ": line ", line_number, ": expected ", header.size(),
                       " fields as in the header, got ", fields.size()));
    }
    // Reads column `col` as a number that must be > 0 (or >= 0 when zero is
    // allowed); an empty optional field reads as 0.
    const auto number = [&](size_t col, bool allow_zero, bool allow_empty,
                            double* out) -> absl::Status {
      const std::string& cell = fields[col];
      if (cell.empty() && allow_empty) {
        *out = 0;
        return absl::OkStatus();
      }
      const std::string where =
          absl::StrCat(source_name, ": line ", line_number, ", column '", header[col], "'");
      const std::optional<double> value = ParseNumber(cell);
      if (!value.has_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": expected a number, got '", cell, "'"));
      }
      if (!std::isfinite(*value) || *value < 0 || (*value == 0 && !allow_zero)) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": expected a ",
                                                       allow_zero ? "non-negative" : "positive",
                                                       " finite number, got '", cell, "'"));
      }
      *out = *value;
      return absl::OkStatus();
    };
    Observation obs;
    SCALELAW_RETURN_IF_ERROR(number(*params_col, false, false, &obs.params));
    SCALELAW_RETURN_IF_ERROR(number(*tokens_col, false, false, &obs.tokens));
    SCALELAW_RETURN_IF_ERROR(number(*loss_col, false, false, &obs.loss));
    if (flops_col.has_value()) SCALELAW_RETURN_IF_ERROR(number(*flops_col, true, true, &obs.flops));
    if (budget_col.has_value()) {
      SCALELAW_RETURN_IF_ERROR(number(*budget_col, true, true, &obs.budget));
    }
    obs.id = id_col.has_value() && !fields[*id_col].empty() ? fields[*id_col]
                                                            : absl::StrCat("line:", line_number);
    observations.push_back(std::move(obs));
  }
  if (header.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source_name, ": empty file, expected a header naming params, tokens and loss"));
  }
  return observations;
}

absl::StatusOr<std::vector<Observation>> ReadRunsCsv(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  std::ostringstream contents;
  contents << file.rdbuf();
  if (file.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return ParseRunsCsv(contents.str(), path);
}

}  // namespace scalelaw::fitting
