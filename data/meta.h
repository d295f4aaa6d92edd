// meta.json of a prepared data directory: what the token files hold and how
// they were made. The trainer needs vocab_size, dtype and the token counts;
// the rest records provenance (inputs, split, document counts, text bytes).
//
//   DIR/train.bin       training tokens (data/token_file.h)
//   DIR/val.bin         validation tokens, from documents disjoint from training
//   DIR/meta.json       this
//   DIR/tokenizer.json  the BPE merges (tokenizer "bpe" only)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/token_file.h"

namespace scalelaw::data {

inline constexpr char kTrainFileName[] = "train.bin";
inline constexpr char kValFileName[] = "val.bin";
inline constexpr char kMetaFileName[] = "meta.json";
inline constexpr char kTokenizerFileName[] = "tokenizer.json";

struct DatasetMeta {
  // Required fields.
  std::string tokenizer;    // "byte", "bpe", or another tool's name
  uint32_t vocab_size = 0;  // token ids are < vocab_size
  TokenDtype dtype = TokenDtype::kUint16;
  uint64_t train_tokens = 0;
  uint64_t val_tokens = 0;
  // Optional (0 / empty when unknown, e.g. a meta.json written by hand).
  uint32_t format_version = 1;
  std::string tokenizer_file;  // "tokenizer.json" for bpe
  double val_fraction = 0;     // share of documents held out by FNV-1a of their path
  uint64_t documents = 0;
  uint64_t train_documents = 0;
  uint64_t val_documents = 0;
  uint64_t train_bytes = 0;  // text bytes behind train_tokens
  uint64_t val_bytes = 0;
  std::vector<std::string> inputs;
};

// Pretty-printed JSON, one field per line, ending in a newline.
std::string DatasetMetaToJson(const DatasetMeta& meta);

// Errors are DataLoss and name `where` and the field: a missing required
// field, a wrong type, dtype other than uint16/uint32, vocab_size outside
// [1, kMaxVocabSize], a uint16 dtype with vocab_size > 65536.
absl::StatusOr<DatasetMeta> ParseDatasetMeta(std::string_view json, const std::string& where);

// NotFound when `path` cannot be read; otherwise as ParseDatasetMeta.
absl::StatusOr<DatasetMeta> ReadDatasetMeta(const std::string& path);

}  // namespace scalelaw::data
