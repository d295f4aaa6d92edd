#include "data/meta.h"

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/json_depth.h"
#include "common/status_macros.h"
#include "data/tokenizer.h"

namespace scalelaw::data {
namespace {

using Json = nlohmann::json;

class FieldReader {
 public:
  FieldReader(const Json& doc, const std::string& where) : doc_(doc), where_(where) {}

  // Sets *out when the field is present; an error when it is required and
  // missing or present with the wrong type.
  absl::Status Unsigned(const char* field, bool required, uint64_t* out) const {
    const Json* value = Find(field);
    if (value == nullptr) return required ? Missing(field) : absl::OkStatus();
    if (!value->is_number_unsigned()) return WrongType(field, "a non-negative integer", *value);
    *out = value->get<uint64_t>();
    return absl::OkStatus();
  }
  absl::Status String(const char* field, bool required, std::string* out) const {
    const Json* value = Find(field);
    if (value == nullptr) return required ? Missing(field) : absl::OkStatus();
    if (!value->is_string()) return WrongType(field, "a string", *value);
    *out = value->get<std::string>();
    return absl::OkStatus();
  }
  absl::Status Number(const char* field, double* out) const {
    const Json* value = Find(field);
    if (value == nullptr) return absl::OkStatus();
    if (!value->is_number()) return WrongType(field, "a number", *value);
    *out = value->get<double>();
    return absl::OkStatus();
  }
  absl::Status Strings(const char* field, std::vector<std::string>* out) const {
    const Json* value = Find(field);
    if (value == nullptr) return absl::OkStatus();
    if (!value->is_array()) return WrongType(field, "an array of strings", *value);
    for (const Json& item : *value) {
      if (!item.is_string()) return WrongType(field, "an array of strings", *value);
      out->push_back(item.get<std::string>());
    }
    return absl::OkStatus();
  }
  absl::Status Error(const char* field, const std::string& why) const {
    return absl::DataLossError(absl::StrCat(where_, ": ", field, ": ", why));
  }

 private:
  const Json* Find(const char* field) const {
    const auto it = doc_.find(field);
    return it == doc_.end() || it->is_null() ? nullptr : &*it;
  }
  absl::Status Missing(const char* field) const { return Error(field, "missing (required)"); }
  absl::Status WrongType(const char* field, const char* expected, const Json& value) const {
    return Error(field, absl::StrCat("expected ", expected, ", got ", value.dump()));
  }

  const Json& doc_;
  const std::string& where_;
};

}  // namespace

std::string DatasetMetaToJson(const DatasetMeta& meta) {
  nlohmann::ordered_json doc;
  doc["format_version"] = meta.format_version;
  doc["vocab_size"] = meta.vocab_size;
  doc["tokenizer"] = meta.tokenizer;
  if (!meta.tokenizer_file.empty()) doc["tokenizer_file"] = meta.tokenizer_file;
  doc["dtype"] = DtypeName(meta.dtype);
  doc["train_tokens"] = meta.train_tokens;
  doc["val_tokens"] = meta.val_tokens;
  doc["train_bytes"] = meta.train_bytes;
  doc["val_bytes"] = meta.val_bytes;
  doc["val_fraction"] = meta.val_fraction;
  doc["split"] = "documents: validation iff FNV-1a-64(relative path) / 2^64 < val_fraction";
  doc["documents"] = meta.documents;
  doc["train_documents"] = meta.train_documents;
  doc["val_documents"] = meta.val_documents;
  doc["inputs"] = meta.inputs;
  // Paths are bytes on Linux; replace what is not UTF-8 rather than throw.
  return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

absl::StatusOr<DatasetMeta> ParseDatasetMeta(std::string_view json, const std::string& where) {
  if (JsonNestingDepth(json) > kMaxJsonDepth) {
    return absl::DataLossError(
        absl::StrCat(where, ": JSON nested deeper than ", kMaxJsonDepth, " levels"));
  }
  const Json doc = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::DataLossError(absl::StrCat(where, ": not a JSON object"));
  }
  const FieldReader read(doc, where);
  DatasetMeta meta;
  uint64_t vocab_size = 0, format_version = 1;
  std::string dtype;
  SCALELAW_RETURN_IF_ERROR(read.Unsigned("vocab_size", true, &vocab_size));
  SCALELAW_RETURN_IF_ERROR(read.String("tokenizer", true, &meta.tokenizer));
  SCALELAW_RETURN_IF_ERROR(read.String("dtype", true, &dtype));
  SCALELAW_RETURN_IF_ERROR(read.Unsigned("train_tokens", true, &meta.train_tokens));
  SCALELAW_RETURN_IF_ERROR(read.Unsigned("val_tokens", true, &meta.val_tokens));
  SCALELAW_RETURN_IF_ERROR(read.Unsigned("format_version", false, &format_version));
  SCALELAW_RETURN_IF_ERROR(read.String("tokenizer_file", false, &meta.tokenizer_file));
  SCALELAW_RETURN_IF_ERROR(read.Number("val_fraction", &meta.val_fraction));
  SCALELAW_RETURN_IF_ERROR(read.Unsigned("documents", false, &meta.documents));
  SCALELAW_RETURN_IF_ERROR(read.Unsigned("train_documents", false, &meta.train_documents));
  SCALELAW_RETURN_IF_ERROR(read.Unsigned("val_documents", false, &meta.val_documents));
  SCALELAW_RETURN_IF_ERROR(read.Unsigned("train_bytes", false, &meta.train_bytes));
  SCALELAW_RETURN_IF_ERROR(read.Unsigned("val_bytes", false, &meta.val_bytes));
  SCALELAW_RETURN_IF_ERROR(read.Strings("inputs", &meta.inputs));

  if (vocab_size == 0 || vocab_size > kMaxVocabSize) {
    return read.Error("vocab_size",
                      absl::StrCat("must be in [1, ", kMaxVocabSize, "], got ", vocab_size));
  }
  meta.vocab_size = static_cast<uint32_t>(vocab_size);
  if (meta.tokenizer.empty()) return read.Error("tokenizer", "must not be empty");
  absl::StatusOr<TokenDtype> parsed = ParseDtype(dtype);
  if (!parsed.ok()) {
    return read.Error("dtype",
                      absl::StrCat("expected \"uint16\" or \"uint32\", got \"", dtype, "\""));
  }
  meta.dtype = *parsed;
  if (meta.dtype == TokenDtype::kUint16 && vocab_size > 65536) {
    return read.Error(
        "dtype", absl::StrCat("uint16 cannot hold vocab_size ", vocab_size, "; expected uint32"));
  }
  if (format_version != 1) {
    return read.Error("format_version",
                      absl::StrCat("this scalelaw reads version 1, got ", format_version));
  }
  meta.format_version = static_cast<uint32_t>(format_version);
  return meta;
}

absl::StatusOr<DatasetMeta> ReadDatasetMeta(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("\"", path, "\": cannot be read"));
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ParseDatasetMeta(json, path);
}

}  // namespace scalelaw::data
