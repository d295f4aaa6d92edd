// Byte-level BPE (Sennrich et al. 2016; GPT-2's byte-level variant): ids
// 0..255 are bytes, id 256 + i is the concatenation of merges()[i]'s two
// tokens. Text is split into chunks (data/pretokenizer.h) and, within each
// chunk, the adjacent pair with the lowest merge rank is merged everywhere,
// left to right, until no pair has a rank. Every byte sequence round-trips.
//
// Thread safety: const methods may be called from any number of threads;
// Encode memoises chunk encodings and needs exclusive access.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "data/tokenizer.h"

namespace scalelaw::data {

class BpeTokenizer final : public Tokenizer {
 public:
  using Merge = std::pair<uint32_t, uint32_t>;

  // merges[i] joins two tokens with ids < 256 + i. InvalidArgument names the
  // first merge that does not, or a repeated one.
  static absl::StatusOr<BpeTokenizer> FromMerges(std::vector<Merge> merges);

  // The tokenizer.json form written by ToJson. `where` names the source in
  // errors (DataLoss for JSON that does not parse or a bad field).
  static absl::StatusOr<BpeTokenizer> FromJson(std::string_view json, const std::string& where);
  static absl::StatusOr<BpeTokenizer> ReadFile(const std::string& path);

  // {"type": "bpe", "vocab_size": V, "pretokenizer": ..., "max_chunk_bytes": ...,
  //  "merges": [[a, b], ...]}.
  std::string ToJson() const;

  std::string_view name() const override { return "bpe"; }
  uint32_t vocab_size() const override {
    return kByteVocabSize + static_cast<uint32_t>(merges_.size());
  }
  const std::vector<Merge>& merges() const { return merges_; }
  // The bytes token `id` stands for; id < vocab_size().
  const std::string& TokenBytes(uint32_t id) const { return token_bytes_[id]; }

  void Encode(std::string_view text, std::vector<uint32_t>& out) override;
  // One chunk, without the memo: Encode's result for text that is one chunk.
  void EncodeChunk(std::string_view chunk, std::vector<uint32_t>& out) const;
  absl::StatusOr<std::string> Decode(std::span<const uint32_t> tokens) const override;

 private:
  std::vector<Merge> merges_;
  absl::flat_hash_map<uint64_t, uint32_t> ranks_;  // PairKey(a, b) -> merge index
  std::vector<std::string> token_bytes_;
  // Chunk -> its tokens. Natural text repeats a small set of chunks, so
  // memoising makes encoding a hash lookup per chunk; cleared when it grows
  // past a bound so memory stays flat on large corpora.
  absl::flat_hash_map<std::string, std::vector<uint32_t>> memo_;
};

// The key of an adjacent pair of token ids in hash maps.
inline uint64_t PairKey(uint32_t a, uint32_t b) { return (uint64_t{a} << 32) | b; }

// Replaces each occurrence of the pair (a, b) in `symbols` by `merged`, left to
// right without overlap: the one rule training (which merge to learn next) and
// encoding (which merges to apply) must share, or the two disagree on "aaa".
inline void MergePair(std::vector<uint32_t>& symbols, uint32_t a, uint32_t b, uint32_t merged) {
  size_t n = 0;
  for (size_t i = 0; i < symbols.size();) {
    if (i + 1 < symbols.size() && symbols[i] == a && symbols[i + 1] == b) {
      symbols[n++] = merged;
      i += 2;
    } else {
      symbols[n++] = symbols[i++];
    }
  }
  symbols.resize(n);
}

}  // namespace scalelaw::data
