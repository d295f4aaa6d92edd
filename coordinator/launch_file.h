// The files a cluster launcher writes for a sweep (a Slurm batch script, a
// Kubernetes Job manifest) under <dir>/<sweep_id>/, so they stay with the
// coordinator for reference and resubmission.
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/status.h"

namespace scalelaw::coordinator {

// INVALID_ARGUMENT unless `sweep_id` can name a directory of its own (not
// empty, no '/', not "." or "..").
absl::Status RequirePlainSweepId(const std::string& sweep_id);

// Creates `dir` and its parents; UNAVAILABLE naming it when that fails.
absl::Status CreateLaunchDir(const std::filesystem::path& dir);

// Writes `text` to `path`, creating its directory; UNAVAILABLE naming the
// path when the disk refuses.
absl::Status WriteLaunchFile(const std::filesystem::path& path, const std::string& text);

}  // namespace scalelaw::coordinator
