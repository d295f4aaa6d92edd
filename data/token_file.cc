#include "data/token_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace scalelaw::data {

std::string_view DtypeName(TokenDtype dtype) {
  return dtype == TokenDtype::kUint16 ? "uint16" : "uint32";
}

absl::StatusOr<TokenDtype> ParseDtype(std::string_view name) {
  if (name == "uint16") return TokenDtype::kUint16;
  if (name == "uint32") return TokenDtype::kUint32;
  return absl::InvalidArgumentError(
      absl::StrCat("dtype: expected \"uint16\" or \"uint32\", got \"", std::string(name), "\""));
}

uint32_t BytesPerToken(TokenDtype dtype) { return dtype == TokenDtype::kUint16 ? 2 : 4; }

TokenDtype DtypeForVocab(uint64_t vocab_size) {
  return vocab_size <= 65536 ? TokenDtype::kUint16 : TokenDtype::kUint32;
}

absl::StatusOr<TokenFileWriter> TokenFileWriter::Create(const std::string& path, TokenDtype dtype) {
  TokenFileWriter writer;
  writer.file_.reset(std::fopen(path.c_str(), "wb"));
  if (writer.file_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot create \"", path, "\": ", std::strerror(errno)));
  }
  writer.path_ = path;
  writer.dtype_ = dtype;
  return writer;
}

absl::Status TokenFileWriter::Append(std::span<const uint32_t> tokens) {
  if (file_ == nullptr) return absl::FailedPreconditionError(absl::StrCat(path_, ": closed"));
  const uint32_t width = BytesPerToken(dtype_);
  if (dtype_ == TokenDtype::kUint16) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i] > 0xffff) {
        return absl::InvalidArgumentError(
            absl::StrCat("\"", path_, "\": token id ", tokens[i], " does not fit dtype uint16"));
      }
    }
  }
  buffer_.resize(tokens.size() * width);
  uint8_t* p = buffer_.data();
  for (uint32_t id : tokens) {
    for (uint32_t k = 0; k < width; ++k) *p++ = static_cast<uint8_t>(id >> (8 * k));
  }
  if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_.get()) != buffer_.size()) {
    return absl::UnavailableError(absl::StrCat("writing \"", path_, "\": ", std::strerror(errno)));
  }
  tokens_written_ += tokens.size();
  return absl::OkStatus();
}

absl::Status TokenFileWriter::Close() {
  if (file_ == nullptr) return absl::OkStatus();
  std::FILE* f = file_.release();
  const bool flushed = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  const int error = errno;
  const bool closed = std::fclose(f) == 0;
  if (!flushed || !closed) {
    return absl::UnavailableError(
        absl::StrCat("writing \"", path_, "\": ", std::strerror(flushed ? errno : error)));
  }
  return absl::OkStatus();
}

absl::Status WriteTokenFile(const std::string& path, std::span<const uint32_t> tokens,
                            TokenDtype dtype) {
  absl::StatusOr<TokenFileWriter> writer = TokenFileWriter::Create(path, dtype);
  if (!writer.ok()) return writer.status();
  if (absl::Status appended = writer->Append(tokens); !appended.ok()) return appended;
  return writer->Close();
}

absl::StatusOr<TokenSequence> ReadTokenFile(const std::string& path, TokenDtype dtype) {
  return TokenSequence::MapFile(path, BytesPerToken(dtype));
}

}  // namespace scalelaw::data
