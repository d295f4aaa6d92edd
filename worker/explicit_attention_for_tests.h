// The reference the attention tests compare with: nanoGPT's explicit form,
// softmax(q k^T / sqrt(hs) + M) v with M = -inf above the diagonal, heads as
// (B, H, T, hs). Test-only (causal_attention_test.cc, gpt_test.cc).
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace scalelaw::worker {

// qkv (B, T, 3 d) -> y (B, T, d), differentiable.
inline torch::Tensor ExplicitAttention(const torch::Tensor& qkv, int64_t n_head) {
  const int64_t batch = qkv.size(0), time = qkv.size(1), d = qkv.size(2) / 3;
  const int64_t hs = d / n_head;
  auto split = qkv.split(d, 2);
  auto heads = [&](const torch::Tensor& t) {
    return t.reshape({batch, time, n_head, hs}).transpose(1, 2);
  };
  torch::Tensor att = torch::matmul(heads(split[0]), heads(split[1]).transpose(-2, -1)) /
                      std::sqrt(static_cast<double>(hs));
  const torch::Tensor above = torch::ones({time, time}, torch::kBool).triu(1);
  att = torch::softmax(att.masked_fill(above, -std::numeric_limits<float>::infinity()), -1);
  return torch::matmul(att, heads(split[2])).transpose(1, 2).reshape({batch, time, d});
}

}  // namespace scalelaw::worker
