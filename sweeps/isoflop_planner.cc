// IsoFLOP design (Hoffmann et al. 2022, approach 2): at each compute budget,
// a log-spaced set of sizes, each trained on the tokens that spend exactly
// that budget, so a parabola through loss vs log N finds N_opt(C).
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "sweeps/model_shape.h"
#include "sweeps/planner.h"
#include "sweeps/spec_defaults.h"
#include "sweeps/spec_validator.h"

namespace scalelaw::sweeps {
namespace {

// `n` target counts log-spaced over [lo, hi], both ends included.
std::vector<double> LogSpaced(double lo, double hi, uint32_t n) {
  std::vector<double> values;
  for (uint32_t i = 0; i < n; ++i) {
    values.push_back(lo * std::pow(hi / lo, static_cast<double>(i) / (n - 1)));
  }
  return values;
}

}  // namespace

absl::StatusOr<std::vector<v1::TrialSpec>> PlanIsoflop(const v1::SweepSpec& spec,
                                                       std::string_view sweep_id) {
  SCALELAW_RETURN_IF_ERROR(ValidateSweepSpec(spec));
  const v1::IsoflopPlan& plan = spec.isoflop();
  const uint32_t vocab = VocabSizeOf(spec.data());
  std::vector<v1::TrialSpec> trials;
  for (int b = 0; b < plan.budgets_size(); ++b) {
    const double budget = plan.budgets(b);
    std::set<std::string> planned_shapes;
    for (double target : LogSpaced(plan.min_params(), plan.max_params(), plan.sizes_per_budget())) {
      const v1::ModelShape shape = ShapeForParams(target, spec.context(), vocab);
      if (!planned_shapes.insert(shape.SerializeAsString()).second) continue;
      const ParamCounts counts = CountParams(shape);
      const double flops_per_token = plan.flops() == "6n" ? FlopsPerToken6N(counts.total)
                                                          : FlopsPerToken(shape, counts.total);
      const uint64_t tokens_per_step = TokensPerStep(spec.training(), shape);
      const double steps = std::round(budget / flops_per_token / static_cast<double>(tokens_per_step));
      if (steps < 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "isoflop.budgets[", b, "]: ", budget, " FLOPs buy less than one optimiser step (",
            tokens_per_step, " tokens) of the ", counts.total,
            "-parameter size; raise the budget or lower isoflop.min_params"));
      }
      const auto tokens = static_cast<uint64_t>(steps) * tokens_per_step;
      for (uint64_t seed : spec.seeds()) {
        v1::TrialSpec& trial =
            trials.emplace_back(MakeTrial(spec, sweep_id, shape, target, tokens, seed));
        trial.set_trial_id(TrialId(sweep_id, trials.size() - 1));
        trial.set_budget(budget);
      }
    }
  }
  return trials;
}

}  // namespace scalelaw::sweeps
