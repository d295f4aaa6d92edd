// Sweep spec YAML -> ParseSweepSpec (parse, defaults, ValidateSweepSpec) ->
// the path-root check -> PlanSweep. Any input may be refused with an error;
// none may crash, and a spec the parser accepts must validate again and plan
// within the trial cap.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/limits.h"
#include "sweeps/planner.h"
#include "sweeps/spec_parser.h"
#include "sweeps/spec_validator.h"

namespace {

// Plans bigger than this are validated but not built: the validator already
// refuses more than kMaxTrialsPerSweep, and building 1e5 TrialSpecs per input
// under ASan would make every large grid a libFuzzer timeout.
constexpr double kMaxPlannedTrials = 2000;

double TrialsAtMost(const scalelaw::v1::SweepSpec& spec) {
  const double seeds = spec.seeds_size();
  const double budgets = spec.tokens_size() + spec.tokens_per_param_size() + 1;
  const double isoflop =
      spec.isoflop().budgets_size() * static_cast<double>(spec.isoflop().sizes_per_budget());
  return (spec.models_size() * budgets + isoflop) * seeds + spec.forecast().targets_size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace scalelaw;
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<v1::SweepSpec> spec = sweeps::ParseSweepSpec(yaml, "fuzz.yaml");
  if (!spec.ok()) return 0;
  // What the parser accepted, the coordinator's SubmitSweep must accept too.
  if (!sweeps::ValidateSweepSpec(*spec).ok()) std::abort();
  (void)sweeps::ValidateSweepPathRoots(*spec, {"/tmp/scalelaw-fuzz-root"});
  if (TrialsAtMost(*spec) > kMaxPlannedTrials) return 0;
  absl::StatusOr<std::vector<v1::TrialSpec>> trials = sweeps::PlanSweep(*spec, "fuzz-1");
  if (trials.ok() && trials->size() > limits::kMaxTrialsPerSweep) std::abort();
  return 0;
}
