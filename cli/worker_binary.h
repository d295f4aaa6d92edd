#pragma once

#include <string>

namespace scalelaw::cli {

// Path of the `scalelaw-worker` executable: $SCALELAW_WORKER if set, else the
// file of that name beside this executable.
std::string WorkerBinaryPath();

}  // namespace scalelaw::cli
