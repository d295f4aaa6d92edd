#include "worker/corpus.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace scalelaw::worker {
namespace fs = std::filesystem;

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t hash = 14695981039346656037ull;  // FNV offset basis
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;  // FNV prime
  }
  return hash;
}

double UnigramEntropy(const std::vector<uint8_t>& tokens) {
  if (tokens.empty()) return 0.0;
  std::array<uint64_t, kByteVocabSize> counts{};
  for (uint8_t t : tokens) ++counts[t];
  const double n = static_cast<double>(tokens.size());
  double entropy = 0.0;
  for (uint64_t c : counts) {
    if (c == 0) continue;
    const double p = static_cast<double>(c) / n;
    entropy -= p * std::log(p);
  }
  return entropy;
}

bool Corpus::IsValidationDocument(std::string_view relative_path, double val_fraction) {
  // The top 53 bits of the hash as a uniform double in [0, 1).
  const double u = static_cast<double>(Fnv1a64(relative_path) >> 11) * 0x1.0p-53;
  return u < val_fraction;
}

absl::StatusOr<Corpus> Corpus::Load(const std::string& directory, double val_fraction,
                                    std::string_view tokenizer) {
  if (tokenizer != "byte") {
    return absl::InvalidArgumentError(absl::StrCat(
        "data.tokenizer: only \"byte\" is supported, got \"", std::string(tokenizer), "\""));
  }
  if (!(val_fraction > 0.0 && val_fraction < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("data.val_fraction: must be in (0, 1), got ", val_fraction));
  }
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) {
    return absl::NotFoundError(absl::StrCat(
        "data.corpus: \"", directory,
        "\" is not a directory (the default corpus comes from Debian's python3.11-doc)"));
  }

  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator
           it(directory, fs::directory_options::skip_permission_denied, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) files.push_back(it->path());
  }
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("data.corpus: reading \"", directory, "\": ", ec.message()));
  }
  std::sort(files.begin(), files.end());

  Corpus corpus;
  corpus.directory_ = directory;
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return absl::UnavailableError(
          absl::StrCat("data.corpus: cannot read \"", file.string(), "\""));
    }
    const std::string relative = file.lexically_relative(directory).generic_string();
    const bool val = IsValidationDocument(relative, val_fraction);
    std::vector<uint8_t>& stream = val ? corpus.val_ : corpus.train_;
    const size_t before = stream.size();
    stream.insert(stream.end(), std::istreambuf_iterator<char>(in),
                  std::istreambuf_iterator<char>());
    if (stream.size() == before) continue;  // empty files are not documents
    ++corpus.stats_.documents;
    ++(val ? corpus.stats_.val_documents : corpus.stats_.train_documents);
  }

  if (corpus.stats_.documents == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("data.corpus: \"", directory, "\" holds no non-empty files"));
  }
  if (corpus.train_.empty() || corpus.val_.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data.corpus: \"", directory, "\": ", corpus.stats_.documents, " documents gave ",
        corpus.stats_.train_documents, " training and ", corpus.stats_.val_documents,
        " validation documents at val_fraction ", val_fraction, "; both splits need text"));
  }
  corpus.stats_.train_tokens = corpus.train_.size();
  corpus.stats_.val_tokens = corpus.val_.size();
  corpus.stats_.val_unigram_entropy = UnigramEntropy(corpus.val_);
  return corpus;
}

void Corpus::SampleTrainWindows(std::mt19937_64& rng, uint32_t n_windows, uint32_t window,
                                std::vector<int64_t>& out) const {
  out.resize(uint64_t{n_windows} * window);
  // rng() % range rather than std::uniform_int_distribution: the latter's
  // output differs between standard libraries, this is the same everywhere.
  const uint64_t starts = train_.size() - window + 1;
  int64_t* dst = out.data();
  for (uint32_t i = 0; i < n_windows; ++i) {
    const uint8_t* src = train_.data() + rng() % starts;
    dst = std::copy(src, src + window, dst);
  }
}

void Corpus::ValidationWindows(uint32_t n_windows, uint32_t window,
                               std::vector<int64_t>& out) const {
  out.resize(uint64_t{n_windows} * window);
  const uint64_t last_start = val_.size() - window;
  int64_t* dst = out.data();
  for (uint32_t i = 0; i < n_windows; ++i) {
    const uint64_t start = n_windows == 1 ? 0 : last_start * i / (n_windows - 1);
    const uint8_t* src = val_.data() + start;
    dst = std::copy(src, src + window, dst);
  }
}

}  // namespace scalelaw::worker
