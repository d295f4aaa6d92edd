// Checks every field of a sweep spec. Used after parsing YAML and again by the
// coordinator on SubmitSweep, so a spec sent by RPC gets the same checks.
// Errors name the field path, the value and what was expected, e.g.
// "models[1].target_params: must be > 0, got -5".
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::sweeps {

absl::Status ValidateSweepSpec(const v1::SweepSpec& spec);

// With `allowed_roots` (absolute directories) not empty, data.corpus and a
// set training.checkpoint_dir must lie under one of them after lexical
// normalisation, relative paths taken from the current working directory
// (`scalelaw coordinator --allow-path-root`). INVALID_ARGUMENT naming the
// field and the roots otherwise.
absl::Status ValidateSweepPathRoots(const v1::SweepSpec& spec,
                                    const std::vector<std::string>& allowed_roots);

}  // namespace scalelaw::sweeps
