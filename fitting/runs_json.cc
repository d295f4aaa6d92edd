#include "fitting/runs_json.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/json_depth.h"
#include "common/status_macros.h"
#include "fitting/runs_csv.h"

namespace scalelaw::fitting {
namespace {

using json = nlohmann::json;

struct Field {
  const char* name;
  std::initializer_list<const char*> aliases;
  bool required;
};

constexpr Field kParams{"params", {"params", "model_size", "N"}, true};
constexpr Field kTokens{"tokens", {"tokens", "training_tokens", "D"}, true};
constexpr Field kLoss{"loss", {"loss"}, true};
constexpr Field kFlops{"flops", {"flops", "compute"}, false};
constexpr Field kBudget{"budget", {"budget"}, false};

// The first alias present in `record`, or nullptr.
const json* Find(const json& record, const Field& field, std::string* key) {
  for (const char* alias : field.aliases) {
    auto it = record.find(alias);
    if (it != record.end() && !it->is_null()) {
      *key = alias;
      return &*it;
    }
  }
  return nullptr;
}

absl::StatusOr<double> Number(const json& record, const Field& field, const std::string& where) {
  std::string key;
  const json* value = Find(record, field, &key);
  if (value == nullptr) {
    if (!field.required) return 0.0;
    std::string accepted;
    for (const char* alias : field.aliases)
      absl::StrAppend(&accepted, accepted.empty() ? "" : ", ", alias);
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": missing key '", field.name, "' (accepted: ", accepted, ")"));
  }
  double number = std::nan("");
  if (value->is_number()) {
    number = value->get<double>();
  } else if (value->is_string()) {
    const std::string text = value->get<std::string>();
    char* end = nullptr;
    number = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) number = std::nan("");
  }
  const bool ok = std::isfinite(number) && (field.required ? number > 0 : number >= 0);
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(where, ", key '", key, "': expected a ",
                                                   field.required ? "positive" : "non-negative",
                                                   " number, got ", value->dump()));
  }
  return number;
}

absl::StatusOr<Observation> ParseRecord(const json& record, const std::string& where, size_t n) {
  if (!record.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expected an object, got ", record.dump()));
  }
  Observation obs;
  SCALELAW_ASSIGN_OR_RETURN(obs.params, Number(record, kParams, where));
  SCALELAW_ASSIGN_OR_RETURN(obs.tokens, Number(record, kTokens, where));
  SCALELAW_ASSIGN_OR_RETURN(obs.loss, Number(record, kLoss, where));
  SCALELAW_ASSIGN_OR_RETURN(obs.flops, Number(record, kFlops, where));
  SCALELAW_ASSIGN_OR_RETURN(obs.budget, Number(record, kBudget, where));
  auto id = record.find("id");
  obs.id = id == record.end() || id->is_null()
               ? absl::StrCat("record:", n)
               : (id->is_string() ? id->get<std::string>() : id->dump());
  return obs;
}

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

absl::StatusOr<std::vector<Observation>> ParseRunsJson(std::string_view text,
                                                       const std::string& source_name) {
  std::vector<json> records;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '[') {
    if (JsonNestingDepth(text) > kMaxJsonDepth) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ": JSON nested deeper than ", kMaxJsonDepth, " levels"));
    }
    json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (document.is_discarded()) {
      return absl::InvalidArgumentError(absl::StrCat(source_name, ": not valid JSON"));
    }
    records.assign(document.begin(), document.end());
  } else {  // JSON Lines
    std::istringstream lines{std::string(text)};
    std::string line;
    for (size_t number = 1; std::getline(lines, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      if (JsonNestingDepth(line) > kMaxJsonDepth) {
        return absl::InvalidArgumentError(absl::StrCat(
            source_name, ": line ", number, ": JSON nested deeper than ", kMaxJsonDepth, " levels"));
      }
      json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (record.is_discarded()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source_name, ": line ", number, ": not valid JSON"));
      }
      records.push_back(std::move(record));
    }
  }
  std::vector<Observation> runs;
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string where = absl::StrCat(source_name, ": record ", i + 1);
    SCALELAW_ASSIGN_OR_RETURN(Observation obs, ParseRecord(records[i], where, i + 1));
    runs.push_back(std::move(obs));
  }
  if (runs.empty()) return absl::InvalidArgumentError(absl::StrCat(source_name, ": no runs"));
  return runs;
}

absl::StatusOr<std::vector<Observation>> ReadRuns(const std::string& path) {
  if (!EndsWith(path, ".json") && !EndsWith(path, ".jsonl")) return ReadRunsCsv(path);
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open runs file"));
  std::stringstream text;
  text << in.rdbuf();
  return ParseRunsJson(text.str(), path);
}

}  // namespace scalelaw::fitting
