// The learning-rate schedule of one trial: linear warmup, then cosine decay to
// lr * min_lr_ratio that reaches its floor on the trial's last step, so the
// schedule ends exactly at the trial's own token budget (SCIENCE.md: reading
// an intermediate point of a longer cosine run as a shorter-D result biases
// every fit).
#pragma once

#include <cstdint>

namespace scalelaw::worker {

struct LrSchedule {
  double peak_lr = 0.0;
  double min_lr_ratio = 0.1;
  uint64_t warmup_steps = 0;
  uint64_t total_steps = 1;  // steps of the trial, >= 1
};

// Builds the schedule of a trial of `total_steps` steps whose first
// warmup_fraction of tokens (rounded up to whole steps) warm up.
LrSchedule MakeLrSchedule(double peak_lr, double min_lr_ratio, double warmup_fraction,
                          uint64_t total_steps);

// Learning rate of optimiser step `step` (0-based), as nanoGPT's get_lr:
//   step < W:  peak * (step + 1) / W
//   else:      floor + 0.5 * (1 + cos(pi * p)) * (peak - floor),
//              p = (step - W) / (total_steps - 1 - W) clamped to [0, 1],
//              floor = peak * min_lr_ratio.
// The last step (total_steps - 1) runs at the floor.
double GetLr(uint64_t step, const LrSchedule& schedule);

}  // namespace scalelaw::worker
