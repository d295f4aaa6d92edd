#include "worker/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "sweeps/safe_path.h"

namespace scalelaw::worker {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[] = "SCLCKPT1";
constexpr size_t kMagicSize = 8;
constexpr std::string_view kPrefix = "step-";
constexpr std::string_view kSuffix = ".ckpt";

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat("checkpoint: ", what, " \"", path, "\": ", std::strerror(errno)));
}

// The step of a final checkpoint name, or nullopt for anything else
// (temporary files included).
std::optional<uint64_t> StepOfFileName(const std::string& name) {
  if (name.size() <= kPrefix.size() + kSuffix.size() || !name.starts_with(kPrefix) ||
      !name.ends_with(kSuffix)) {
    return std::nullopt;
  }
  const std::string digits =
      name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  if (digits.empty() || digits.size() > 19 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoull(digits);
}

// Final checkpoints of `trial_dir`, newest first.
std::vector<std::pair<uint64_t, fs::path>> ListCheckpoints(const std::string& trial_dir) {
  std::vector<std::pair<uint64_t, fs::path>> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(trial_dir, error)) {
    if (!entry.is_regular_file(error)) continue;
    if (auto step = StepOfFileName(entry.path().filename().string())) {
      found.emplace_back(*step, entry.path());
    }
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a > b; });
  return found;
}

absl::Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

std::string LittleEndian64(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  return out;
}

uint64_t ReadLittleEndian64(const char* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

}  // namespace

absl::StatusOr<std::string> TrialCheckpointDirectory(const std::string& checkpoint_dir,
                                                     const std::string& trial_id) {
  if (checkpoint_dir.empty()) return std::string();
  return sweeps::JoinSafeName("trial_id", checkpoint_dir, trial_id);
}

absl::StatusOr<std::string> BranchCheckpointDirectory(const std::string& checkpoint_dir,
                                                      const std::string& stable_trial_id,
                                                      const std::string& field) {
  if (checkpoint_dir.empty()) return std::string();
  SCALELAW_ASSIGN_OR_RETURN(const std::string trial_dir,
                            sweeps::JoinSafeName(field, checkpoint_dir, stable_trial_id));
  return (fs::path(trial_dir) / "branches").string();
}

std::string CheckpointFileName(uint64_t steps_done) {
  return absl::StrFormat("step-%012d.ckpt", steps_done);
}

absl::StatusOr<std::string> WriteCheckpoint(const std::string& trial_dir,
                                            const v1::TrialCheckpoint& state,
                                            std::string_view model_state, int keep) {
  std::error_code error;
  fs::create_directories(trial_dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("checkpoint: cannot create directory \"", trial_dir, "\": ", error.message()));
  }
  v1::TrialCheckpoint header = state;
  header.set_model_state_bytes(model_state.size());
  const std::string header_bytes = header.SerializeAsString();

  static std::atomic<uint64_t> counter{0};
  const std::string final_path =
      (fs::path(trial_dir) / CheckpointFileName(state.steps_done())).string();
  const std::string temp_path =
      absl::StrCat(final_path, ".tmp.", ::getpid(), ".", counter.fetch_add(1));

  const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot create", temp_path);
  absl::Status written = WriteAll(fd, std::string_view(kMagic, kMagicSize), temp_path);
  if (written.ok()) written = WriteAll(fd, LittleEndian64(header_bytes.size()), temp_path);
  if (written.ok()) written = WriteAll(fd, header_bytes, temp_path);
  if (written.ok()) written = WriteAll(fd, model_state, temp_path);
  if (written.ok() && ::fsync(fd) != 0) written = ErrnoError("cannot fsync", temp_path);
  if (::close(fd) != 0 && written.ok()) written = ErrnoError("cannot close", temp_path);
  if (!written.ok()) {
    ::unlink(temp_path.c_str());
    return written;
  }
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    const absl::Status status = ErrnoError("cannot rename to", final_path);
    ::unlink(temp_path.c_str());
    return status;
  }
  // The rename is durable only once the directory entry is.
  if (const int dir_fd = ::open(trial_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }

  const auto checkpoints = ListCheckpoints(trial_dir);
  for (size_t i = static_cast<size_t>(std::max(keep, 1)); i < checkpoints.size(); ++i) {
    fs::remove(checkpoints[i].second, error);  // best effort: a stale file is only disk
  }
  return final_path;
}

absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("checkpoint: cannot open \"", path, "\""));
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto corrupt = [&](const std::string& what) {
    return absl::DataLossError(absl::StrCat("checkpoint \"", path, "\": ", what));
  };
  if (bytes.size() < kMagicSize + 8 || bytes.compare(0, kMagicSize, kMagic) != 0) {
    return corrupt("not a scalelaw checkpoint (bad magic or too short)");
  }
  const uint64_t header_size = ReadLittleEndian64(bytes.data() + kMagicSize);
  const uint64_t header_start = kMagicSize + 8;
  if (header_size > bytes.size() - header_start) return corrupt("truncated header");
  Checkpoint checkpoint;
  checkpoint.path = path;
  if (!checkpoint.state.ParseFromArray(bytes.data() + header_start,
                                       static_cast<int>(header_size))) {
    return corrupt("header does not parse");
  }
  const uint64_t model_start = header_start + header_size;
  if (bytes.size() - model_start != checkpoint.state.model_state_bytes()) {
    return corrupt(absl::StrCat("model state is ", bytes.size() - model_start, " bytes, expected ",
                                checkpoint.state.model_state_bytes()));
  }
  checkpoint.model_state = bytes.substr(model_start);
  return checkpoint;
}

absl::StatusOr<std::optional<Checkpoint>> ReadNewestCheckpoint(const std::string& trial_dir) {
  std::optional<absl::Status> last_error;
  for (const auto& [step, path] : ListCheckpoints(trial_dir)) {
    absl::StatusOr<Checkpoint> checkpoint = ReadCheckpoint(path.string());
    if (checkpoint.ok() && checkpoint->state.steps_done() == step) {
      return std::optional<Checkpoint>(*std::move(checkpoint));
    }
    last_error = checkpoint.ok() ? absl::DataLossError(absl::StrCat(
                                       "checkpoint \"", path.string(), "\" holds step ",
                                       checkpoint->state.steps_done(), ", its name says ", step))
                                 : checkpoint.status();
  }
  // Every file unreadable: say so rather than silently starting over.
  if (last_error) return *last_error;
  return std::optional<Checkpoint>();
}

}  // namespace scalelaw::worker
