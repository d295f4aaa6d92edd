// Text documents and their train / validation split.
//
// Every non-empty regular file under an input directory (recursively, in
// sorted path order) or named as an input is a document. A document goes to
// validation iff FNV-1a of its relative path maps below val_fraction, so the
// split is disjoint, does not move when other files come and go, and is the
// same on every machine that holds the same tree.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace scalelaw::data {

struct TextDocument {
  std::string path;      // as found on disk
  std::string relative;  // generic ('/') path below its input directory; a file input's name
  uint64_t bytes = 0;
  bool validation = false;
};

// The documents of `inputs` (directories and files), input by input in the
// order given, each directory's files in sorted path order. Empty files are
// left out. Errors name the path: NotFound when an input does not exist,
// InvalidArgument when val_fraction is outside (0, 1), Unavailable when a
// directory cannot be walked.
absl::StatusOr<std::vector<TextDocument>> ListTextDocuments(const std::vector<std::string>& inputs,
                                                            double val_fraction);

// The whole document's bytes. Unavailable when it cannot be read.
absl::StatusOr<std::string> ReadTextDocument(const TextDocument& document);

// True when the document at `relative_path` belongs to the validation split.
bool IsValidationDocument(std::string_view relative_path, double val_fraction);

// FNV-1a, 64 bits (Fowler, Noll, Vo): stable across platforms and releases.
uint64_t Fnv1a64(std::string_view bytes);

}  // namespace scalelaw::data
