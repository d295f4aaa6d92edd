// Files a coordinator or worker creates hold what others on a shared machine
// must not read: the store (every sweep, trial and metric, and its -wal and
// -shm), job scripts and logs, checkpoints (model weights). Processes that
// write them call MakeNewFilesPrivate() first thing, so every file they and
// their libraries (SQLite, spdlog, libtorch) create is 0600 and every
// directory 0700, whatever the caller's umask; share a directory on purpose
// with chmod or setfacl. Sweeps' checkpoints are read back by workers of the
// same user (a cluster's jobs run as the submitting user), so nothing is lost.
#pragma once

#include <sys/stat.h>

namespace scalelaw {

// umask(077) for this process and the workers it starts. Not thread-safe:
// call before starting threads.
inline void MakeNewFilesPrivate() { ::umask(077); }

}  // namespace scalelaw
