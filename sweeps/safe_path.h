// Names and paths that arrive in a sweep spec or an RPC and end up in the
// file system: sweep and trial ids name directories (checkpoints, job
// scripts, logs), training.checkpoint_dir is where workers write, data.corpus
// is what they read. Each is checked here so that no spec, and no rogue or
// spoofed coordinator, can make a process write outside the directory it
// meant (issue #20: `../../../escaped-1`, `/etc/cron.d`).
//
// Policy:
//   - A safe name is 1 to 128 of [A-Za-z0-9._-], not starting with '.' (so
//     never ".", ".." or a hidden file). Sweep ids ("<slug>-<n>"), trial ids
//     ("<sweep_id>-t003") and forecast target names all are.
//   - A path (checkpoint_dir, corpus) has no NUL, newline or ".." component.
//     Relative paths are allowed: they are relative to each worker's working
//     directory.
//   - A directory workers write into is never the root or under a system
//     directory (SystemDirectories()): those hold what the machine boots and
//     runs (binaries, libraries, /etc, package state in /var/lib, cron and
//     mail spools in /var/spool, root's home) or are kernel file systems
//     (/proc, /sys, /dev); a worker (often root in a container) writing there
//     could change what runs, and as whom.
//   - With allowed roots (`scalelaw coordinator --allow-path-root DIR`), a
//     path must lie under one of them after lexical normalisation.
// The checks are lexical: a symbolic link inside an allowed directory is
// followed like any other (the worker checks its resolved checkpoint
// directory too, see worker/trainer.cc).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace scalelaw::sweeps {

inline constexpr size_t kMaxNameLength = 128;

// Whether `name` is a safe name (see above).
bool IsSafeName(const std::string& name);

// OK for a safe name; else INVALID_ARGUMENT "FIELD: must be ..., got 'VALUE'"
// (VALUE escaped and cut to 64 characters).
absl::Status CheckSafeName(const std::string& field, const std::string& value);

// OK for a path without NUL, newline or ".." component (empty is OK: the
// caller decides whether it is required); else INVALID_ARGUMENT naming FIELD.
absl::Status CheckPathText(const std::string& field, const std::string& path);

// CheckPathText, and not the root nor in or under a system directory
// (compared after lexical normalisation; a relative path is not resolved).
absl::Status CheckWritableDirectory(const std::string& field, const std::string& path);

// The directories CheckWritableDirectory refuses (absolute, normalised).
const std::vector<std::string>& SystemDirectories();

// Whether `path`, made absolute against `base` and lexically normalised, is
// `root` or lies under it. `root` must be absolute.
bool IsUnder(const std::string& path, const std::string& root, const std::string& base);

// OK when `roots` is empty or `path` lies under one of them (relative paths
// resolved against `base`); else INVALID_ARGUMENT naming FIELD and the roots.
absl::Status CheckUnderRoots(const std::string& field, const std::string& path,
                             const std::vector<std::string>& roots, const std::string& base);

// `root`/`name` for a safe `name`, checked to stay under `root` after
// lexical normalisation. INVALID_ARGUMENT naming FIELD otherwise.
absl::StatusOr<std::string> JoinSafeName(const std::string& field, const std::string& root,
                                         const std::string& name);

// `value` for an error message: control characters escaped, at most
// `max_chars` characters kept ("..." marks a cut).
std::string Printable(const std::string& value, size_t max_chars = 64);

}  // namespace scalelaw::sweeps
