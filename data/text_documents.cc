#include "data/text_documents.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace scalelaw::data {
namespace fs = std::filesystem;

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t hash = 14695981039346656037ull;  // FNV offset basis
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;  // FNV prime
  }
  return hash;
}

bool IsValidationDocument(std::string_view relative_path, double val_fraction) {
  // The top 53 bits of the hash as a uniform double in [0, 1).
  const double u = static_cast<double>(Fnv1a64(relative_path) >> 11) * 0x1.0p-53;
  return u < val_fraction;
}

absl::StatusOr<std::vector<TextDocument>> ListTextDocuments(const std::vector<std::string>& inputs,
                                                            double val_fraction) {
  if (!(val_fraction > 0.0 && val_fraction < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("val_fraction: must be in (0, 1), got ", val_fraction));
  }
  std::vector<TextDocument> documents;
  auto add = [&](const fs::path& file, std::string relative, uint64_t bytes) {
    if (bytes == 0) return;  // empty files are not documents
    TextDocument& doc = documents.emplace_back();
    doc.path = file.string();
    doc.validation = IsValidationDocument(relative, val_fraction);
    doc.relative = std::move(relative);
    doc.bytes = bytes;
  };
  for (const std::string& input : inputs) {
    std::error_code ec;
    const fs::file_status status = fs::status(input, ec);
    if (fs::is_regular_file(status)) {
      const uint64_t bytes = fs::file_size(input, ec);
      if (ec) return absl::UnavailableError(absl::StrCat("\"", input, "\": ", ec.message()));
      add(input, fs::path(input).filename().generic_string(), bytes);
      continue;
    }
    if (!fs::is_directory(status)) {
      return absl::NotFoundError(absl::StrCat("\"", input, "\": no such file or directory",
                                              ec ? ": " : "", ec ? ec.message() : std::string()));
    }
    std::vector<std::pair<fs::path, uint64_t>> files;
    for (fs::recursive_directory_iterator
             it(input, fs::directory_options::skip_permission_denied, ec),
         end;
         !ec && it != end; it.increment(ec)) {
      std::error_code file_ec;
      if (!it->is_regular_file(file_ec)) continue;
      const uint64_t bytes = it->file_size(file_ec);
      if (file_ec) {
        return absl::UnavailableError(
            absl::StrCat("\"", it->path().string(), "\": ", file_ec.message()));
      }
      files.emplace_back(it->path(), bytes);
    }
    if (ec) return absl::UnavailableError(absl::StrCat("reading \"", input, "\": ", ec.message()));
    std::sort(files.begin(), files.end());
    for (const auto& [file, bytes] : files) {
      add(file, file.lexically_relative(input).generic_string(), bytes);
    }
  }
  return documents;
}

absl::StatusOr<std::string> ReadTextDocument(const TextDocument& document) {
  std::ifstream in(document.path, std::ios::binary);
  if (!in) return absl::UnavailableError(absl::StrCat("cannot read \"", document.path, "\""));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace scalelaw::data
