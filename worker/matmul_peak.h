// This machine's matrix-multiply peak as libtorch reaches it, the denominator
// of achieved-FLOP/s fractions (the CPU analogue of MFU: PaLM, Chowdhery et
// al. 2022, appendix B, divide by a measured rather than a datasheet peak).
//
// Free of libtorch, so benchmarks outside worker/ can call it.
#pragma once

#include "absl/status/statusor.h"

namespace scalelaw::worker {

struct MatmulPeak {
  double flops_per_second = 0.0;  // wall clock
  // Per CPU-second of the process (all its threads): on a machine shared
  // with other work it is what the cores reached while this process held
  // them, steadier than the wall-clock rate.
  double flops_per_cpu_second = 0.0;
};

// FLOP rates of torch::mm on square matrices (2 n^3 FLOPs per product) in
// float32, or bfloat16 when `bf16`: the best rate over n in {1024, 2048} on
// the CPU at `threads` intra-op threads, or over n in {4096, 8192} on the
// first CUDA device when `cuda`, each size timed for about `seconds` / 2
// after a warmup product. Sets torch's process-wide intra-op thread count to
// `threads` and leaves it there. Errors: InvalidArgument for threads < 1 or
// seconds <= 0, FailedPrecondition for `cuda` without a CUDA device, Internal
// for a libtorch error.
absl::StatusOr<MatmulPeak> MeasureMatmulPeak(int threads, bool bf16, double seconds = 1.0,
                                             bool cuda = false);

}  // namespace scalelaw::worker
