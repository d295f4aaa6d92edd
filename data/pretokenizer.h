// Splits text into the chunks byte-level BPE learns and applies merges
// within; no merge crosses a chunk boundary.
//
// The rule is GPT-2's pattern (Radford et al. 2019, openai/gpt-2 encoder.py)
// read on bytes:
//   's 't 'm 'd 're 've 'll | ␣?letters | ␣?digits | ␣?others | spaces(?!\S) | spaces
// where a letter is an ASCII letter or any byte >= 0x80 (so UTF-8 text outside
// ASCII groups like letters), a space is one of " \t\n\r\v\f", and an other is
// anything else. A run of spaces before a word leaves its last ' ' to the
// word. Chunks are cut at kMaxChunkBytes so that encoding stays linear on
// text without spaces (minified or binary files).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace scalelaw::data {

// Recorded in tokenizer.json: a BPE model is only valid with the splitter it
// was trained with.
inline constexpr char kPretokenizerName[] = "gpt2-bytes-v1";
inline constexpr size_t kMaxChunkBytes = 128;

namespace pretokenizer_internal {

enum ByteClass : uint8_t { kSpace, kLetter, kDigit, kOther };

constexpr std::array<uint8_t, 256> MakeByteClasses() {
  std::array<uint8_t, 256> classes{};
  for (int c = 0; c < 256; ++c) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
      classes[c] = kSpace;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) {
      classes[c] = kLetter;
    } else if (c >= '0' && c <= '9') {
      classes[c] = kDigit;
    } else {
      classes[c] = kOther;
    }
  }
  return classes;
}
inline constexpr std::array<uint8_t, 256> kByteClasses = MakeByteClasses();

// Length of the chunk that starts at text[i], i < text.size().
inline size_t ChunkLength(std::string_view text, size_t i) {
  const size_t n = text.size();
  auto cls = [&](size_t k) { return kByteClasses[static_cast<unsigned char>(text[k])]; };
  if (text[i] == '\'' && i + 1 < n) {
    const char c = text[i + 1];
    if (c == 's' || c == 't' || c == 'm' || c == 'd') return 2;
    if (i + 2 < n && ((c == 'r' && text[i + 2] == 'e') || (c == 'v' && text[i + 2] == 'e') ||
                      (c == 'l' && text[i + 2] == 'l'))) {
      return 3;
    }
  }
  const size_t start = (text[i] == ' ' && i + 1 < n && cls(i + 1) != kSpace) ? i + 1 : i;
  const uint8_t run = cls(start);
  size_t end = start + 1;
  while (end < n && cls(end) == run) ++end;
  if (run != kSpace) return end - i;
  // spaces(?!\S): leave the last space to the word that follows.
  if (end == n || end - i == 1) return end - i;
  return end - i - 1;
}

}  // namespace pretokenizer_internal

// Calls fn(std::string_view chunk) for each chunk of `text`, in order; the
// chunks concatenate to `text`.
template <typename Fn>
void ForEachChunk(std::string_view text, Fn&& fn) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = std::min(pretokenizer_internal::ChunkLength(text, i), kMaxChunkBytes);
    fn(text.substr(i, length));
    i += length;
  }
}

}  // namespace scalelaw::data
