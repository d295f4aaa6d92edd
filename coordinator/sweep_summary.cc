#include "coordinator/sweep_summary.h"

#include <algorithm>
#include <map>

#include "sweeps/trial_builder.h"

namespace scalelaw::coordinator {

double FlopsSpent(const v1::TrialSpec& spec, uint64_t tokens_done) {
  const uint64_t tokens = spec.tokens();
  const uint64_t start = spec.wsd().decay_start_tokens();
  const uint64_t done = std::min(tokens_done, tokens);
  if (tokens <= start || done <= start) return 0;
  return sweeps::TrialCost(spec) * static_cast<double>(done - start) /
         static_cast<double>(tokens - start);
}

double EstimateSecondsLeft(double flops_spent, double flops_left, SweepTimes times) {
  const double elapsed_s = (times.now_ms - times.started_ms) / 1000.0;
  if (times.started_ms <= 0 || elapsed_s <= 0 || flops_spent <= 0 || flops_left <= 0) return 0;
  return flops_left * elapsed_s / flops_spent;
}

v1::Sweep SummarizeSweep(const SweepRecord& sweep, const std::vector<v1::Trial>& trials,
                         const std::vector<SweepJob>& jobs, SweepTimes times) {
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
  double flops_done = 0;   // spent: every trial's tokens done so far
  double flops_total = 0;  // planned
  double flops_left = 0;   // what unended trials still have to spend
  for (const v1::Trial& trial : trials) {
    ++counts[trial.state()];
    all_ended = all_ended && IsEnded(trial.state());
    const uint64_t tokens = trial.spec().tokens();
    tokens_total += tokens;
    tokens_done += std::min(trial.tokens_done(), tokens);
    const double cost = sweeps::TrialCost(trial.spec());
    const double spent = FlopsSpent(trial.spec(), trial.tokens_done());
    flops_total += cost;
    flops_done += spent;
    // A trial that ended early (FAILED, CANCELLED) spent what it spent; the
    // rest of its plan is not ahead, and was never done.
    if (!IsEnded(trial.state())) flops_left += std::max(0.0, cost - spent);
  }
  for (const auto& [state, count] : counts) {
    v1::StateCount* entry = out.add_counts();
    entry->set_state(state);
    entry->set_count(count);
  }
  out.set_tokens_done(tokens_done);
  out.set_tokens_total(tokens_total);
  out.set_flops_done(flops_done);
  out.set_flops_total(flops_total);
  out.set_started_ms(times.started_ms);
  for (const SweepJob& job : jobs) {
    v1::LauncherJob* entry = out.add_jobs();
    entry->set_launcher(job.launcher);
    entry->set_job_id(job.job_id);
    entry->set_submitted_ms(job.submitted_ms);
  }
  if (sweep.cancelled) {
    out.set_state(v1::SWEEP_STATE_CANCELLED);
  } else if (all_ended) {
    out.set_state(v1::SWEEP_STATE_DONE);
  } else {
    out.set_state(v1::SWEEP_STATE_RUNNING);
    out.set_eta_seconds(EstimateSecondsLeft(flops_done, flops_left, times));
  }
  return out;
}

}  // namespace scalelaw::coordinator
