// What a tokenizer does for scalelaw: text bytes to token ids and back.
//
// Implementations: ByteTokenizer (data/byte_tokenizer.h, 256 tokens) and
// BpeTokenizer (data/bpe_tokenizer.h, byte-level BPE). A prepared data
// directory names its tokenizer in meta.json; LoadTokenizer rebuilds it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace scalelaw::data {

// Byte tokens 0..255 are the first 256 ids of every tokenizer here.
inline constexpr uint32_t kByteVocabSize = 256;
// The largest vocabulary scalelaw reads or trains (token files store it as
// uint32; a model's embedding of this many rows is already absurd).
inline constexpr uint32_t kMaxVocabSize = 1u << 20;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // "byte" or "bpe": the name meta.json records.
  virtual std::string_view name() const = 0;
  virtual uint32_t vocab_size() const = 0;

  // Appends the tokens of `text` (any bytes) to `out`. Not thread-safe: an
  // implementation may memoise encodings.
  virtual void Encode(std::string_view text, std::vector<uint32_t>& out) = 0;

  // The bytes of `tokens`; OutOfRange names the first id >= vocab_size().
  virtual absl::StatusOr<std::string> Decode(std::span<const uint32_t> tokens) const = 0;
};

// The tokenizer of a prepared data directory (meta.json, and tokenizer.json
// for "bpe"). Errors name the file and field: NotFound, DataLoss for a file
// that does not parse, InvalidArgument for a tokenizer scalelaw does not know.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& directory);

}  // namespace scalelaw::data
