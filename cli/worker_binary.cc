#include "cli/worker_binary.h"

#include <cstdlib>
#include <filesystem>

namespace scalelaw::cli {

std::string WorkerBinaryPath() {
  if (const char* env = std::getenv("SCALELAW_WORKER"); env != nullptr && *env != '\0') return env;
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  return (self.parent_path() / "scalelaw-worker").string();
}

}  // namespace scalelaw::cli
