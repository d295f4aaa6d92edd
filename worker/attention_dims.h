// The sizes a CPU attention kernel reads off a fused qkv projection, and what
// it keeps for its backward (worker/causal_attention.h,
// worker/causal_attention_bf16.h).
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

// The forward's inputs the backward needs: the packed qkv, the softmax
// probabilities (B, H, T, T) and n_head.
inline void SaveForBackward(torch::autograd::AutogradContext* ctx, const torch::Tensor& packed,
                            const torch::Tensor& probs, int64_t n_head) {
  ctx->save_for_backward({packed, probs});
  ctx->saved_data["n_head"] = n_head;
}

struct SavedAttention {
  torch::Tensor packed, probs;
  AttentionDims dims;
};

inline SavedAttention LoadSaved(torch::autograd::AutogradContext* ctx, const char* kernel) {
  const auto saved = ctx->get_saved_variables();
  return {saved[0], saved[1], AttentionDimsOf(saved[0], ctx->saved_data["n_head"].toInt(), kernel)};
}

}  // namespace scalelaw::worker
