// The tokens a trial trains and validates on, and how windows are drawn.
//
// Load takes either
//   - a prepared directory (one holding train.bin): `scalelaw data prepare`'s
//     output, read through meta.json, or a bare nanoGPT directory (train.bin
//     and val.bin of uint16 tokens, no meta.json; the vocabulary is the
//     caller's or the largest id + 1). Both files are mapped read-only; the
//     split is the one the files were written with.
//   - a text directory: every file under it is a document, split by
//     data/text_documents.h and held in memory as byte tokens (vocabulary 256).
//
// Thread safety: a loaded dataset is immutable; its const methods may be
// called from any number of threads.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "data/token_sequence.h"
#include "data/tokenizer.h"

namespace scalelaw::data {

struct DatasetStats {
  uint64_t documents = 0;  // 0 when unknown (a bare nanoGPT directory)
  uint64_t train_documents = 0;
  uint64_t val_documents = 0;
  uint64_t train_tokens = 0;
  uint64_t val_tokens = 0;
  // Entropy of the validation split's token distribution, nats/token: the
  // loss of the best model that ignores context, a reference line for curves.
  double val_unigram_entropy = 0.0;
};

class TokenDataset {
 public:
  // `val_fraction` and `tokenizer` apply to a text directory (tokenizer must
  // be "byte"); a prepared directory carries its own split and tokenizer.
  // `vocab_size` > 0 gives the vocabulary of a directory without meta.json.
  // Every token is read once to check ids < vocab_size. Errors start with
  // "data.corpus:" and name the file: NotFound (no such directory, val.bin
  // missing), InvalidArgument (val_fraction outside (0, 1), a tokenizer other
  // than "byte" for text), DataLoss (meta.json unreadable or inconsistent
  // with the files, a size that does not fit the dtype, an id >= vocab_size),
  // FailedPrecondition (no text, an empty split).
  static absl::StatusOr<TokenDataset> Load(const std::string& path, double val_fraction,
                                           std::string_view tokenizer = "byte",
                                           uint32_t vocab_size = 0);

  // True when `path` is a directory holding train.bin.
  static bool IsPrepared(const std::string& path);

  uint32_t vocab_size() const { return vocab_size_; }
  // "byte", "bpe", another tool's name from meta.json, or "" when unknown.
  const std::string& tokenizer() const { return tokenizer_; }
  uint64_t train_size() const { return train_.size(); }
  uint64_t val_size() const { return val_.size(); }
  const TokenSequence& train() const { return train_; }
  const TokenSequence& val() const { return val_; }
  const DatasetStats& stats() const { return stats_; }
  const std::string& directory() const { return directory_; }

  // Fills `out` with `n_windows` random windows of `window` consecutive
  // training tokens (row-major, n_windows x window). Requires window <=
  // train_size().
  void SampleTrainWindows(std::mt19937_64& rng, uint32_t n_windows, uint32_t window,
                          std::vector<int64_t>& out) const;

  // The fixed validation set: `n_windows` windows of `window` tokens at evenly
  // spaced offsets of the validation tokens, the same on every call.
  // Requires window <= val_size().
  void ValidationWindows(uint32_t n_windows, uint32_t window, std::vector<int64_t>& out) const;

 private:
  static absl::StatusOr<TokenDataset> LoadPrepared(const std::string& directory,
                                                   uint32_t vocab_size);
  static absl::StatusOr<TokenDataset> LoadText(const std::string& directory, double val_fraction,
                                               std::string_view tokenizer);

  std::string directory_;
  std::string tokenizer_;
  uint32_t vocab_size_ = 0;
  TokenSequence train_;
  TokenSequence val_;
  DatasetStats stats_;
};

// The vocabulary models trained on `path` need, without loading its tokens
// when meta.json says it: meta.json's vocab_size; for a directory with
// train.bin and no meta.json, the largest id + 1; otherwise (a text
// directory, or a path this machine does not hold) the tokenizer's, 256 for
// "byte". Errors as TokenDataset::Load.
absl::StatusOr<uint32_t> DataVocabSize(const std::string& path, std::string_view tokenizer);

// Entropy in nats of the distribution of `tokens` (ids < vocab_size).
double UnigramEntropy(const TokenSequence& tokens, uint32_t vocab_size);

}  // namespace scalelaw::data
