#include "data/bpe_trainer.h"

#include <queue>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "data/pretokenizer.h"

namespace scalelaw::data {
namespace {

struct Word {
  std::vector<uint32_t> symbols;
  int64_t count = 0;  // occurrences of the chunk in the training text
};

// A pair's count when it was pushed; stale once the count has changed.
struct HeapEntry {
  int64_t count;
  uint64_t pair;
  // Max-heap on count, then the smaller pair first.
  bool operator<(const HeapEntry& other) const {
    return count != other.count ? count < other.count : pair > other.pair;
  }
};

}  // namespace

void BpeTrainer::AddText(std::string_view text) {
  ForEachChunk(text, [this](std::string_view chunk) {
    if (chunk.size() < 2) return;  // nothing to merge inside one byte
    const auto it = chunk_counts_.find(absl::string_view(chunk.data(), chunk.size()));
    if (it != chunk_counts_.end()) {
      ++it->second;
    } else {
      chunk_counts_.emplace(std::string(chunk), 1);
    }
  });
}

absl::StatusOr<BpeTokenizer> BpeTrainer::Train(uint32_t vocab_size) const {
  if (vocab_size <= kByteVocabSize || vocab_size > kMaxVocabSize) {
    return absl::InvalidArgumentError(absl::StrCat("vocab_size: must be in [", kByteVocabSize + 1,
                                                   ", ", kMaxVocabSize, "] for bpe, got ",
                                                   vocab_size));
  }
  std::vector<Word> words;
  words.reserve(chunk_counts_.size());
  for (const auto& [chunk, count] : chunk_counts_) {
    Word& w = words.emplace_back();
    w.symbols.assign(chunk.begin(), chunk.end());
    for (uint32_t& s : w.symbols) s &= 0xff;
    w.count = static_cast<int64_t>(count);
  }

  // counts: pair -> weighted occurrences. where: pair -> words that held it
  // when it appeared (may name a word that no longer does; checked on use).
  absl::flat_hash_map<uint64_t, int64_t> counts;
  absl::flat_hash_map<uint64_t, std::vector<uint32_t>> where;
  for (uint32_t w = 0; w < words.size(); ++w) {
    const std::vector<uint32_t>& s = words[w].symbols;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const uint64_t key = PairKey(s[i], s[i + 1]);
      counts[key] += words[w].count;
      std::vector<uint32_t>& holders = where[key];
      if (holders.empty() || holders.back() != w) holders.push_back(w);
    }
  }
  std::priority_queue<HeapEntry> heap;
  for (const auto& [key, count] : counts) heap.push({count, key});

  std::vector<BpeTokenizer::Merge> merges;
  merges.reserve(vocab_size - kByteVocabSize);
  std::vector<uint32_t> visited(words.size(), UINT32_MAX);  // merge index of the last visit
  absl::flat_hash_map<uint64_t, int64_t> delta;
  while (kByteVocabSize + merges.size() < vocab_size) {
    // The most frequent pair: pop until an entry matches its pair's count.
    uint64_t best = 0;
    bool found = false;
    while (!heap.empty() && !found) {
      const HeapEntry top = heap.top();
      heap.pop();
      const auto it = counts.find(top.pair);
      const int64_t current = it == counts.end() ? 0 : it->second;
      if (current == top.count) {
        best = top.pair;
        found = true;
      } else if (current > 0 && current < top.count) {
        heap.push({current, top.pair});  // lowered since it was pushed
      }  // else: a newer entry holds the higher count, or the pair is gone
    }
    if (!found) {
      return absl::FailedPreconditionError(absl::StrCat(
          "vocab_size ", vocab_size, ": the training text holds only ",
          kByteVocabSize + merges.size(),
          " tokens' worth of pairs (no adjacent pair is left to merge); choose a smaller "
          "vocabulary or more text"));
    }
    const uint32_t a = static_cast<uint32_t>(best >> 32);
    const uint32_t b = static_cast<uint32_t>(best);
    const uint32_t merge_index = static_cast<uint32_t>(merges.size());
    const uint32_t merged = kByteVocabSize + merge_index;
    merges.emplace_back(a, b);

    // Re-count the pairs of every word holding (a, b): take its pairs out,
    // merge, put the new pairs in.
    std::vector<uint32_t> holders = std::move(where[best]);
    where.erase(best);
    delta.clear();
    for (const uint32_t w : holders) {
      if (visited[w] == merge_index) continue;
      visited[w] = merge_index;
      std::vector<uint32_t>& s = words[w].symbols;
      const int64_t count = words[w].count;
      bool holds = false;
      for (size_t i = 0; i + 1 < s.size() && !holds; ++i) holds = s[i] == a && s[i + 1] == b;
      if (!holds) continue;
      for (size_t i = 0; i + 1 < s.size(); ++i) delta[PairKey(s[i], s[i + 1])] -= count;
      MergePair(s, a, b, merged);
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        const uint64_t key = PairKey(s[i], s[i + 1]);
        delta[key] += count;
        if (s[i] == merged || s[i + 1] == merged) {
          std::vector<uint32_t>& list = where[key];
          if (list.empty() || list.back() != w) list.push_back(w);
        }
      }
    }
    for (const auto& [key, change] : delta) {
      if (change == 0) continue;
      int64_t& count = counts[key];
      count += change;
      if (count <= 0) {
        counts.erase(key);
      } else if (change > 0) {
        heap.push({count, key});
      }
    }
  }
  return BpeTokenizer::FromMerges(std::move(merges));
}

}  // namespace scalelaw::data
