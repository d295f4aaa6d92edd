// Causal softmax attention straight from a fused qkv projection, forward and
// backward written for the CPU (libtorch 1.x has no fused attention there).
//
// Against the composite form (reshape q, k and v to (B H, T, hs), baddbmm,
// softmax, bmm, transpose back) it
//   - reads q, k, v in place inside the (B, T, 3d) projection and writes y in
//     place as (B, T, d), so no head transposes are copied, forward or back;
//   - multiplies only the blocks of 64 queries x 64 keys on and below the
//     diagonal: a query never meets a later key, so a quarter of the T x T
//     work is skipped at T = 128 and nearly half at long contexts;
//   - does the softmax and its backward one row at a time while the row is
//     in cache.
// fp32 only: under bf16 autocast the worker takes worker/causal_attention_bf16.h,
// whose products are oneDNN's bf16 matmuls (this kernel's fp32 ones lost even
// to the composite form there: bench/README.md).
// The outputs and gradients equal the explicit form's within fp32 rounding
// (causal_attention_test.cc, gpt_test.cc).
//
// Internal to worker/: includes libtorch.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace scalelaw::worker {

// True when CausalAttention can take `qkv`: this build has a BLAS to call
// and the tensor is a CPU float tensor.
bool CausalAttentionRuns(const torch::Tensor& qkv);

// qkv (B, T, 3 d): q, k, v side by side, each (B, T, n_head, d / n_head);
// call only where CausalAttentionRuns(qkv).
// Returns y (B, T, d), y = softmax(q k^T / sqrt(hs) + causal mask) v per head,
// heads laid out as in q. Differentiable with respect to qkv.
torch::Tensor CausalAttention(const torch::Tensor& qkv, int64_t n_head);

}  // namespace scalelaw::worker
