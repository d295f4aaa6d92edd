#include "data/token_dataset.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "data/meta.h"
#include "data/text_documents.h"

namespace scalelaw::data {
namespace fs = std::filesystem;
namespace {

// "data.corpus: " before a message from a lower layer, keeping its code.
absl::Status Prefixed(const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("data.corpus: ", status.message()));
}

absl::Status CheckTokenizerForText(std::string_view tokenizer) {
  if (tokenizer.empty() || tokenizer == "byte") return absl::OkStatus();
  if (tokenizer == "bpe") {
    return absl::InvalidArgumentError(
        "data.tokenizer: a text directory is read as bytes; for \"bpe\" prepare it first "
        "(scalelaw data prepare --input DIR --out OUT --tokenizer bpe --vocab-size V) and "
        "train on OUT");
  }
  return absl::InvalidArgumentError(absl::StrCat("data.tokenizer: unknown tokenizer \"",
                                                 std::string(tokenizer),
                                                 "\"; expected \"byte\" for a text directory"));
}

// Maps DIR/name, naming the file when it is missing.
absl::StatusOr<TokenSequence> MapSplit(const fs::path& directory, const char* name,
                                       TokenDtype dtype) {
  const fs::path path = directory / name;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return absl::NotFoundError(
        absl::StrCat("data.corpus: \"", path.string(),
                     "\" is missing: a prepared directory holds train.bin and val.bin"));
  }
  absl::StatusOr<TokenSequence> tokens = ReadTokenFile(path.string(), dtype);
  if (!tokens.ok()) return Prefixed(tokens.status());
  if (tokens->empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("data.corpus: \"", path.string(), "\" holds no tokens (empty split)"));
  }
  return tokens;
}

}  // namespace

double UnigramEntropy(const TokenSequence& tokens, uint32_t vocab_size) {
  if (tokens.empty()) return 0.0;
  std::vector<uint64_t> counts(vocab_size, 0);
  for (uint64_t i = 0; i < tokens.size(); ++i) ++counts[tokens[i]];
  const double n = static_cast<double>(tokens.size());
  double entropy = 0.0;
  for (uint64_t c : counts) {
    if (c == 0) continue;
    const double p = static_cast<double>(c) / n;
    entropy -= p * std::log(p);
  }
  return entropy;
}

bool TokenDataset::IsPrepared(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::exists(fs::path(path) / kTrainFileName, ec);
}

absl::StatusOr<TokenDataset> TokenDataset::Load(const std::string& path, double val_fraction,
                                                std::string_view tokenizer, uint32_t vocab_size) {
  if (IsPrepared(path)) return LoadPrepared(path, vocab_size);
  return LoadText(path, val_fraction, tokenizer);
}

absl::StatusOr<TokenDataset> TokenDataset::LoadPrepared(const std::string& directory,
                                                        uint32_t vocab_size) {
  const fs::path dir(directory);
  TokenDataset dataset;
  dataset.directory_ = directory;
  const fs::path meta_path = dir / kMetaFileName;
  std::error_code ec;
  const bool has_meta = fs::exists(meta_path, ec);
  DatasetMeta meta;
  if (has_meta) {
    absl::StatusOr<DatasetMeta> read = ReadDatasetMeta(meta_path.string());
    if (!read.ok()) return Prefixed(read.status());
    meta = *std::move(read);
  }
  const TokenDtype dtype = has_meta ? meta.dtype : TokenDtype::kUint16;  // nanoGPT's
  SCALELAW_ASSIGN_OR_RETURN(dataset.train_, MapSplit(dir, kTrainFileName, dtype));
  SCALELAW_ASSIGN_OR_RETURN(dataset.val_, MapSplit(dir, kValFileName, dtype));
  if (has_meta &&
      (meta.train_tokens != dataset.train_.size() || meta.val_tokens != dataset.val_.size())) {
    return absl::DataLossError(
        absl::StrCat("data.corpus: \"", meta_path.string(), "\" says train_tokens ",
                     meta.train_tokens, " and val_tokens ", meta.val_tokens, " but the ",
                     std::string(DtypeName(dtype)), " files hold ", dataset.train_.size(), " and ",
                     dataset.val_.size(), " (files replaced after meta.json was written?)"));
  }

  const TokenSequence::MaxToken train_max = dataset.train_.Max();
  const TokenSequence::MaxToken val_max = dataset.val_.Max();
  std::string vocab_source = "meta.json";
  if (has_meta) {
    dataset.vocab_size_ = meta.vocab_size;
    dataset.tokenizer_ = meta.tokenizer;
  } else if (vocab_size > 0) {
    dataset.vocab_size_ = vocab_size;
    vocab_source = "given";
  } else {
    dataset.vocab_size_ = std::max(train_max.id, val_max.id) + 1;
    vocab_source = "largest id + 1";
  }
  for (const auto& [name, max] :
       {std::pair{kTrainFileName, train_max}, std::pair{kValFileName, val_max}}) {
    if (max.id >= dataset.vocab_size_) {
      return absl::DataLossError(absl::StrCat(
          "data.corpus: \"", (dir / name).string(), "\": token id ", max.id, " at position ",
          max.index, " >= vocab_size ", dataset.vocab_size_, " (", vocab_source, ")"));
    }
  }

  DatasetStats& stats = dataset.stats_;
  stats.documents = meta.documents;
  stats.train_documents = meta.train_documents;
  stats.val_documents = meta.val_documents;
  stats.train_tokens = dataset.train_.size();
  stats.val_tokens = dataset.val_.size();
  stats.val_unigram_entropy = UnigramEntropy(dataset.val_, dataset.vocab_size_);
  return dataset;
}

