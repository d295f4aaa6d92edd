// `scalelaw data prepare`: text files to a prepared data directory (train.bin,
// val.bin, meta.json and, for BPE, tokenizer.json; see data/prepare.h) that
// `scalelaw train --data DIR` and sweeps (data.corpus: DIR) train on.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/commands.h"
#include "data/prepare.h"
#include "data/tokenizer.h"

namespace scalelaw::cli {
namespace {

struct PrepareFlags {
  std::vector<std::string> inputs;
  std::string out;
  std::string tokenizer = "byte";
  uint32_t vocab_size = 0;
  double val_fraction = 0.05;
};

// The flag a bad value came from and why, or "" when the flags are usable.
std::string CheckFlags(const PrepareFlags& flags) {
  for (const std::string& input : flags.inputs) {
    std::error_code ec;
    if (!std::filesystem::exists(input, ec)) {
      return "--input " + input + ": no such file or directory";
    }
  }
  if (flags.tokenizer != "byte" && flags.tokenizer != "bpe") {
    return "--tokenizer: expected byte or bpe, got '" + flags.tokenizer + "'";
  }
  if (flags.tokenizer == "bpe" && flags.vocab_size == 0) {
    return "--vocab-size: required with --tokenizer bpe (e.g. 4096)";
  }
  if (flags.tokenizer == "bpe" &&
      (flags.vocab_size <= data::kByteVocabSize || flags.vocab_size > data::kMaxVocabSize)) {
    return "--vocab-size: must be in [257, " + std::to_string(data::kMaxVocabSize) +
           "] for bpe (256 bytes + at least one merge), got " + std::to_string(flags.vocab_size);
  }
  if (flags.tokenizer == "byte" && flags.vocab_size != 0 &&
      flags.vocab_size != data::kByteVocabSize) {
    return "--vocab-size: the byte tokenizer has 256 tokens, got " +
           std::to_string(flags.vocab_size) + " (use --tokenizer bpe for another size)";
  }
  if (!(flags.val_fraction > 0.0 && flags.val_fraction < 1.0)) {
    char value[32];
    std::snprintf(value, sizeof(value), "%g", flags.val_fraction);
    return std::string("--val-fraction: must be in (0, 1), got ") + value;
  }
  return "";
}

void PrintSummary(const std::string& out, const data::PrepareSummary& summary) {
  const data::DatasetMeta& m = summary.meta;
  auto per_token = [](uint64_t bytes, uint64_t tokens) {
    return tokens == 0 ? 0.0 : static_cast<double>(bytes) / static_cast<double>(tokens);
  };
  std::printf("prepared     %s: tokenizer %s, vocab %u, dtype %s\n", out.c_str(),
              m.tokenizer.c_str(), m.vocab_size, std::string(data::DtypeName(m.dtype)).c_str());
  std::printf("documents    %llu (%llu train, %llu validation; val_fraction %g)\n",
              static_cast<unsigned long long>(m.documents),
              static_cast<unsigned long long>(m.train_documents),
              static_cast<unsigned long long>(m.val_documents), m.val_fraction);
  std::printf("train        %llu tokens from %llu bytes (%.3f bytes/token)\n",
              static_cast<unsigned long long>(m.train_tokens),
              static_cast<unsigned long long>(m.train_bytes),
              per_token(m.train_bytes, m.train_tokens));
  std::printf("validation   %llu tokens from %llu bytes (%.3f bytes/token)\n",
              static_cast<unsigned long long>(m.val_tokens),
              static_cast<unsigned long long>(m.val_bytes), per_token(m.val_bytes, m.val_tokens));
  if (m.tokenizer == "bpe") {
    std::printf("bpe          %u merges learned from %llu distinct chunks in %.2f s\n",
                m.vocab_size - data::kByteVocabSize,
                static_cast<unsigned long long>(summary.distinct_chunks),
                summary.tokenizer_seconds);
  }
  std::printf("encoded      in %.2f s\n", summary.encode_seconds);
}

int RunPrepare(const PrepareFlags& flags) {
  if (const std::string problem = CheckFlags(flags); !problem.empty()) {
    std::fprintf(stderr, "error: %s\n", problem.c_str());
    return 2;
  }
  data::PrepareOptions options;
  options.inputs = flags.inputs;
  options.out_dir = flags.out;
  options.tokenizer = flags.tokenizer;
  options.vocab_size = flags.vocab_size;
  options.val_fraction = flags.val_fraction;
  absl::StatusOr<data::PrepareSummary> summary = data::PrepareDataset(options);
  if (!summary.ok()) {
    std::fprintf(stderr, "error: data prepare: %s\n",
                 std::string(summary.status().message()).c_str());
    const absl::StatusCode code = summary.status().code();
    return code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kNotFound ||
                   code == absl::StatusCode::kFailedPrecondition
               ? 2
               : 1;
  }
  PrintSummary(flags.out, *summary);
  return 0;
}

}  // namespace

void AddDataCommand(CLI::App& app, int* exit_code) {
  CLI::App* data_cmd = AddSubcommand(
      app, "data", "Training data: tokenize text into token files",
      "Prepare training data: text files to train.bin / val.bin (nanoGPT layout)\n"
      "and meta.json, for `scalelaw train --data DIR` and sweeps (data.corpus).\n\n"
      "Example: scalelaw data prepare --input /usr/share/doc/python3.11/html/_sources "
      "--out runs/pydoc-bpe4k --tokenizer bpe --vocab-size 4096");
  data_cmd->require_subcommand(1);
  auto flags = std::make_shared<PrepareFlags>();
  CLI::App* prepare = AddSubcommand(
      *data_cmd, "prepare", "Tokenize text files into train.bin, val.bin and meta.json",
      "Every non-empty file under the inputs is a document; a document goes to validation\n"
      "iff FNV-1a of its relative path falls below --val-fraction, so the splits are disjoint\n"
      "and reproducible. The byte tokenizer maps byte i to token i (vocabulary 256); bpe\n"
      "trains a byte-level BPE of exactly --vocab-size tokens on the training documents only\n"
      "(merges in DIR/tokenizer.json). Tokens are little-endian uint16 (uint32 above 65,536\n"
      "tokens, said in meta.json's dtype); meta.json also records vocab_size, tokenizer,\n"
      "train_tokens, val_tokens, val_fraction, document counts and inputs.\n\n"
      "Example: scalelaw data prepare --input /usr/share/doc/python3.11/html/_sources \\\n"
      "           --out runs/pydoc-bpe4k --tokenizer bpe --vocab-size 4096");
  prepare->add_option("--input", flags->inputs, "text files or directories (read recursively)")
      ->required()
      ->expected(1, -1);
  prepare->add_option("--out", flags->out, "output directory (created; its token files replaced)")
      ->required();
  prepare->add_option("--tokenizer", flags->tokenizer, "byte (default) or bpe");
  prepare->add_option("--vocab-size", flags->vocab_size,
                      "bpe: exact vocabulary size, > 256 (e.g. 4096)");
  prepare->add_option("--val-fraction", flags->val_fraction,
                      "expected share of documents held out for validation (default 0.05)");
  prepare->callback([flags, exit_code] { *exit_code = RunPrepare(*flags); });
}

}  // namespace scalelaw::cli
