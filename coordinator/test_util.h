// Helpers shared by the coordinator's tests (not part of the library).
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "scalelaw/v1/coordinator.pb.h"
#include "sweeps/spec_defaults.h"

namespace scalelaw::coordinator::testing {

// A fresh directory under $TMPDIR, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "scalelaw-coord-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A valid two-trial sweep: sizes 1e5 and 2e5 parameters, one budget, one seed.
inline v1::SweepSpec SmallSweepSpec(uint32_t max_attempts = 2) {
  v1::SweepSpec spec = sweeps::DefaultSweepSpec();
  spec.set_name("unit-sweep");
  spec.add_models()->set_target_params(1e5);
  spec.add_models()->set_target_params(2e5);
  spec.add_tokens(1e6);
  spec.add_seeds(1);
  spec.set_max_attempts(max_attempts);
  return spec;
}

}  // namespace scalelaw::coordinator::testing
