// The learning-rate schedule of one trial. Every shape warms up linearly,
// then decays to lr * min_lr_ratio so that it reaches its floor on the
// trial's last step: the schedule ends exactly at the trial's own token budget
// (SCIENCE.md: reading an intermediate point of a longer cosine run as a
// shorter-D result biases every fit).
//   cosine  decays from the end of warmup, as nanoGPT's get_lr;
//   linear  the same, linearly;
//   wsd     holds the peak until decay_start_step, then decays linearly over
//           the cooldown (Hägele et al. 2024). A WSD stable run never decays
//           (decay_start_step = total_steps).
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::worker {

enum class LrShape { kCosine, kLinear, kWsd };

struct LrSchedule {
  LrShape shape = LrShape::kCosine;
  double peak_lr = 0.0;
  double min_lr_ratio = 0.1;
  uint64_t warmup_steps = 0;
  uint64_t decay_start_step = 0;  // cosine, linear: warmup_steps
  uint64_t total_steps = 1;       // steps of the trial, >= 1
};

// The cosine or linear schedule of a trial of `total_steps` steps whose first
// warmup_fraction of tokens (rounded up to whole steps) warm up.
LrSchedule MakeLrSchedule(double peak_lr, double min_lr_ratio, double warmup_fraction,
                          uint64_t total_steps, LrShape shape = LrShape::kCosine);

// The schedule of `spec` trained in steps of `tokens_per_step` tokens. WSD
// trials take their warmup and decay start from spec.wsd() (shared with their
// stable run); a WSD trial planned alone cools down over its last
// cooldown_fraction of steps. InvalidArgument for an unknown schedule.
absl::StatusOr<LrSchedule> ScheduleOfTrial(const v1::TrialSpec& spec, uint64_t tokens_per_step);

// Learning rate of optimiser step `step` (0-based):
//   step < W:   peak * (step + 1) / W
//   step < S:   peak                              (S = decay_start_step)
//   else:       floor + f(p) * (peak - floor),  p = (step - S) / (total_steps - 1 - S)
//               clamped to [0, 1], f = 0.5 (1 + cos(pi p)) for cosine, 1 - p otherwise,
//               floor = peak * min_lr_ratio.
// The last step (total_steps - 1) runs at the floor unless the schedule never decays.
double GetLr(uint64_t step, const LrSchedule& schedule);

}  // namespace scalelaw::worker
