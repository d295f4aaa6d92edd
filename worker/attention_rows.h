// The row-at-a-time parts of the CPU attention kernels (worker/causal_attention.h,
// worker/causal_attention_bf16.h): the causal softmax of one row of scores and
// its backward, in fp32 and with bf16 probabilities. Built -O3 -fno-trapping-math so that
// GCC vectorises them (worker/CMakeLists.txt). No libtorch.
#pragma once

#include <cstdint>

#include "worker/bf16_bits.h"

namespace scalelaw::worker {

// Row i of the probabilities, in place: p[0..n) = softmax(p[0..n)),
// p[n..width) = 0 (the keys after the query).
void SoftmaxRow(float* p, int n, int width);

// Softmax backward for one row, in place on dp:
//   ds_j = scale p_j (dp_j - sum_k p_k dp_k)  for j < n,  0 after.
// `scale` is the 1/sqrt(hs) that multiplied the scores.
void SoftmaxBackwardRow(const float* p, float* dp, int n, int width, float scale);

// SoftmaxRow on p, written rounded to bf16 into out[0..width); p is scratch.
void SoftmaxRowToBf16(float* p, Bf16Bits* out, int n, int width);

// SoftmaxBackwardRow with the probabilities in bf16, dS rounded to bf16 into
// ds[0..width).
void SoftmaxBackwardRowBf16(const Bf16Bits* p, const float* dp, Bf16Bits* ds, int n, int width,
                            float scale);

}  // namespace scalelaw::worker
