// Token files in nanoGPT's layout: a flat array of little-endian unsigned
// token ids, no header. uint16 holds vocabularies up to 65,536 (nanoGPT's
// train.bin / val.bin); uint32 the rest. The dtype is not in the file: a
// prepared directory's meta.json says it, a bare nanoGPT directory is uint16.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/token_sequence.h"

namespace scalelaw::data {

enum class TokenDtype { kUint16, kUint32 };

// "uint16" / "uint32", the names meta.json uses (numpy's).
std::string_view DtypeName(TokenDtype dtype);
absl::StatusOr<TokenDtype> ParseDtype(std::string_view name);
uint32_t BytesPerToken(TokenDtype dtype);
// The narrowest dtype that holds ids 0 .. vocab_size - 1.
TokenDtype DtypeForVocab(uint64_t vocab_size);

// Writes a token file by appending; Close() flushes and reports any error.
// Move-only. Thread safety: none.
class TokenFileWriter {
 public:
  // Creates (truncates) `path`. Unavailable when it cannot be opened.
  static absl::StatusOr<TokenFileWriter> Create(const std::string& path, TokenDtype dtype);

  // InvalidArgument when an id does not fit the dtype (nothing is written).
  absl::Status Append(std::span<const uint32_t> tokens);
  // Unavailable when a write, the flush or fsync failed.
  absl::Status Close();

  uint64_t tokens_written() const { return tokens_written_; }

 private:
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::string path_;
  TokenDtype dtype_ = TokenDtype::kUint16;
  std::unique_ptr<std::FILE, FileCloser> file_;
  std::vector<uint8_t> buffer_;
  uint64_t tokens_written_ = 0;
};

// The whole of `tokens` to `path` (Create, Append, Close).
absl::Status WriteTokenFile(const std::string& path, std::span<const uint32_t> tokens,
                            TokenDtype dtype);

// Maps `path` read-only (data/token_sequence.h). NotFound when it is missing,
// DataLoss when its size does not fit the dtype.
absl::StatusOr<TokenSequence> ReadTokenFile(const std::string& path, TokenDtype dtype);

}  // namespace scalelaw::data
