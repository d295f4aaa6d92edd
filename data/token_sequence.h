// A read-only sequence of token ids: bytes held in memory (one byte per
// token), or a little-endian uint16 / uint32 token file mapped read-only with
// mmap, so that a dataset larger than memory costs only the pages training
// touches.
//
// Move-only; the mapping lives as long as the object. Thread safety: const
// methods may be called from any number of threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace scalelaw::data {

class TokenSequence {
 public:
  TokenSequence() = default;
  TokenSequence(TokenSequence&& other) noexcept;
  TokenSequence& operator=(TokenSequence&& other) noexcept;
  TokenSequence(const TokenSequence&) = delete;
  TokenSequence& operator=(const TokenSequence&) = delete;
  ~TokenSequence();

  // Byte tokens owned in memory.
  static TokenSequence FromBytes(std::vector<uint8_t> bytes);

  // The whole file at `path`, `bytes_per_token` (2 or 4) bytes per token,
  // little-endian. NotFound when it cannot be opened, DataLoss when its size
  // is not a multiple of bytes_per_token, Internal when mmap fails.
  static absl::StatusOr<TokenSequence> MapFile(const std::string& path, uint32_t bytes_per_token);

  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint32_t bytes_per_token() const { return width_; }

  // Token i, i < size().
  uint32_t operator[](uint64_t i) const {
    const uint8_t* p = data_ + i * width_;
    switch (width_) {
      case 1:
        return *p;
      case 2:
        return uint32_t{p[0]} | uint32_t{p[1]} << 8;
      default:
        return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
    }
  }

  // Tokens [start, start + n) into out[0, n). Requires start + n <= size().
  void CopyTo(uint64_t start, uint64_t n, int64_t* out) const;

  // The largest id (0 when empty) and the index of its first occurrence.
  struct MaxToken {
    uint32_t id = 0;
    uint64_t index = 0;
  };
  MaxToken Max() const;

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  uint32_t width_ = 1;
  std::vector<uint8_t> owned_;
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
};

}  // namespace scalelaw::data
