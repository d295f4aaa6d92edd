// Forecast targets (issue 14): trials planned after the ladder, leased only
// once the coordinator has stored a forecast of them fitted on the ladder.
#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "sweeps/model_shape.h"
#include "sweeps/planner.h"

namespace scalelaw::sweeps {
namespace {

// Fewer ladder sizes or points than this cannot identify the five parameters
// of L(N, D) = E + A/N^α + B/D^β (three sizes for E, A and α).
constexpr size_t kMinLadderSizes = 3;
constexpr size_t kMinLadderPoints = 5;

bool IsFitPoint(const v1::TrialSpec& trial) {
  return trial.wsd().role() != v1::TRIAL_ROLE_WSD_STABLE;
}

double SixND(const v1::TrialSpec& trial) {
  return 6.0 * static_cast<double>(trial.params()) * static_cast<double>(trial.tokens());
}

absl::Status CheckLadder(const std::vector<v1::TrialSpec>& ladder) {
  std::set<uint64_t> sizes;
  size_t points = 0;
  for (const v1::TrialSpec& trial : ladder) {
    if (!IsFitPoint(trial)) continue;
    sizes.insert(trial.params());
    ++points;
  }
  if (sizes.size() < kMinLadderSizes || points < kMinLadderPoints) {
    return absl::InvalidArgumentError(absl::StrCat(
        "forecast: the ladder (models x tokens) has ", sizes.size(), " model sizes and ", points,
        " fit points; a forecast needs at least ", kMinLadderSizes, " sizes and ", kMinLadderPoints,
        " points to fit L(N, D) = E + A/N^alpha + B/D^beta"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string ForecastTargetName(const v1::ForecastPlan& plan, int index) {
  const std::string& name = plan.targets(index).name();
  return name.empty() ? absl::StrCat("target", index) : name;
}

absl::StatusOr<std::vector<v1::TrialSpec>> PlanForecastTargets(
    const v1::SweepSpec& spec, std::string_view sweep_id,
    const std::vector<v1::TrialSpec>& ladder) {
  SCALELAW_RETURN_IF_ERROR(CheckLadder(ladder));
  const v1::TrialSpec* largest = nullptr;
  uint64_t warmup_tokens = 0;
  for (const v1::TrialSpec& trial : ladder) {
    if (!IsFitPoint(trial)) continue;
    if (largest == nullptr || SixND(trial) > SixND(*largest)) largest = &trial;
    warmup_tokens = std::max(warmup_tokens, trial.wsd().warmup_tokens());
  }
  const double ladder_compute = SixND(*largest);
  const uint64_t seed = spec.seeds(0);

  std::vector<v1::TrialSpec> targets;
  for (int i = 0; i < spec.forecast().targets_size(); ++i) {
    const v1::ForecastTarget& target = spec.forecast().targets(i);
    const std::string field = absl::StrCat("forecast.targets[", i, "]");
    v1::TrialSpec trial;
    double compute = target.compute();
    if (compute > 0) {
      // Sized when the forecast is stored, from the fitted optimum; until
      // then it holds the ladder's largest shape and no tokens.
      trial = MakeTrial(spec, sweep_id, largest->shape(), 0, /*tokens=*/0, seed);
      trial.set_flops(compute);
    } else {
      const v1::ModelShape shape = ResolveShape(spec, target.size());
      const double target_params =
          target.size().has_target_params() ? target.size().target_params() : 0;
      const auto tokens = static_cast<uint64_t>(std::llround(target.tokens()));
      const uint64_t tokens_per_step = TokensPerStep(spec.training(), shape);
      if (tokens < 2 * tokens_per_step) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ".tokens: must be at least two optimiser steps (",
                         2 * tokens_per_step, " tokens), got ", tokens));
      }
      trial = MakeTrial(spec, sweep_id, shape, target_params, tokens, seed);
      compute = SixND(trial);
    }
    if (compute <= ladder_compute) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": its compute (6ND = ", absl::StrFormat("%.3g", compute),
                       " FLOPs) is inside the ladder's range: the largest ladder trial, ",
                       largest->trial_id(), ", spends ", absl::StrFormat("%.3g", ladder_compute),
                       " FLOPs; a forecast target must lie beyond every trial it is fitted on"));
    }
    // A WSD ladder's points share one warmup per size; the target warms up
    // as they did, then is one whole WSD run (the same trajectory as a
    // stable run and one cooldown branch of its length).
    if (spec.optimizer().schedule() == "wsd" && warmup_tokens > 0) {
      trial.mutable_wsd()->set_warmup_tokens(warmup_tokens);
    }
    trial.set_forecast_target(ForecastTargetName(spec.forecast(), i));
    targets.push_back(std::move(trial));
  }
  return targets;
}

}  // namespace scalelaw::sweeps
