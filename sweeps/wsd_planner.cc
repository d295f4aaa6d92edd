// Warmup-stable-decay design (SCIENCE.md; Hägele et al. 2024): per size, one
// run at constant learning rate keeps a checkpoint where each budget's
// cooldown must start; each branch restarts from there and decays over its
// last cooldown_fraction of tokens. A row of the grid costs about one long
// run plus the cooldowns.
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "sweeps/planner.h"
#include "sweeps/spec_validator.h"

namespace scalelaw::sweeps {

absl::StatusOr<std::vector<v1::TrialSpec>> PlanWsd(const v1::SweepSpec& spec,
                                                   std::string_view sweep_id) {
  SCALELAW_RETURN_IF_ERROR(ValidateSweepSpec(spec));
  const double cooldown = spec.optimizer().cooldown_fraction();
  std::vector<v1::TrialSpec> trials;
  for (int m = 0; m < spec.models_size(); ++m) {
    const v1::ModelShape shape = ResolveShape(spec, spec.models(m));
    const ParamCounts counts = CountParams(shape);
    const double target = spec.models(m).has_target_params() ? spec.models(m).target_params() : 0;
    const uint64_t tokens_per_step = TokensPerStep(spec.training(), shape);
    std::vector<uint64_t> budgets = TokenBudgets(spec, counts.total);
    std::sort(budgets.begin(), budgets.end());
    budgets.erase(std::unique(budgets.begin(), budgets.end()), budgets.end());

    // Where each branch leaves the stable run, in whole steps.
    std::vector<uint64_t> decay_start_steps;
    for (uint64_t budget : budgets) {
      const uint64_t steps = StepsFor(budget, tokens_per_step);
      const uint64_t cooldown_steps = std::max<uint64_t>(
          1, static_cast<uint64_t>(std::llround(cooldown * static_cast<double>(steps))));
      if (steps <= cooldown_steps) {
        return absl::InvalidArgumentError(absl::StrCat(
            "models[", m, "]: token budget ", budget, " is ", steps,
            " optimiser steps, too few for a stable phase before a cooldown of ", cooldown_steps,
            " steps (optimizer.cooldown_fraction ", cooldown, ")"));
      }
      decay_start_steps.push_back(steps - cooldown_steps);
    }
    const auto warmup_steps = static_cast<uint64_t>(std::ceil(
        spec.optimizer().warmup_fraction() * static_cast<double>(StepsFor(budgets.front(), tokens_per_step))));
    if (warmup_steps > decay_start_steps.front()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "optimizer.warmup_fraction: warmup of ", warmup_steps,
          " steps must end before the first cooldown of models[", m, "] starts (step ",
          decay_start_steps.front(), ")"));
    }

    for (uint64_t seed : spec.seeds()) {
      v1::TrialSpec& stable = trials.emplace_back(MakeTrial(
          spec, sweep_id, shape, target, decay_start_steps.back() * tokens_per_step, seed));
      stable.set_trial_id(TrialId(sweep_id, trials.size() - 1));
      v1::WsdPlacement* placement = stable.mutable_wsd();
      placement->set_role(v1::TRIAL_ROLE_WSD_STABLE);
      placement->set_warmup_tokens(warmup_steps * tokens_per_step);
      for (uint64_t step : decay_start_steps) placement->add_branch_tokens(step * tokens_per_step);
      const std::string stable_id = stable.trial_id();

      for (size_t i = 0; i < budgets.size(); ++i) {
        v1::TrialSpec& branch =
            trials.emplace_back(MakeTrial(spec, sweep_id, shape, target, budgets[i], seed));
        branch.set_trial_id(TrialId(sweep_id, trials.size() - 1));
        v1::WsdPlacement* branch_placement = branch.mutable_wsd();
        branch_placement->set_role(v1::TRIAL_ROLE_WSD_COOLDOWN);
        branch_placement->set_stable_trial_id(stable_id);
        branch_placement->set_warmup_tokens(warmup_steps * tokens_per_step);
        branch_placement->set_decay_start_tokens(decay_start_steps[i] * tokens_per_step);
      }
    }
  }
  return trials;
}

}  // namespace scalelaw::sweeps
