#include "data/prepare.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "data/bpe_trainer.h"
#include "data/byte_tokenizer.h"
#include "data/text_documents.h"

namespace scalelaw::data {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

absl::Status WriteTextFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write \"", path.string(), "\""));
  return absl::OkStatus();
}

// Removes the staging directory unless it was moved into place.
class StagingDirectory {
 public:
  explicit StagingDirectory(fs::path path) : path_(std::move(path)) {}
  ~StagingDirectory() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  void Release() { path_.clear(); }

 private:
  fs::path path_;
};

// Moves the staged files into `out`: the whole directory in one rename when
// `out` is missing or empty, else file by file with meta.json last (and the
// old meta.json removed first, so a half-replaced directory has none).
absl::Status Publish(StagingDirectory& staging, const fs::path& out) {
  std::error_code ec;
  if (!fs::exists(out, ec) || (fs::is_directory(out, ec) && fs::is_empty(out, ec))) {
    fs::rename(staging.path(), out, ec);
    if (!ec) {
      staging.Release();
      return absl::OkStatus();
    }
  }
  ec.clear();
  if (!fs::is_directory(out, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("out_dir: \"", out.string(), "\" exists and is not a directory"));
  }
  fs::remove(out / kMetaFileName, ec);
  fs::remove(out / kTokenizerFileName, ec);
  for (const char* name : {kTrainFileName, kValFileName, kTokenizerFileName, kMetaFileName}) {
    if (!fs::exists(staging.path() / name)) continue;
    fs::rename(staging.path() / name, out / name, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("moving \"", name, "\" into \"", out.string(), "\": ", ec.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePrepareOptions(const PrepareOptions& options) {
  if (options.inputs.empty()) {
    return absl::InvalidArgumentError("inputs: name at least one text file or directory");
  }
  if (options.out_dir.empty()) return absl::InvalidArgumentError("out_dir: must not be empty");
  if (options.tokenizer == "byte") {
    if (options.vocab_size != 0 && options.vocab_size != kByteVocabSize) {
      return absl::InvalidArgumentError(
          absl::StrCat("vocab_size: the byte tokenizer has 256 tokens, got ", options.vocab_size));
    }
  } else if (options.tokenizer == "bpe") {
    if (options.vocab_size <= kByteVocabSize || options.vocab_size > kMaxVocabSize) {
      return absl::InvalidArgumentError(absl::StrCat(
          "vocab_size: bpe needs a vocabulary in [", kByteVocabSize + 1, ", ", kMaxVocabSize,
          "] (256 bytes + at least one merge), got ", options.vocab_size));
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer: expected \"byte\" or \"bpe\", got \"", options.tokenizer, "\""));
  }
  if (!(options.val_fraction > 0.0 && options.val_fraction < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("val_fraction: must be in (0, 1), got ", options.val_fraction));
  }
  return absl::OkStatus();
}

absl::StatusOr<PrepareSummary> PrepareDataset(const PrepareOptions& options) {
  SCALELAW_RETURN_IF_ERROR(ValidatePrepareOptions(options));
  absl::StatusOr<std::vector<TextDocument>> listed =
      ListTextDocuments(options.inputs, options.val_fraction);
  if (!listed.ok()) {
    return absl::Status(listed.status().code(),
                        absl::StrCat("inputs: ", listed.status().message()));
  }
  const std::vector<TextDocument>& documents = *listed;
  PrepareSummary summary;
  DatasetMeta& meta = summary.meta;
  meta.tokenizer = options.tokenizer;
  meta.val_fraction = options.val_fraction;
  meta.inputs = options.inputs;
  for (const TextDocument& doc : documents) {
    ++meta.documents;
    ++(doc.validation ? meta.val_documents : meta.train_documents);
  }
  if (meta.documents == 0) {
    return absl::FailedPreconditionError("inputs: hold no non-empty files");
  }
  if (meta.train_documents == 0 || meta.val_documents == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "inputs: ", meta.documents, " documents gave ", meta.train_documents, " training and ",
        meta.val_documents, " validation documents at val_fraction ", options.val_fraction,
        "; both splits need at least one (add documents or change val_fraction)"));
  }

  // Stage beside the output so the final renames stay on one file system.
  fs::path out = fs::path(options.out_dir).lexically_normal();
  if (out.filename().empty()) out = out.parent_path();
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("out_dir: \"", out.string(), "\" exists and is not a directory"));
  }
  const fs::path parent = out.has_parent_path() ? out.parent_path() : fs::path(".");
  fs::create_directories(parent, ec);
  StagingDirectory staging(parent /
                           absl::StrCat(".", out.filename().string(), ".tmp-", ::getpid()));
  fs::remove_all(staging.path(), ec);
  if (!fs::create_directory(staging.path(), ec)) {
    return absl::UnavailableError(
        absl::StrCat("out_dir: cannot create \"", staging.path().string(), "\": ", ec.message()));
  }

  // Tokenizer: bytes, or BPE learned from the training documents only.
  const auto tokenizer_start = Clock::now();
  std::unique_ptr<Tokenizer> tokenizer;
  if (options.tokenizer == "bpe") {
    BpeTrainer trainer;
    for (const TextDocument& doc : documents) {
      if (doc.validation) continue;
      SCALELAW_ASSIGN_OR_RETURN(const std::string text, ReadTextDocument(doc));
      trainer.AddText(text);
    }
    summary.distinct_chunks = trainer.distinct_chunks();
    SCALELAW_ASSIGN_OR_RETURN(BpeTokenizer bpe, trainer.Train(options.vocab_size));
    SCALELAW_RETURN_IF_ERROR(WriteTextFile(staging.path() / kTokenizerFileName, bpe.ToJson()));
    meta.tokenizer_file = kTokenizerFileName;
    tokenizer = std::make_unique<BpeTokenizer>(std::move(bpe));
  } else {
    tokenizer = std::make_unique<ByteTokenizer>();
  }
  summary.tokenizer_seconds = SecondsSince(tokenizer_start);
  meta.vocab_size = tokenizer->vocab_size();
  meta.dtype = DtypeForVocab(meta.vocab_size);

  // Both splits, document by document, in listing order.
  const auto encode_start = Clock::now();
  SCALELAW_ASSIGN_OR_RETURN(
      TokenFileWriter train,
      TokenFileWriter::Create((staging.path() / kTrainFileName).string(), meta.dtype));
  SCALELAW_ASSIGN_OR_RETURN(
      TokenFileWriter val,
      TokenFileWriter::Create((staging.path() / kValFileName).string(), meta.dtype));
  std::vector<uint32_t> tokens;
  for (const TextDocument& doc : documents) {
    SCALELAW_ASSIGN_OR_RETURN(const std::string text, ReadTextDocument(doc));
    tokens.clear();
    tokenizer->Encode(text, tokens);
    SCALELAW_RETURN_IF_ERROR((doc.validation ? val : train).Append(tokens));
    (doc.validation ? meta.val_bytes : meta.train_bytes) += text.size();
  }
  SCALELAW_RETURN_IF_ERROR(train.Close());
  SCALELAW_RETURN_IF_ERROR(val.Close());
  meta.train_tokens = train.tokens_written();
  meta.val_tokens = val.tokens_written();
  summary.encode_seconds = SecondsSince(encode_start);

  SCALELAW_RETURN_IF_ERROR(WriteTextFile(staging.path() / kMetaFileName, DatasetMetaToJson(meta)));
  SCALELAW_RETURN_IF_ERROR(Publish(staging, out));
  return summary;
}

}  // namespace scalelaw::data
