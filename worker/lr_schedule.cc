#include "worker/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "absl/strings/str_cat.h"

namespace scalelaw::worker {
namespace {

uint64_t WarmupSteps(double warmup_fraction, uint64_t total_steps) {
  const double warmup =
      std::ceil(std::clamp(warmup_fraction, 0.0, 1.0) * static_cast<double>(total_steps));
  return std::min(static_cast<uint64_t>(warmup), total_steps - 1);
}

}  // namespace

LrSchedule MakeLrSchedule(double peak_lr, double min_lr_ratio, double warmup_fraction,
                          uint64_t total_steps, LrShape shape) {
  LrSchedule schedule;
  schedule.shape = shape;
  schedule.peak_lr = peak_lr;
  schedule.min_lr_ratio = min_lr_ratio;
  schedule.total_steps = std::max<uint64_t>(total_steps, 1);
  schedule.warmup_steps = WarmupSteps(warmup_fraction, schedule.total_steps);
  schedule.decay_start_step = schedule.warmup_steps;
  return schedule;
}

absl::StatusOr<LrSchedule> ScheduleOfTrial(const v1::TrialSpec& spec, uint64_t tokens_per_step) {
  const v1::OptimizerConfig& opt = spec.optimizer();
  const uint64_t total_steps = std::max<uint64_t>(
      1, (spec.tokens() + tokens_per_step - 1) / tokens_per_step);
  if (opt.schedule() == "cosine" || opt.schedule().empty()) {
    return MakeLrSchedule(opt.lr(), opt.min_lr_ratio(), opt.warmup_fraction(), total_steps);
  }
  if (opt.schedule() == "linear") {
    return MakeLrSchedule(opt.lr(), opt.min_lr_ratio(), opt.warmup_fraction(), total_steps,
                          LrShape::kLinear);
  }
  if (opt.schedule() != "wsd") {
    return absl::InvalidArgumentError(absl::StrCat(
        "optimizer.schedule: expected \"cosine\", \"linear\" or \"wsd\", got \"", opt.schedule(),
        "\""));
  }
  LrSchedule schedule =
      MakeLrSchedule(opt.lr(), opt.min_lr_ratio(), opt.warmup_fraction(), total_steps,
                     LrShape::kWsd);
  const v1::WsdPlacement& wsd = spec.wsd();
  switch (wsd.role()) {
    case v1::TRIAL_ROLE_WSD_STABLE:
    case v1::TRIAL_ROLE_WSD_COOLDOWN:
      schedule.warmup_steps = std::min(wsd.warmup_tokens() / tokens_per_step, total_steps - 1);
      schedule.decay_start_step = wsd.role() == v1::TRIAL_ROLE_WSD_STABLE
                                      ? total_steps
                                      : wsd.decay_start_tokens() / tokens_per_step;
      break;
    default: {
      // A forecast target of a WSD ladder warms up as the ladder's rows did.
      if (wsd.warmup_tokens() > 0) {
        schedule.warmup_steps = std::min(wsd.warmup_tokens() / tokens_per_step, total_steps - 1);
      }
      const auto cooldown = static_cast<uint64_t>(
          std::llround(opt.cooldown_fraction() * static_cast<double>(total_steps)));
      schedule.decay_start_step =
          std::max(schedule.warmup_steps, total_steps - std::clamp<uint64_t>(cooldown, 1, total_steps));
      break;
    }
  }
  return schedule;
}

double GetLr(uint64_t step, const LrSchedule& schedule) {
  const double peak = schedule.peak_lr;
  if (step < schedule.warmup_steps) {
    return peak * static_cast<double>(step + 1) / static_cast<double>(schedule.warmup_steps);
  }
  if (step < schedule.decay_start_step) return peak;
  if (schedule.decay_start_step >= schedule.total_steps) return peak;  // a WSD stable run
  const double floor = peak * schedule.min_lr_ratio;
  const uint64_t decay_steps = schedule.total_steps - 1 - schedule.decay_start_step;
  if (decay_steps == 0) return floor;
  const double progress =
      std::clamp(static_cast<double>(step - schedule.decay_start_step) /
                     static_cast<double>(decay_steps),
                 0.0, 1.0);
  const double remaining = schedule.shape == LrShape::kCosine
                               ? 0.5 * (1.0 + std::cos(std::numbers::pi * progress))
                               : 1.0 - progress;
  return floor + remaining * (peak - floor);
}

}  // namespace scalelaw::worker
