// A sweep as the CLI sees it (v1::Sweep): counts per trial state, tokens
// done and planned, and the sweep's state (RUNNING until every trial has
// ended, then DONE; CANCELLED once cancelled).
#pragma once

#include <vector>

#include "coordinator/store.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::coordinator {

// `trials` are the sweep's trials (Store::ListTrials). Pure function.
v1::Sweep SummarizeSweep(const SweepRecord& sweep, const std::vector<v1::Trial>& trials);

}  // namespace scalelaw::coordinator
