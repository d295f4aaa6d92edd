#include "data/tokenizer.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "data/bpe_tokenizer.h"
#include "data/byte_tokenizer.h"
#include "data/meta.h"

namespace scalelaw::data {

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& directory) {
  const std::filesystem::path dir(directory);
  const std::string meta_path = (dir / kMetaFileName).string();
  SCALELAW_ASSIGN_OR_RETURN(const DatasetMeta meta, ReadDatasetMeta(meta_path));
  std::unique_ptr<Tokenizer> tokenizer;
  if (meta.tokenizer == "byte") {
    tokenizer = std::make_unique<ByteTokenizer>();
  } else if (meta.tokenizer == "bpe") {
    const std::string file = meta.tokenizer_file.empty() ? kTokenizerFileName : meta.tokenizer_file;
    SCALELAW_ASSIGN_OR_RETURN(BpeTokenizer bpe, BpeTokenizer::ReadFile((dir / file).string()));
    tokenizer = std::make_unique<BpeTokenizer>(std::move(bpe));
  } else {
    return absl::InvalidArgumentError(absl::StrCat(meta_path, ": tokenizer: \"", meta.tokenizer,
                                                   "\" is not one scalelaw can load (byte, bpe)"));
  }
  if (tokenizer->vocab_size() != meta.vocab_size) {
    return absl::DataLossError(absl::StrCat(meta_path, ": vocab_size ", meta.vocab_size,
                                            " but the ", meta.tokenizer, " tokenizer has ",
                                            tokenizer->vocab_size(), " tokens"));
  }
  return tokenizer;
}

}  // namespace scalelaw::data
