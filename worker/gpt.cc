#include "worker/gpt.h"

#include <torch/version.h>

#include <cmath>
#include <limits>

#include "worker/causal_attention.h"
#include "worker/causal_attention_bf16.h"

namespace scalelaw::worker {
namespace nn = torch::nn;

CausalSelfAttentionImpl::CausalSelfAttentionImpl(int64_t d_model, int64_t n_head, int64_t n_ctx)
    : n_head_(n_head) {
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(d_model, 3 * d_model).bias(true)));
  proj = register_module("proj", nn::Linear(nn::LinearOptions(d_model, d_model).bias(true)));
#if TORCH_VERSION_MAJOR < 2
  causal_mask_ = register_buffer(
      "causal_mask", torch::ones({n_ctx, n_ctx}, torch::kBool).tril().view({1, 1, n_ctx, n_ctx}));
#endif
}

torch::Tensor CausalSelfAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t batch = x.size(0), time = x.size(1), channels = x.size(2);
  const int64_t head_size = channels / n_head_;
  const torch::Tensor projected = qkv->forward(x);
#if TORCH_VERSION_MAJOR < 2
  // libtorch 1.x has no fused attention on the CPU: worker/causal_attention.h
  // (fp32) and worker/causal_attention_bf16.h (bf16 autocast) are ours. The
  // composite form below stays for CUDA and builds without BLAS or oneDNN.
  if (CausalAttentionRuns(projected)) return proj->forward(CausalAttention(projected, n_head_));
  if (CausalAttentionBf16Runs(projected, n_head_)) {
    return proj->forward(CausalAttentionBf16(projected, n_head_));
  }
#endif
  auto split = projected.split(channels, /*dim=*/2);
  auto heads = [&](const torch::Tensor& t) {
    return t.view({batch, time, n_head_, head_size}).transpose(1, 2);  // (B, H, T, hs)
  };
  const torch::Tensor q = heads(split[0]), k = heads(split[1]), v = heads(split[2]);
#if TORCH_VERSION_MAJOR >= 2
  torch::Tensor y = at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{},
                                                     /*dropout_p=*/0.0, /*is_causal=*/true);
  y = y.transpose(1, 2);
#else
  // softmax(q k^T / sqrt(hs) + M) v with M = 0 on and below the diagonal and
  // -inf above. The scale (alpha) and the mask (beta = 1 on M) ride in one
  // baddbmm: the (B H, T, T) scores are spared a full elementwise pass each
  // for the scale and for masked_fill, forward and backward, which the
  // explicit form (q k^T * scale, then masked_fill) pays. In fp32 the scores
  // are bit for bit the explicit form's: x + 0 is x and x + -inf is -inf.
  const torch::Tensor mask_bias =
      torch::zeros({time, time}, q.options())
          .masked_fill_(causal_mask_[0][0].narrow(0, 0, time).narrow(1, 0, time).logical_not(),
                        -std::numeric_limits<float>::infinity());
  auto batched = [&](const torch::Tensor& t) {
    return t.reshape({batch * n_head_, time, head_size});  // (B H, T, hs)
  };
  torch::Tensor att = torch::baddbmm(mask_bias, batched(q), batched(k).transpose(1, 2),
                                     /*beta=*/1.0, /*alpha=*/1.0 / std::sqrt(head_size));
  att = torch::softmax(att, /*dim=*/-1);
  torch::Tensor y =
      torch::bmm(att, batched(v)).view({batch, n_head_, time, head_size}).transpose(1, 2);
#endif
  y = y.contiguous().view({batch, time, channels});
  return proj->forward(y);
}

BlockImpl::BlockImpl(int64_t d_model, int64_t n_head, int64_t n_ctx) {
  ln_1 = register_module("ln_1", nn::LayerNorm(nn::LayerNormOptions({d_model})));
  attn = register_module("attn", CausalSelfAttention(d_model, n_head, n_ctx));
  ln_2 = register_module("ln_2", nn::LayerNorm(nn::LayerNormOptions({d_model})));
  fc = register_module("fc", nn::Linear(nn::LinearOptions(d_model, 4 * d_model).bias(true)));
  fc2 = register_module("fc2", nn::Linear(nn::LinearOptions(4 * d_model, d_model).bias(true)));
}

torch::Tensor BlockImpl::forward(torch::Tensor x) {
  x = x + attn->forward(ln_1->forward(x));
  return x + fc2->forward(torch::gelu(fc->forward(ln_2->forward(x))));
}

GptImpl::GptImpl(const v1::ModelShape& shape) : shape_(shape) {
  const int64_t d = shape.d_model();
  wte = register_module("wte", nn::Embedding(shape.vocab_size(), d));
  wpe = register_module("wpe", nn::Embedding(shape.n_ctx(), d));
  blocks = register_module("blocks", nn::ModuleList());
  for (uint32_t i = 0; i < shape.n_layer(); ++i) {
    blocks->push_back(Block(d, shape.n_head(), shape.n_ctx()));
  }
  ln_f = register_module("ln_f", nn::LayerNorm(nn::LayerNormOptions({d})));
  InitWeights();
}

void GptImpl::InitWeights() {
  torch::NoGradGuard no_grad;
  // GPT-2 (Radford et al. 2019, section 2.3) and nanoGPT: residual projections
  // are scaled by 1/sqrt(N) with N = 2 n_layer residual additions.
  const double residual_std = 0.02 / std::sqrt(2.0 * shape_.n_layer());
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* linear = module->as<nn::Linear>()) {
      linear->weight.normal_(0.0, 0.02);
      linear->bias.zero_();
    } else if (auto* embedding = module->as<nn::Embedding>()) {
      embedding->weight.normal_(0.0, 0.02);
    }
  }
  for (const auto& block : *blocks) {
    auto* b = block->as<BlockImpl>();
    b->attn->proj->weight.normal_(0.0, residual_std);
    b->fc2->weight.normal_(0.0, residual_std);
  }
}

torch::Tensor GptImpl::forward(const torch::Tensor& tokens) {
  const int64_t time = tokens.size(1);
  TORCH_CHECK(time <= static_cast<int64_t>(shape_.n_ctx()), "sequence of ", time,
              " tokens exceeds n_ctx ", shape_.n_ctx());
  const torch::Tensor positions =
      torch::arange(time, torch::TensorOptions().dtype(torch::kLong).device(tokens.device()));
  torch::Tensor x = wte->forward(tokens) + wpe->forward(positions);
  for (const auto& block : *blocks) x = block->as<BlockImpl>()->forward(x);
  x = ln_f->forward(x);
  return torch::matmul(x, wte->weight.t());  // tied output head
}

sweeps::ParamCounts GptImpl::CountParameters() const {
  sweeps::ParamCounts counts;
  for (const auto& p : parameters()) counts.total += static_cast<uint64_t>(p.numel());
  counts.embedding = static_cast<uint64_t>(wte->weight.numel() + wpe->weight.numel());
  counts.non_embedding = counts.total - counts.embedding;
  return counts;
}

}  // namespace scalelaw::worker
