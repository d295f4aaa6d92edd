// Human-readable rendering of sweeps and trials for terminal output.
#pragma once

#include <string>

#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::cli {

// "SUCCEEDED", "PENDING", ... without the enum prefix.
std::string TrialStateName(v1::TrialState state);

// One block: id, name, state, per-state counts, a progress bar of tokens done
// over tokens planned.
std::string FormatSweepStatus(const v1::Sweep& sweep);

// One row per trial: id, shape, params, tokens, state, attempts, losses.
std::string FormatTrialTable(const v1::ListTrialsResponse& trials);

// A FitResult as the JSON object `scalelaw fit --json` prints (snake_case keys).
std::string FitResultJson(const v1::FitResult& fit);

}  // namespace scalelaw::cli
