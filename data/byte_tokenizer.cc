#include "data/byte_tokenizer.h"

#include "absl/strings/str_cat.h"

namespace scalelaw::data {

void ByteTokenizer::Encode(std::string_view text, std::vector<uint32_t>& out) {
  out.reserve(out.size() + text.size());
  for (unsigned char c : text) out.push_back(c);
}

absl::StatusOr<std::string> ByteTokenizer::Decode(std::span<const uint32_t> tokens) const {
  std::string text;
  text.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] >= kByteVocabSize) {
      return absl::OutOfRangeError(
          absl::StrCat("token ", i, ": id ", tokens[i], " >= vocab_size ", kByteVocabSize));
    }
    text.push_back(static_cast<char>(tokens[i]));
  }
  return text;
}

}  // namespace scalelaw::data
