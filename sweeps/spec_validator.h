// Checks every field of a sweep spec. Used after parsing YAML and again by the
// coordinator on SubmitSweep, so a spec sent by RPC gets the same checks.
// Errors name the field path, the value and what was expected, e.g.
// "models[1].target_params: must be > 0, got -5".
#pragma once

#include "absl/status/status.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::sweeps {

absl::Status ValidateSweepSpec(const v1::SweepSpec& spec);

}  // namespace scalelaw::sweeps
