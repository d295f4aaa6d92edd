// Expands a validated sweep spec into its trials.
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::sweeps {

// Full grid: every model size x token budget x seed, in that order. Trial ids
// are "<sweep_id>-t<index>" (index zero-padded to 3 digits), so planning the
// same spec twice gives the same ids. Each trial carries its shape, its
// size-scaled learning rate, and its formula counts and FLOPs.
absl::StatusOr<std::vector<v1::TrialSpec>> PlanGrid(const v1::SweepSpec& spec,
                                                    std::string_view sweep_id);

// lr(N) = lr * (N / lr_reference_params)^(-lr_exponent), N the total count.
double ScaledLearningRate(const v1::OptimizerConfig& optimizer, double params);

}  // namespace scalelaw::sweeps
