#include "worker/foreach_adamw.h"

#include <torch/version.h>

#include <cmath>
#include <sstream>
#include <string>
#include <type_traits>

namespace scalelaw::worker {
namespace {

// The key of Optimizer::state_: the TensorImpl's address as a string in
// libtorch 1.x, the address itself from 2.x.
template <typename Key>
Key StateKey(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream address;  // as c10::guts::to_string writes a pointer
    address << p.unsafeGetTensorImpl();
    return address.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

}  // namespace

torch::Tensor ForeachAdamW::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss = {};
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  using Key = typename std::remove_reference_t<decltype(state_)>::key_type;
  for (auto& group : param_groups_) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
    TORCH_CHECK(!options.amsgrad(), "ForeachAdamW: amsgrad is not supported");
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs;
    std::vector<torch::optim::AdamWParamState*> states;
    for (const auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      TORCH_CHECK(!p.grad().is_sparse(), "ForeachAdamW: sparse gradients are not supported");
      auto& slot = state_[StateKey<Key>(p)];
      if (slot == nullptr) {  // as AdamW::step initialises a parameter's state
        auto state = std::make_unique<torch::optim::AdamWParamState>();
        state->step(0);
        state->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        state->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(state);
      }
      auto* state = static_cast<torch::optim::AdamWParamState*>(slot.get());
      params.push_back(p);
      grads.push_back(p.grad());
      exp_avgs.push_back(state->exp_avg());
      exp_avg_sqs.push_back(state->exp_avg_sq());
      states.push_back(state);
    }
    if (params.empty()) continue;
    for (const auto* state : states) {
      TORCH_CHECK(state->step() == states[0]->step(),
                  "ForeachAdamW: a param group's tensors are at different step counts");
    }
    for (auto* state : states) state->step(state->step() + 1);
    const auto step = static_cast<double>(states[0]->step());
    const double beta1 = std::get<0>(options.betas()), beta2 = std::get<1>(options.betas());
    const double bias_correction1 = 1 - std::pow(beta1, step);
    const double bias_correction2 = 1 - std::pow(beta2, step);

    // AdamW::step's arithmetic, in its order, one op over the whole group.
    if (options.weight_decay() != 0) {
      at::_foreach_mul_(params, 1 - options.lr() * options.weight_decay());
    }
    at::_foreach_mul_(exp_avgs, beta1);
    at::_foreach_add_(exp_avgs, grads, 1 - beta1);
    at::_foreach_mul_(exp_avg_sqs, beta2);
    at::_foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2);
    std::vector<torch::Tensor> denoms = at::_foreach_sqrt(exp_avg_sqs);
    at::_foreach_div_(denoms, std::sqrt(bias_correction2));
    at::_foreach_add_(denoms, options.eps());
    at::_foreach_addcdiv_(params, exp_avgs, denoms, -options.lr() / bias_correction1);
  }
  return loss;
}

torch::Tensor ForeachClipGradNorm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return torch::zeros({});
  const std::vector<torch::Tensor> norms = at::_foreach_norm(grads, 2);
  const torch::Tensor total = norms.size() == 1 ? norms[0] : torch::stack(norms).norm(2);
  const torch::Tensor coefficient =
      torch::clamp(max_norm / (total + 1e-6), /*min=*/c10::nullopt, /*max=*/1.0);
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  at::_foreach_mul_(grads, coefficient);  // the coefficient stays on the device
#else
  // libtorch < 2.1 has no _foreach_mul_ by a tensor: one sync for the scalar.
  at::_foreach_mul_(grads, coefficient.item<double>());
#endif
  return total;
}

}  // namespace scalelaw::worker
