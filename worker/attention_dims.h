// The sizes a CPU attention kernel reads off a fused qkv projection
// (worker/causal_attention.h, worker/causal_attention_bf16.h).
// Internal to worker/: includes libtorch.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <cstdint>

namespace scalelaw::worker {

struct AttentionDims {
  int64_t batch, time, d, n_head, head_size;
  float scale;  // 1 / sqrt(head_size), the scores' factor
};

// qkv must be (B, T, 3 d) with d a multiple of n_head; `kernel` names the
// caller in the error.
inline AttentionDims AttentionDimsOf(const torch::Tensor& qkv, int64_t n_head, const char* kernel) {
  TORCH_CHECK(n_head > 0 && qkv.dim() == 3 && qkv.size(2) % (3 * n_head) == 0, kernel,
              ": qkv of shape ", qkv.sizes(), " is not (B, T, 3 d) with d a multiple of n_head ",
              n_head);
  AttentionDims dims{qkv.size(0), qkv.size(1), qkv.size(2) / 3, n_head, qkv.size(2) / 3 / n_head,
                     0.0f};
  dims.scale = 1.0f / std::sqrt(static_cast<float>(dims.head_size));
  return dims;
}

}  // namespace scalelaw::worker
