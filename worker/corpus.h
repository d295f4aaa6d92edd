// A byte-level text corpus split into training and validation streams.
//
// Every regular file under the corpus directory is a document. Documents are
// read recursively in sorted path order and tokenised byte by byte (vocabulary
// 256). A document goes to validation iff FNV-1a of its relative path maps
// below val_fraction, so the split is disjoint, independent of the other files
// and reproducible on every machine that holds the same tree.
//
// Thread safety: a loaded Corpus is immutable; its const methods may be called
// from any number of threads.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace scalelaw::worker {

inline constexpr uint32_t kByteVocabSize = 256;

struct CorpusStats {
  uint64_t documents = 0;
  uint64_t train_documents = 0;
  uint64_t val_documents = 0;
  uint64_t train_tokens = 0;
  uint64_t val_tokens = 0;
  // Entropy of the validation split's byte distribution, nats/token: the loss
  // of the best model that ignores context, a reference line for curves.
  double val_unigram_entropy = 0.0;
};

class Corpus {
 public:
  // Reads `directory` (recursively). Errors: NotFound when the directory does
  // not exist, InvalidArgument when val_fraction is outside (0, 1) or the
  // tokenizer is not "byte", FailedPrecondition when the corpus holds no text
  // or one of the splits ends up empty.
  static absl::StatusOr<Corpus> Load(const std::string& directory, double val_fraction,
                                     std::string_view tokenizer = "byte");

  // True when the document at `relative_path` (generic form, '/' separated)
  // belongs to the validation split.
  static bool IsValidationDocument(std::string_view relative_path, double val_fraction);

  const std::vector<uint8_t>& train_tokens() const { return train_; }
  const std::vector<uint8_t>& val_tokens() const { return val_; }
  const CorpusStats& stats() const { return stats_; }
  const std::string& directory() const { return directory_; }

  // Fills `out` with `n_windows` random windows of `window` consecutive
  // training tokens (row-major, n_windows x window). Requires window <=
  // train_tokens().size().
  void SampleTrainWindows(std::mt19937_64& rng, uint32_t n_windows, uint32_t window,
                          std::vector<int64_t>& out) const;

  // The fixed validation set: `n_windows` windows of `window` tokens at evenly
  // spaced offsets of the validation stream, the same on every call.
  // Requires window <= val_tokens().size().
  void ValidationWindows(uint32_t n_windows, uint32_t window, std::vector<int64_t>& out) const;

 private:
  std::string directory_;
  std::vector<uint8_t> train_;
  std::vector<uint8_t> val_;
  CorpusStats stats_;
};

// FNV-1a, 64 bits (Fowler, Noll, Vo): stable across platforms and releases.
uint64_t Fnv1a64(std::string_view bytes);

// Entropy in nats of the byte distribution of `tokens`.
double UnigramEntropy(const std::vector<uint8_t>& tokens);

}  // namespace scalelaw::worker
