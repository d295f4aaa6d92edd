// A trial's checkpoint file (worker/checkpoint.h): the magic, the header
// length, the v1::TrialCheckpoint and the opaque libtorch archive, which this
// reader never interprets, so the harness needs no libtorch. Any input may be
// refused with an error; none may crash, and a checkpoint the reader accepts
// must write and read back as the newest of its trial directory with the same
// step and model state. With SCALELAW_FUZZ_WRITE_SEEDS=DIR the harness writes
// its seed corpus (fuzz/corpus/fuzz_checkpoint) into DIR and exits.
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "google/protobuf/stubs/logging.h"
#include "worker/checkpoint.h"

namespace {

namespace fs = std::filesystem;
using namespace scalelaw;

const fs::path& Directory() {
  static const fs::path dir = [] {
    std::string pattern = (fs::temp_directory_path() / "scalelaw-fuzz-ckpt-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(Directory(), ignored);
    });
    return fs::path(pattern);
  }();
  return dir;
}

void WriteSeeds(const fs::path& dir) {
  fs::create_directories(dir);
  v1::TrialCheckpoint state;
  state.mutable_spec()->set_trial_id("fuzz-1-t000");
  state.mutable_spec()->set_sweep_id("fuzz-1");
  state.set_steps_done(12);
  state.set_tokens(12 * 4096);
  state.set_data_rng_state("5489 1 2 3");
  state.set_smoothed_train_loss(4.25);
  state.set_min_smoothed_train_loss(4.0);
  state.set_next_eval(2);
  state.set_metric_seq(1);
  v1::MetricPoint* point = state.add_metrics();
  point->set_trial_id("fuzz-1-t000");
  point->set_attempt(1);
  point->set_seq(1);
  point->set_step(10);
  point->set_train_loss(4.3);
  for (const auto& [name, model_state] :
       {std::pair<std::string, std::string>{"small", "PK\x03\x04model"},
        std::pair<std::string, std::string>{"empty_model", ""}}) {
    const fs::path trial = dir / ("trial-" + name);
    absl::StatusOr<std::string> written = worker::WriteCheckpoint(trial.string(), state, model_state);
    if (!written.ok()) std::abort();
    fs::rename(*written, dir / name);
    fs::remove_all(trial);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  if (const char* seeds = std::getenv("SCALELAW_FUZZ_WRITE_SEEDS")) {
    WriteSeeds(seeds);
    std::exit(0);
  }
  // Mutated strings are often not UTF-8: protobuf logs each, which only slows the run.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path& dir = Directory();
  const fs::path input = dir / "input.ckpt";
  {
    std::ofstream out(input, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) std::abort();
  }
  absl::StatusOr<worker::Checkpoint> read = worker::ReadCheckpoint(input.string());
  if (!read.ok()) return 0;
  const std::string trial = (dir / "trial").string();
  std::error_code ignored;
  fs::remove_all(trial, ignored);  // else an older input's higher step would be the newest
  absl::StatusOr<std::string> written =
      worker::WriteCheckpoint(trial, read->state, read->model_state, /*keep=*/1);
  if (!written.ok()) std::abort();
  absl::StatusOr<std::optional<worker::Checkpoint>> newest = worker::ReadNewestCheckpoint(trial);
  if (!newest.ok() || !newest->has_value() ||
      (*newest)->state.steps_done() != read->state.steps_done() ||
      (*newest)->model_state != read->model_state) {
    std::abort();
  }
  return 0;
}
