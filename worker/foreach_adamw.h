// AdamW and gradient clipping with libtorch's multi-tensor (_foreach_) ops.
//
// torch::optim::AdamW steps one parameter at a time: about ten kernels each,
// ~1,500 launches a step for a 12-layer model, which on a GPU cost more than
// the update itself. PyTorch's Python AdamW and clip_grad_norm_ take the
// multi-tensor path on CUDA by default; these do the same from C++. On the CPU
// the _foreach_ ops run the same per-tensor kernels, so the results are
// bitwise those of torch::optim::AdamW and torch::nn::utils::clip_grad_norm_
// (foreach_adamw_test.cc).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace scalelaw::worker {

// torch::optim::AdamW (decoupled weight decay, no amsgrad) with the same
// state, options and checkpoint format; only step() differs. Each param
// group's tensors with a gradient are updated together, which needs them all
// at the same step count (true when the trainer builds the optimiser; a
// c10::Error otherwise). No amsgrad, no sparse gradients.
class ForeachAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

// clip_grad_norm_(params, max_norm) for the L2 norm: scales the gradients by
// min(1, max_norm / (norm + 1e-6)) and returns the norm before clipping as a
// 0-dim tensor on the gradients' device (under libtorch >= 2.1 without
// waiting for the device; before, the scale is read back once).
torch::Tensor ForeachClipGradNorm(const std::vector<torch::Tensor>& params, double max_norm);

}  // namespace scalelaw::worker
