#include "fitting/provenance.h"

#include <openssl/evp.h>

#include <array>
#include <ctime>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"

#ifndef SCALELAW_CODE_VERSION
#define SCALELAW_CODE_VERSION "unknown"
#endif
#ifndef SCALELAW_GIT_DESCRIBE
#define SCALELAW_GIT_DESCRIBE ""
#endif

namespace scalelaw::fitting {
namespace {

struct DigestContextDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
using DigestContext = std::unique_ptr<EVP_MD_CTX, DigestContextDeleter>;

std::string Hex(const unsigned char* bytes, unsigned int size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (unsigned int i = 0; i < size; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 0xf];
  }
  return out;
}

std::string Finish(EVP_MD_CTX* context) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_DigestFinal_ex(context, digest.data(), &size);
  return Hex(digest.data(), size);
}

}  // namespace

std::string Sha256Hex(const std::string& bytes) {
  const DigestContext context(EVP_MD_CTX_new());
  EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr);
  EVP_DigestUpdate(context.get(), bytes.data(), bytes.size());
  return Finish(context.get());
}

absl::StatusOr<std::string> Sha256OfFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  const DigestContext context(EVP_MD_CTX_new());
  EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr);
  std::array<char, 1 << 16> buffer;
  while (file) {
    file.read(buffer.data(), buffer.size());
    EVP_DigestUpdate(context.get(), buffer.data(), static_cast<size_t>(file.gcount()));
  }
  if (file.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return Finish(context.get());
}

std::string Iso8601Utc(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string CodeVersion() {
  const std::string describe = SCALELAW_GIT_DESCRIBE;
  return describe.empty() ? std::string(SCALELAW_CODE_VERSION)
                          : absl::StrCat(SCALELAW_CODE_VERSION, " (", describe, ")");
}

}  // namespace scalelaw::fitting
