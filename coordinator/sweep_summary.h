// A sweep as the CLI sees it (v1::Sweep): counts per trial state, tokens and
// compute done and planned with an ETA, the jobs launched for it, and the
// sweep's state (RUNNING until every trial has ended, then DONE; CANCELLED
// once cancelled).
#pragma once

#include <cstdint>
#include <vector>

#include "coordinator/store.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::coordinator {

// What the summary needs beside the sweep and its trials.
struct SweepTimes {
  int64_t started_ms = 0;  // Store::FirstAttemptStartMs; 0: not started
  int64_t now_ms = 0;
};

// `trials` are the sweep's trials (Store::ListTrials), `jobs` its recorded
// launcher jobs. Pure function.
v1::Sweep SummarizeSweep(const SweepRecord& sweep, const std::vector<v1::Trial>& trials,
                         const std::vector<SweepJob>& jobs = {}, SweepTimes times = {});

// The compute a trial has spent once `tokens_done` of its tokens are done: its
// share of sweeps::TrialCost (a WSD cooldown branch starts at its branch
// point, so only the tokens past it are its own work).
double FlopsSpent(const v1::TrialSpec& spec, uint64_t tokens_done);

// Seconds for `flops_left` more at the average rate so far (`flops_spent`
// since times.started_ms); 0 when nothing is spent or left yet, or the clock
// has not moved.
double EstimateSecondsLeft(double flops_spent, double flops_left, SweepTimes times);

}  // namespace scalelaw::coordinator
