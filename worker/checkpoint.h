// Checkpoint files of a trial, so that a new attempt resumes where the last
// one stopped (DESIGN.md, trial life cycle).
//
// A trial's checkpoints live in <checkpoint_dir>/<trial_id>/ as
// step-<12 digits>.ckpt. A file is
//
//   "SCLCKPT1"                      8 bytes, magic and format version
//   header length                   uint64, little-endian
//   v1::TrialCheckpoint             the plain state (proto)
//   libtorch archive                header.model_state_bytes bytes (opaque here)
//
// Writing is atomic: the bytes go to a temporary file in the same directory
// (its name ends ".tmp.<pid>.<n>"), which is fsync'ed and then renamed over the
// final name, and the directory is fsync'ed. A worker killed mid-write leaves
// only a temporary file, which readers ignore. After a write the two newest
// checkpoints are kept and older ones removed.
//
// Free of libtorch: the trainer serialises the model and optimiser itself.
// Thread safety: the functions share no state; two writers of one trial (a
// stale attempt and its successor) never tear each other's files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::worker {

// <checkpoint_dir>/<trial_id>, or empty when checkpoint_dir is empty. A
// trial id comes from the coordinator, so it is joined only when it is a safe
// name (sweeps/safe_path.h) and the result stays under checkpoint_dir:
// INVALID_ARGUMENT naming trial_id otherwise (`../../x`, `/etc/x`).
absl::StatusOr<std::string> TrialCheckpointDirectory(const std::string& checkpoint_dir,
                                                     const std::string& trial_id);

// <checkpoint_dir>/<stable_trial_id>/branches: the states a WSD stable run
// keeps where its cooldown branches start (all kept, never pruned). The same
// checks as TrialCheckpointDirectory, naming `field`.
absl::StatusOr<std::string> BranchCheckpointDirectory(const std::string& checkpoint_dir,
                                                      const std::string& stable_trial_id,
                                                      const std::string& field = "trial_id");

// File name of the checkpoint after `steps_done` steps: "step-000000000123.ckpt".
std::string CheckpointFileName(uint64_t steps_done);

struct Checkpoint {
  v1::TrialCheckpoint state;
  std::string model_state;  // libtorch archive of the model and optimiser
  std::string path;         // the file it was read from (empty before writing)
};

// Writes `checkpoint` as <trial_dir>/step-<state.steps_done>.ckpt (creating
// the directory; the file is private to its owner, 0600), atomically, and
// prunes all but the `keep` newest checkpoints. Returns the final path. Errors: Internal naming the file and
// errno's message when a write, fsync or rename fails.
absl::StatusOr<std::string> WriteCheckpoint(const std::string& trial_dir,
                                            const v1::TrialCheckpoint& state,
                                            std::string_view model_state, int keep = 2);

// Reads one checkpoint file. Errors: NotFound, DataLoss when it is truncated
// or not a checkpoint.
absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& path);

// The newest readable checkpoint in `trial_dir` (highest step), or nullopt
// when there is none (or the directory does not exist). Temporary files are
// ignored; an unreadable checkpoint is skipped in favour of the next older.
// Errors: DataLoss when checkpoints exist but none of them can be read.
absl::StatusOr<std::optional<Checkpoint>> ReadNewestCheckpoint(const std::string& trial_dir);

}  // namespace scalelaw::worker