absl::StatusOr<TokenDataset> TokenDataset::LoadText(const std::string& directory,
                                                    double val_fraction,
                                                    std::string_view tokenizer) {
  SCALELAW_RETURN_IF_ERROR(CheckTokenizerForText(tokenizer));
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
  absl::StatusOr<std::vector<TextDocument>> documents =
      ListTextDocuments({directory}, val_fraction);
  if (!documents.ok()) return Prefixed(documents.status());

  TokenDataset dataset;
  dataset.directory_ = directory;
  dataset.tokenizer_ = "byte";
  dataset.vocab_size_ = kByteVocabSize;
  std::vector<uint8_t> train, val;
  DatasetStats& stats = dataset.stats_;
  for (const TextDocument& doc : *documents) {
    absl::StatusOr<std::string> text = ReadTextDocument(doc);
    if (!text.ok()) return Prefixed(text.status());
    std::vector<uint8_t>& split = doc.validation ? val : train;
    split.insert(split.end(), text->begin(), text->end());
    ++stats.documents;
    ++(doc.validation ? stats.val_documents : stats.train_documents);
  }
  if (stats.documents == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("data.corpus: \"", directory, "\" holds no non-empty files"));
  }
  if (train.empty() || val.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data.corpus: \"", directory, "\": ", stats.documents, " documents gave ",
        stats.train_documents, " training and ", stats.val_documents,
        " validation documents at val_fraction ", val_fraction, "; both splits need text"));
  }
  dataset.train_ = TokenSequence::FromBytes(std::move(train));
  dataset.val_ = TokenSequence::FromBytes(std::move(val));
  stats.train_tokens = dataset.train_.size();
  stats.val_tokens = dataset.val_.size();
  stats.val_unigram_entropy = UnigramEntropy(dataset.val_, dataset.vocab_size_);
  return dataset;
}

void TokenDataset::SampleTrainWindows(std::mt19937_64& rng, uint32_t n_windows, uint32_t window,
                                      std::vector<int64_t>& out) const {
  out.resize(uint64_t{n_windows} * window);
  // rng() % range rather than std::uniform_int_distribution: the latter's
  // output differs between standard libraries, this is the same everywhere.
  const uint64_t starts = train_.size() - window + 1;
  for (uint32_t i = 0; i < n_windows; ++i) {
    train_.CopyTo(rng() % starts, window, out.data() + uint64_t{i} * window);
  }
}

void TokenDataset::ValidationWindows(uint32_t n_windows, uint32_t window,
                                     std::vector<int64_t>& out) const {
  out.resize(uint64_t{n_windows} * window);
  const uint64_t last_start = val_.size() - window;
  for (uint32_t i = 0; i < n_windows; ++i) {
    const uint64_t start = n_windows == 1 ? 0 : last_start * i / (n_windows - 1);
    val_.CopyTo(start, window, out.data() + uint64_t{i} * window);
  }
}

absl::StatusOr<uint32_t> DataVocabSize(const std::string& path, std::string_view tokenizer) {
  if (!TokenDataset::IsPrepared(path)) {
    SCALELAW_RETURN_IF_ERROR(CheckTokenizerForText(tokenizer));
    return kByteVocabSize;
  }
  const fs::path meta_path = fs::path(path) / kMetaFileName;
  std::error_code ec;
  if (fs::exists(meta_path, ec)) {
    absl::StatusOr<DatasetMeta> meta = ReadDatasetMeta(meta_path.string());
    if (!meta.ok()) return Prefixed(meta.status());
    return meta->vocab_size;
  }
  SCALELAW_ASSIGN_OR_RETURN(const TokenDataset dataset, TokenDataset::Load(path, 0.05));
  return dataset.vocab_size();
}

}  // namespace scalelaw::data
