// What a saved fit records about where it came from, so a constant never
// drifts silently between copies (issue 4, "Inputs and provenance").
#pragma once

#include <chrono>
#include <string>

#include "absl/status/statusor.h"

namespace scalelaw::fitting {

// Lower-case hex SHA-256 of the file's bytes (OpenSSL's libcrypto).
// NotFound when it cannot be opened, DataLoss on a read error.
absl::StatusOr<std::string> Sha256OfFile(const std::string& path);

// Lower-case hex SHA-256 of `bytes`.
std::string Sha256Hex(const std::string& bytes);

// `time` as ISO 8601 in UTC with whole seconds, e.g. "2026-11-22T05:38:09Z".
std::string Iso8601Utc(std::chrono::system_clock::time_point time);

// The project version, followed by `git describe --always --dirty` of the
// source tree when CMake could run it at configure time:
// "0.1.0 (8a7b09f-dirty)", or "0.1.0".
std::string CodeVersion();

}  // namespace scalelaw::fitting
