// `scalelaw-worker train` (and `scalelaw train`, which execs it): trains one
// trial locally, without a coordinator, to check a configuration, and prints
// a summary (one JSON object with --json).
//
//   scalelaw-worker train --corpus DIR --params P --tokens D [--seed S]
//                         [--threads T] [--context T] [--batch-size B] ... [--json]
//   scalelaw-worker train --data DIR ...   DIR prepared by `scalelaw data prepare`,
//                         nanoGPT's train.bin / val.bin, or a text directory
//
// The trial is planned exactly as a sweep plans it (sweeps/ defaults, shape
// rule, lr rule), from a one-size, one-budget, one-seed sweep.
//
// Free of libtorch: training goes through worker/trainer.h.
#pragma once

namespace scalelaw::worker {

// argv[0] is "train". Returns the process exit status: 0 when the trial ran
// (a diverged run included: it is a result), 1 when it could not, 2 on bad
// flags.
int RunTrainCommand(int argc, char** argv);

}  // namespace scalelaw::worker
