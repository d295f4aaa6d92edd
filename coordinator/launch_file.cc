#include "coordinator/launch_file.h"

#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace scalelaw::coordinator {

absl::Status RequirePlainSweepId(const std::string& sweep_id) {
  if (sweep_id.empty() || sweep_id.find('/') != std::string::npos || sweep_id == "." ||
      sweep_id == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("sweep_id: must be a plain name, got '", sweep_id, "'"));
  }
  return absl::OkStatus();
}

absl::Status CreateLaunchDir(const std::filesystem::path& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot create '", dir.string(), "': ", error.message()));
  }
  return absl::OkStatus();
}

absl::Status WriteLaunchFile(const std::filesystem::path& path, const std::string& text) {
  if (absl::Status made = CreateLaunchDir(path.parent_path()); !made.ok()) return made;
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out.flush()) return absl::UnavailableError(absl::StrCat("cannot write '", path.string(), "'"));
  return absl::OkStatus();
}

}  // namespace scalelaw::coordinator
