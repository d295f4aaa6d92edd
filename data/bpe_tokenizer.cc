#include "data/bpe_tokenizer.h"

#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "data/pretokenizer.h"

namespace scalelaw::data {
namespace {

// Past this many memoised chunks the memo starts over (~100 MB at worst).
constexpr size_t kMaxMemoEntries = 1 << 20;

}  // namespace

absl::StatusOr<BpeTokenizer> BpeTokenizer::FromMerges(std::vector<Merge> merges) {
  if (merges.size() > kMaxVocabSize - kByteVocabSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "merges: ", merges.size(), " merges make more than ", kMaxVocabSize, " tokens"));
  }
  BpeTokenizer bpe;
  bpe.token_bytes_.reserve(kByteVocabSize + merges.size());
  for (uint32_t b = 0; b < kByteVocabSize; ++b)
    bpe.token_bytes_.emplace_back(1, static_cast<char>(b));
  bpe.ranks_.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const auto [a, b] = merges[i];
    const uint64_t known = kByteVocabSize + i;
    if (a >= known || b >= known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "merges[", i, "]: [", a, ", ", b, "] names a token not made yet (ids < ", known, ")"));
    }
    if (!bpe.ranks_.try_emplace(PairKey(a, b), static_cast<uint32_t>(i)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("merges[", i, "]: [", a, ", ", b, "] repeats an earlier merge"));
    }
    bpe.token_bytes_.push_back(bpe.token_bytes_[a] + bpe.token_bytes_[b]);
  }
  bpe.merges_ = std::move(merges);
  return bpe;
}

absl::StatusOr<BpeTokenizer> BpeTokenizer::FromJson(std::string_view json,
                                                    const std::string& where) {
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::DataLossError(absl::StrCat(where, ": not a JSON object"));
  }
  auto bad = [&](const std::string& field, const std::string& why) {
    return absl::DataLossError(absl::StrCat(where, ": ", field, ": ", why));
  };
  if (doc.value("type", std::string()) != "bpe") return bad("type", "expected \"bpe\"");
  if (doc.value("pretokenizer", std::string()) != kPretokenizerName) {
    return bad("pretokenizer", absl::StrCat("expected \"", kPretokenizerName, "\""));
  }
  if (!doc.contains("merges") || !doc["merges"].is_array()) {
    return bad("merges", "expected an array of [a, b] token id pairs");
  }
  std::vector<Merge> merges;
  merges.reserve(doc["merges"].size());
  for (const nlohmann::json& m : doc["merges"]) {
    if (!m.is_array() || m.size() != 2 || !m[0].is_number_unsigned() ||
        !m[1].is_number_unsigned() || m[0].get<uint64_t>() >= kMaxVocabSize ||
        m[1].get<uint64_t>() >= kMaxVocabSize) {
      return bad(absl::StrCat("merges[", merges.size(), "]"),
                 "expected a pair of token ids [a, b]");
    }
    merges.emplace_back(m[0].get<uint32_t>(), m[1].get<uint32_t>());
  }
  absl::StatusOr<BpeTokenizer> bpe = FromMerges(std::move(merges));
  if (!bpe.ok()) return absl::DataLossError(absl::StrCat(where, ": ", bpe.status().message()));
  const nlohmann::json& vocab = doc.value("vocab_size", nlohmann::json());
  if (!vocab.is_number_unsigned() || vocab.get<uint64_t>() != bpe->vocab_size()) {
    return bad("vocab_size", absl::StrCat("expected ", bpe->vocab_size(),
                                          " (256 bytes + the merges), got ", vocab.dump()));
  }
  return bpe;
}

absl::StatusOr<BpeTokenizer> BpeTokenizer::ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("\"", path, "\": cannot be read"));
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return FromJson(json, path);
}

std::string BpeTokenizer::ToJson() const {
  nlohmann::ordered_json doc;
  doc["type"] = "bpe";
  doc["vocab_size"] = vocab_size();
  doc["pretokenizer"] = kPretokenizerName;
  doc["max_chunk_bytes"] = kMaxChunkBytes;
  nlohmann::ordered_json merges = nlohmann::ordered_json::array();
  for (const auto& [a, b] : merges_) merges.push_back({a, b});
  doc["merges"] = std::move(merges);
  return doc.dump() + "\n";
}

void BpeTokenizer::EncodeChunk(std::string_view chunk, std::vector<uint32_t>& out) const {
  std::vector<uint32_t> symbols(chunk.begin(), chunk.end());
  for (uint32_t& s : symbols) s &= 0xff;  // char may be signed
  while (symbols.size() >= 2) {
    uint32_t best = std::numeric_limits<uint32_t>::max();
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = ranks_.find(PairKey(symbols[i], symbols[i + 1]));
      if (it != ranks_.end() && it->second < best) best = it->second;
    }
    if (best == std::numeric_limits<uint32_t>::max()) break;
    const auto [a, b] = merges_[best];
    MergePair(symbols, a, b, kByteVocabSize + best);
  }
  out.insert(out.end(), symbols.begin(), symbols.end());
}

void BpeTokenizer::Encode(std::string_view text, std::vector<uint32_t>& out) {
  ForEachChunk(text, [&](std::string_view chunk) {
    if (chunk.size() == 1) {
      out.push_back(static_cast<unsigned char>(chunk[0]));
      return;
    }
    if (const auto it = memo_.find(absl::string_view(chunk.data(), chunk.size()));
        it != memo_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
    if (memo_.size() >= kMaxMemoEntries) memo_.clear();
    std::vector<uint32_t> tokens;
    EncodeChunk(chunk, tokens);
    out.insert(out.end(), tokens.begin(), tokens.end());
    memo_.emplace(std::string(chunk), std::move(tokens));
  });
}

absl::StatusOr<std::string> BpeTokenizer::Decode(std::span<const uint32_t> tokens) const {
  std::string text;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] >= token_bytes_.size()) {
      return absl::OutOfRangeError(
          absl::StrCat("token ", i, ": id ", tokens[i], " >= vocab_size ", vocab_size()));
    }
    text += token_bytes_[tokens[i]];
  }
  return text;
}

}  // namespace scalelaw::data
