#include "coordinator/sweep_summary.h"

#include <algorithm>
#include <map>

namespace scalelaw::coordinator {

v1::Sweep SummarizeSweep(const SweepRecord& sweep, const std::vector<v1::Trial>& trials) {
  v1::Sweep out;
  out.set_sweep_id(sweep.sweep_id);
  out.set_name(sweep.name);
  out.set_created_ms(sweep.created_ms);
  *out.mutable_spec() = sweep.spec;
  out.set_n_trials(static_cast<uint32_t>(trials.size()));

  std::map<v1::TrialState, uint32_t> counts;
  bool all_ended = true;
  uint64_t tokens_done = 0;
  uint64_t tokens_total = 0;
  for (const v1::Trial& trial : trials) {
    ++counts[trial.state()];
    all_ended = all_ended && IsEnded(trial.state());
    tokens_total += trial.spec().tokens();
    tokens_done += std::min(trial.tokens_done(), trial.spec().tokens());
  }
  for (const auto& [state, count] : counts) {
    v1::StateCount* entry = out.add_counts();
    entry->set_state(state);
    entry->set_count(count);
  }
  out.set_tokens_done(tokens_done);
  out.set_tokens_total(tokens_total);
  if (sweep.cancelled) {
    out.set_state(v1::SWEEP_STATE_CANCELLED);
  } else if (all_ended) {
    out.set_state(v1::SWEEP_STATE_DONE);
  } else {
    out.set_state(v1::SWEEP_STATE_RUNNING);
  }
  return out;
}

}  // namespace scalelaw::coordinator
