#include "worker/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace scalelaw::worker {

LrSchedule MakeLrSchedule(double peak_lr, double min_lr_ratio, double warmup_fraction,
                          uint64_t total_steps) {
  LrSchedule schedule;
  schedule.peak_lr = peak_lr;
  schedule.min_lr_ratio = min_lr_ratio;
  schedule.total_steps = std::max<uint64_t>(total_steps, 1);
  const double warmup =
      std::ceil(std::clamp(warmup_fraction, 0.0, 1.0) * static_cast<double>(schedule.total_steps));
  schedule.warmup_steps = std::min(static_cast<uint64_t>(warmup), schedule.total_steps - 1);
  return schedule;
}

double GetLr(uint64_t step, const LrSchedule& schedule) {
  const double peak = schedule.peak_lr;
  if (step < schedule.warmup_steps) {
    return peak * static_cast<double>(step + 1) / static_cast<double>(schedule.warmup_steps);
  }
  const double floor = peak * schedule.min_lr_ratio;
  const uint64_t decay_steps = schedule.total_steps - 1 - schedule.warmup_steps;
  if (decay_steps == 0) return floor;
  const double progress = std::clamp(
      static_cast<double>(step - schedule.warmup_steps) / static_cast<double>(decay_steps), 0.0,
      1.0);
  return floor + 0.5 * (1.0 + std::cos(std::numbers::pi * progress)) * (peak - floor);
}

}  // namespace scalelaw::worker
