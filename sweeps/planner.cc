#include "sweeps/planner.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "sweeps/spec_validator.h"

namespace scalelaw::sweeps {

std::vector<uint64_t> TokenBudgets(const v1::SweepSpec& spec, uint64_t params) {
  std::vector<uint64_t> budgets;
  for (double tokens : spec.tokens()) budgets.push_back(static_cast<uint64_t>(std::llround(tokens)));
  for (double k : spec.tokens_per_param()) {
    budgets.push_back(static_cast<uint64_t>(std::llround(k * static_cast<double>(params))));
  }
  return budgets;
}

std::string BudgetField(const v1::SweepSpec& spec, size_t index) {
  const auto fixed = static_cast<size_t>(spec.tokens_size());
  return index < fixed ? absl::StrCat("tokens[", index, "]")
                       : absl::StrCat("tokens_per_param[", index - fixed, "]");
}

absl::StatusOr<std::vector<v1::TrialSpec>> PlanSweep(const v1::SweepSpec& spec,
                                                     std::string_view sweep_id) {
  absl::StatusOr<std::vector<v1::TrialSpec>> ladder;
  if (spec.isoflop().budgets_size() > 0) {
    ladder = PlanIsoflop(spec, sweep_id);
  } else if (spec.optimizer().schedule() == "wsd") {
    ladder = PlanWsd(spec, sweep_id);
  } else {
    ladder = PlanGrid(spec, sweep_id);
  }
  if (!ladder.ok() || !spec.has_forecast()) return ladder;
  SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::TrialSpec> targets,
                            PlanForecastTargets(spec, sweep_id, *ladder));
  for (v1::TrialSpec& target : targets) {
    target.set_trial_id(TrialId(sweep_id, ladder->size()));
    ladder->push_back(std::move(target));
  }
  return ladder;
}

absl::StatusOr<std::vector<v1::TrialSpec>> PlanGrid(const v1::SweepSpec& spec,
                                                    std::string_view sweep_id) {
  SCALELAW_RETURN_IF_ERROR(ValidateSweepSpec(spec));
  std::vector<v1::TrialSpec> trials;
  for (int m = 0; m < spec.models_size(); ++m) {
    const v1::ModelShape shape = ResolveShape(spec, spec.models(m));
    const ParamCounts counts = CountParams(shape);
    const uint64_t tokens_per_step = TokensPerStep(spec.training(), shape);
    const std::vector<uint64_t> budgets = TokenBudgets(spec, counts.total);
    for (size_t t = 0; t < budgets.size(); ++t) {
      if (budgets[t] < tokens_per_step) {
        return absl::InvalidArgumentError(absl::StrCat(
            BudgetField(spec, t), ": must be at least one optimiser step of models[", m,
            "] (batch size x n_ctx = ", tokens_per_step, " tokens), got ", budgets[t]));
      }
      for (uint64_t seed : spec.seeds()) {
        const double target = spec.models(m).has_target_params() ? spec.models(m).target_params() : 0;
        v1::TrialSpec& trial =
            trials.emplace_back(MakeTrial(spec, sweep_id, shape, target, budgets[t], seed));
        trial.set_trial_id(TrialId(sweep_id, trials.size() - 1));
      }
    }
  }
  return trials;
}

}  // namespace scalelaw::sweeps
