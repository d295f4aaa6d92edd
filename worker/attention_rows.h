// The row-at-a-time parts of the CPU attention kernels (worker/causal_attention.h,
// worker/causal_attention_bf16.h): the causal softmax of one row of scores, its
// backward, and bfloat16 <-> float rows. Built -O3 -fno-trapping-math so that
// GCC vectorises them (worker/CMakeLists.txt). No libtorch.
#pragma once

#include <cstdint>

namespace scalelaw::worker {

// Row i of the probabilities, in place: p[0..n) = softmax(p[0..n)),
// p[n..width) = 0 (the keys after the query).
void SoftmaxRow(float* p, int n, int width);

// Softmax backward for one row, in place on dp:
//   ds_j = scale p_j (dp_j - sum_k p_k dp_k)  for j < n,  0 after.
// `scale` is the 1/sqrt(hs) that multiplied the scores.
void SoftmaxBackwardRow(const float* p, float* dp, int n, int width, float scale);

// bfloat16 as its bits (the upper half of a float), as c10::BFloat16 stores it.
using Bf16Bits = uint16_t;

// SoftmaxRow on p, written rounded to bf16 into out[0..width); p is scratch.
void SoftmaxRowToBf16(float* p, Bf16Bits* out, int n, int width);

// SoftmaxBackwardRow with the probabilities in bf16, dS rounded to bf16 into
// ds[0..width).
void SoftmaxBackwardRowBf16(const Bf16Bits* p, const float* dp, Bf16Bits* ds, int n, int width,
                            float scale);

// out[j] = in[j] rounded to the nearest bfloat16, ties to even, NaN kept NaN
// (c10::BFloat16's rounding).
void RoundToBf16(const float* in, Bf16Bits* out, int n);

// out[j] = in[j] as a float (exact).
void WidenBf16(const Bf16Bits* in, float* out, int n);

}  // namespace scalelaw::worker
