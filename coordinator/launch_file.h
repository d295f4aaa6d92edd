// The files a cluster launcher writes for a sweep (a Slurm batch script, a
// Kubernetes Job manifest) under <dir>/<sweep_id>/, so they stay with the
// coordinator for reference and resubmission.
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/status.h"

namespace scalelaw::coordinator {

// INVALID_ARGUMENT unless `sweep_id` can name a directory of its own: a safe
// name (sweeps/safe_path.h: [A-Za-z0-9._-], at most 128, no leading '.').
absl::Status RequirePlainSweepId(const std::string& sweep_id);

// Creates `dir` and its parents; UNAVAILABLE naming it when that fails.
absl::Status CreateLaunchDir(const std::filesystem::path& dir);

// Writes `text` to `path` (mode 0600), creating its directory; UNAVAILABLE
// naming the path when the disk refuses.
absl::Status WriteLaunchFile(const std::filesystem::path& path, const std::string& text);

}  // namespace scalelaw::coordinator
