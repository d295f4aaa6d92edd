// `scalelaw data prepare`: text files to a prepared data directory.
//
// Lists the documents of the inputs and splits them (data/text_documents.h),
// builds the tokenizer (bytes, or BPE trained on the training documents
// only), encodes every document and writes train.bin, val.bin, meta.json and,
// for BPE, tokenizer.json (data/meta.h). Files are written to a staging
// directory beside the output and moved into place when complete; meta.json
// is moved last, so a directory with a meta.json is always whole. A new or
// empty output directory is replaced by the staging directory in one rename.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/meta.h"

namespace scalelaw::data {

struct PrepareOptions {
  std::vector<std::string> inputs;  // text files and directories (read recursively)
  std::string out_dir;
  std::string tokenizer = "byte";  // "byte" or "bpe"
  uint32_t vocab_size = 0;         // bpe: the exact vocabulary, > 256; byte: 0 or 256
  double val_fraction = 0.05;      // expected share of documents held out, in (0, 1)
};

struct PrepareSummary {
  DatasetMeta meta;                // as written to meta.json
  double tokenizer_seconds = 0.0;  // counting chunks and learning merges (bpe)
  double encode_seconds = 0.0;     // encoding and writing both splits
  uint64_t distinct_chunks = 0;    // bpe: distinct pre-tokenised chunks of the training text
};

// InvalidArgument naming the field (tokenizer, vocab_size, val_fraction,
// inputs, out_dir) and the reason.
absl::Status ValidatePrepareOptions(const PrepareOptions& options);

// Errors: as ValidatePrepareOptions; NotFound for a missing input;
// FailedPrecondition when the inputs hold no text, one split is empty, BPE
// runs out of pairs before vocab_size, or out_dir is not a directory;
// Unavailable for I/O errors.
absl::StatusOr<PrepareSummary> PrepareDataset(const PrepareOptions& options);

}  // namespace scalelaw::data
