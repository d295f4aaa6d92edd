// Token files and the prepared directory they sit in. The input is
//   byte 0      flags: bit 0 dtype (uint16 / uint32), bit 1 write a meta.json
//   bytes 1-4   vocab_size for that meta.json (little-endian); without one
//               the directory is nanoGPT's (uint16, vocabulary = largest id + 1)
//   the rest    train.bin; its second half is also val.bin
// written to a directory made once per process (the readers take paths),
// then read by ReadTokenFile and TokenDataset::Load, whose windows are drawn.
// Any input may be refused with an error; none may crash.
#include <stdlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>

#include "data/meta.h"
#include "data/token_dataset.h"
#include "data/token_file.h"

namespace {

namespace fs = std::filesystem;
using namespace scalelaw::data;

const fs::path& Directory() {
  static const fs::path dir = [] {
    std::string pattern = (fs::temp_directory_path() / "scalelaw-fuzz-tokens-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(Directory(), ignored);
    });
    return fs::path(pattern);
  }();
  return dir;
}

void Write(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) std::abort();
}

void ReadBack(const TokenSequence& tokens) {
  (void)tokens.Max();
  const uint64_t n = std::min<uint64_t>(tokens.size(), 4096);
  std::vector<int64_t> copy(n);
  if (n > 0) tokens.CopyTo(tokens.size() - n, n, copy.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const TokenDtype dtype = (data[0] & 1) ? TokenDtype::kUint32 : TokenDtype::kUint16;
  const bool with_meta = (data[0] & 2) != 0;
  const uint32_t vocab = uint32_t{data[1]} | uint32_t{data[2]} << 8 | uint32_t{data[3]} << 16 |
                         uint32_t{data[4]} << 24;
  const std::string_view train(reinterpret_cast<const char*>(data) + 5, size - 5);
  const std::string_view val = train.substr(train.size() / 2);

  const fs::path& dir = Directory();
  Write(dir / kTrainFileName, train);
  Write(dir / kValFileName, val);
  std::error_code ignored;
  fs::remove(dir / kMetaFileName, ignored);

  absl::StatusOr<TokenSequence> read = ReadTokenFile((dir / kTrainFileName).string(), dtype);
  if (read.ok()) {
    if (read->size() * BytesPerToken(dtype) != train.size()) std::abort();
    ReadBack(*read);
  }

  if (with_meta) {
    DatasetMeta meta;
    meta.tokenizer = "fuzz";
    meta.vocab_size = vocab;
    meta.dtype = dtype;
    meta.train_tokens = train.size() / BytesPerToken(dtype);
    meta.val_tokens = val.size() / BytesPerToken(dtype);
    Write(dir / kMetaFileName, DatasetMetaToJson(meta));
  }
  (void)DataVocabSize(dir.string(), "byte");
  absl::StatusOr<TokenDataset> dataset =
      TokenDataset::Load(dir.string(), /*val_fraction=*/0.1, "byte");
  if (!dataset.ok()) return 0;
  ReadBack(dataset->train());
  ReadBack(dataset->val());
  const uint32_t window =
      static_cast<uint32_t>(std::min<uint64_t>({8, dataset->train_size(), dataset->val_size()}));
  if (window == 0) return 0;
  std::mt19937_64 rng(size);
  std::vector<int64_t> windows;
  dataset->SampleTrainWindows(rng, 4, window, windows);
  dataset->ValidationWindows(4, window, windows);
  for (int64_t id : windows) {
    if (id < 0 || id >= static_cast<int64_t>(dataset->vocab_size())) std::abort();
  }
  return 0;
}
