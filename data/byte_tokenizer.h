// The byte tokenizer: token i is byte i, vocabulary 256. Every byte sequence
// round-trips; one token per byte of text.
#pragma once

#include "data/tokenizer.h"

namespace scalelaw::data {

class ByteTokenizer final : public Tokenizer {
 public:
  std::string_view name() const override { return "byte"; }
  uint32_t vocab_size() const override { return kByteVocabSize; }
  void Encode(std::string_view text, std::vector<uint32_t>& out) override;
  absl::StatusOr<std::string> Decode(std::span<const uint32_t> tokens) const override;
};

}  // namespace scalelaw::data
