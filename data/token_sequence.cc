#include "data/token_sequence.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace scalelaw::data {
namespace {

// Little-endian token `i` of a `Width`-byte token array.
template <uint32_t Width>
uint32_t Load(const uint8_t* data, uint64_t i) {
  const uint8_t* p = data + i * Width;
  uint32_t id = 0;
  for (uint32_t k = 0; k < Width; ++k) id |= uint32_t{p[k]} << (8 * k);
  return id;
}

template <uint32_t Width>
void Copy(const uint8_t* data, uint64_t start, uint64_t n, int64_t* out) {
  for (uint64_t i = 0; i < n; ++i) out[i] = Load<Width>(data, start + i);
}

template <uint32_t Width>
TokenSequence::MaxToken MaxOf(const uint8_t* data, uint64_t n) {
  TokenSequence::MaxToken max;
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t id = Load<Width>(data, i);
    if (id > max.id) max = {id, i};
  }
  return max;
}

}  // namespace

TokenSequence::TokenSequence(TokenSequence&& other) noexcept { *this = std::move(other); }

TokenSequence& TokenSequence::operator=(TokenSequence&& other) noexcept {
  if (this == &other) return *this;
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_bytes_);
  // A moved std::vector keeps its buffer, so data_ stays valid for owned bytes.
  owned_ = std::move(other.owned_);
  data_ = std::exchange(other.data_, nullptr);
  size_ = std::exchange(other.size_, 0);
  width_ = std::exchange(other.width_, 1);
  mapping_ = std::exchange(other.mapping_, nullptr);
  mapping_bytes_ = std::exchange(other.mapping_bytes_, 0);
  return *this;
}

TokenSequence::~TokenSequence() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_bytes_);
}

TokenSequence TokenSequence::FromBytes(std::vector<uint8_t> bytes) {
  TokenSequence seq;
  seq.owned_ = std::move(bytes);
  seq.data_ = seq.owned_.data();
  seq.size_ = seq.owned_.size();
  seq.width_ = 1;
  return seq;
}

absl::StatusOr<TokenSequence> TokenSequence::MapFile(const std::string& path,
                                                     uint32_t bytes_per_token) {
  if (bytes_per_token != 2 && bytes_per_token != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", path, "\": ", bytes_per_token, " bytes per token; expected 2 or 4"));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat("\"", path, "\": ", std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::NotFoundError(absl::StrCat("\"", path, "\": not a regular file"));
  }
  const uint64_t bytes = static_cast<uint64_t>(st.st_size);
  if (bytes % bytes_per_token != 0) {
    ::close(fd);
    return absl::DataLossError(absl::StrCat("\"", path, "\": size ", bytes,
                                            " bytes is not a multiple of ", bytes_per_token, " (",
                                            bytes_per_token * 8, "-bit tokens)"));
  }
  TokenSequence seq;
  seq.width_ = bytes_per_token;
  seq.size_ = bytes / bytes_per_token;
  if (bytes > 0) {  // mmap of length 0 fails; an empty file maps to nothing
    void* mapping = ::mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
      const int error = errno;
      ::close(fd);
      return absl::InternalError(absl::StrCat("mmap \"", path, "\": ", std::strerror(error)));
    }
    seq.mapping_ = mapping;
    seq.mapping_bytes_ = bytes;
    seq.data_ = static_cast<const uint8_t*>(mapping);
  }
  ::close(fd);  // the mapping keeps the file
  return seq;
}

void TokenSequence::CopyTo(uint64_t start, uint64_t n, int64_t* out) const {
  switch (width_) {
    case 1:
      return Copy<1>(data_, start, n, out);
    case 2:
      return Copy<2>(data_, start, n, out);
    default:
      return Copy<4>(data_, start, n, out);
  }
}

TokenSequence::MaxToken TokenSequence::Max() const {
  switch (width_) {
    case 1:
      return MaxOf<1>(data_, size_);
    case 2:
      return MaxOf<2>(data_, size_);
    default:
      return MaxOf<4>(data_, size_);
  }
}

}  // namespace scalelaw::data
