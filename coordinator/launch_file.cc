#include "coordinator/launch_file.h"

#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "sweeps/safe_path.h"

namespace scalelaw::coordinator {

absl::Status RequirePlainSweepId(const std::string& sweep_id) {
  return sweeps::CheckSafeName("sweep_id", sweep_id);
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
  // Job scripts and manifests name the coordinator, its token file and the
  // sweep: the owner's only, whatever the umask (sbatch and kubectl run as
  // the owner).
  std::error_code error;
  std::filesystem::permissions(path,
                               std::filesystem::perms::owner_read |
                                   std::filesystem::perms::owner_write,
                               error);
  return absl::OkStatus();
}

}  // namespace scalelaw::coordinator
