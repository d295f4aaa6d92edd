// Causal softmax attention under bf16 autocast on the CPU, straight from a
// fused qkv projection, forward and backward (libtorch 1.x has no fused
// attention there).
//
// The six products (Q K^T and P V forward; dY V^T, dS K, dS^T Q and P^T dY
// backward) are oneDNN bf16 matmuls, each one call per group of heads of one
// sequence (groups go to the threads), reading q, k, v and writing y and the
// qkv gradient in place through strides: no head transposes are copied. The scores and their
// gradient come out of the matmuls in fp32, and the softmax and its backward
// run on them row by row in fp32 (worker/attention_rows.h); only the
// probabilities and their gradient are rounded to bf16, as the next products
// read them. The composite form under autocast instead rounds the scores to
// bf16 and runs libtorch's bf16 softmax, and copies an additive mask, the
// heads and their gradients (bench/README.md has the figures).
// Needs libtorch 1.x built on the system oneDNN (Debian's) and libdnnl-dev:
// on libtorch 2.x, where the worker takes scaled_dot_product_attention,
// worker/CMakeLists.txt leaves it out.
//
// Internal to worker/: includes libtorch.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace scalelaw::worker {

// True when the worker should take CausalAttentionBf16 for `qkv`: this build
// has the kernel, the tensor is a CPU bf16 (B, T, 3 d) one, and oneDNN has a
// JIT (not reference) bf16 matmul for these shapes on this CPU (oneDNN 2.x
// has none without AVX-512; the worker then keeps the composite form).
bool CausalAttentionBf16Runs(const torch::Tensor& qkv, int64_t n_head);

// True when this build has the kernel at all (tests call it directly).
bool CausalAttentionBf16Built();

// qkv (B, T, 3 d) bf16: q, k, v side by side, each (B, T, n_head, d / n_head).
// Returns y (B, T, d) bf16, y = softmax(q k^T / sqrt(hs) + causal mask) v per
// head, heads laid out as in q. Differentiable with respect to qkv. Throws
// where this CPU's oneDNN has no bf16 matmul.
torch::Tensor CausalAttentionBf16(const torch::Tensor& qkv, int64_t n_head);

}  // namespace scalelaw::worker
