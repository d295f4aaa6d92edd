// Human-readable rendering of sweeps and trials for terminal output.
#pragma once

#include <string>

#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::cli {

// "SUCCEEDED", "PENDING", ... without the enum prefix.
std::string TrialStateName(v1::TrialState state);

// One block: id, name, state, per-state counts, a progress bar of tokens done
// over tokens planned, compute done with the ETA, and the launched jobs.
std::string FormatSweepStatus(const v1::Sweep& sweep);

// "  jobs: slurm 4711, kubernetes ml/scalelaw-x-1\n", with (when `hints`) how
// to apply a manifest the coordinator could not; "" for none.
std::string FormatLauncherJobs(const google::protobuf::RepeatedPtrField<v1::LauncherJob>& jobs,
                               bool hints = true);

// 42 s, 7 min 3 s, 2 h 5 min, 3 d 4 h.
std::string FormatDuration(double seconds);

// One row per trial: id, shape, params, tokens, state, attempts, losses.
std::string FormatTrialTable(const v1::ListTrialsResponse& trials);

// A FitResult as the JSON object `scalelaw fit --json` prints (snake_case keys).
std::string FitResultJson(const v1::FitResult& fit);

}  // namespace scalelaw::cli
