// Sweep specs: YAML text -> v1::SweepSpec, with defaults filled in and every
// field validated. Errors name the field path, the value and what was
// expected, e.g. "quickstart.yaml: models[1].target_params: must be > 0, got -5".
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "scalelaw/v1/coordinator.pb.h"
#include "sweeps/spec_validator.h"  // ValidateSweepSpec, for specs that arrive by RPC

namespace scalelaw::sweeps {

// Parses and validates. `source` names the input in error messages.
absl::StatusOr<v1::SweepSpec> ParseSweepSpec(std::string_view yaml_text, std::string_view source);

// Reads `path` and parses it.
absl::StatusOr<v1::SweepSpec> LoadSweepSpec(const std::string& path);

}  // namespace scalelaw::sweeps
