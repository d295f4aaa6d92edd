// The decoder-only transformer every trial trains (GPT-2 / nanoGPT layout).
//
//   token embedding wte (vocab x d), tied with the output head
//   learned position embedding wpe (n_ctx x d)
//   n_layer pre-LayerNorm blocks:
//     x += proj(causal_attention(qkv(ln_1(x))))     qkv Linear(d, 3d), proj Linear(d, d)
//     x += fc2(gelu(fc(ln_2(x))))                   fc Linear(d, 4d), fc2 Linear(4d, d)
//   final LayerNorm, logits = x wte^T
//
// Its parameters are exactly those counted by sweeps::CountParams
// (sweeps/accounting.h); gpt_test checks the two agree.
//
// Internal to worker/: this header includes libtorch, so code outside worker/
// must not include it.
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "scalelaw/v1/coordinator.pb.h"
#include "sweeps/accounting.h"

namespace scalelaw::worker {

class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  CausalSelfAttentionImpl(int64_t d_model, int64_t n_head, int64_t n_ctx);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, d) -> (B, T, d)

  torch::nn::Linear qkv{nullptr};
  torch::nn::Linear proj{nullptr};

 private:
  int64_t n_head_;
  torch::Tensor causal_mask_;  // (n_ctx, n_ctx) bool buffer; unused on libtorch >= 2
};
TORCH_MODULE(CausalSelfAttention);

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(int64_t d_model, int64_t n_head, int64_t n_ctx);
  torch::Tensor forward(torch::Tensor x);

  torch::nn::LayerNorm ln_1{nullptr};
  CausalSelfAttention attn{nullptr};
  torch::nn::LayerNorm ln_2{nullptr};
  torch::nn::Linear fc{nullptr};
  torch::nn::Linear fc2{nullptr};
};
TORCH_MODULE(Block);

class GptImpl : public torch::nn::Module {
 public:
  // Initialises like GPT-2: weights N(0, 0.02), biases 0, and the residual
  // projections (attn.proj, fc2) N(0, 0.02 / sqrt(2 n_layer)). Draws from
  // torch's global generator: seed it first for a reproducible model.
  explicit GptImpl(const v1::ModelShape& shape);

  // tokens (B, T) int64 with T <= n_ctx -> logits (B, T, vocab).
  torch::Tensor forward(const torch::Tensor& tokens);

  // Counts the built model's parameters (the tied head once).
  sweeps::ParamCounts CountParameters() const;

  const v1::ModelShape& shape() const { return shape_; }

  torch::nn::Embedding wte{nullptr};
  torch::nn::Embedding wpe{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm ln_f{nullptr};

 private:
  void InitWeights();

  v1::ModelShape shape_;
};
TORCH_MODULE(Gpt);

}  // namespace scalelaw::worker
