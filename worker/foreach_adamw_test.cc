#include "worker/foreach_adamw.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>
#include <vector>

namespace scalelaw::worker {
namespace {

// Tensors shaped like a small model's: matrices (decayed) and vectors (not).
std::vector<torch::Tensor> MakeParams(uint64_t seed) {
  torch::manual_seed(static_cast<int64_t>(seed));
  std::vector<torch::Tensor> params;
  for (const auto& shape : std::vector<std::vector<int64_t>>{{48, 16}, {16}, {16, 64}, {64}, {7}}) {
    params.push_back(torch::randn(shape).requires_grad_(true));
  }
  return params;
}

std::vector<torch::optim::OptimizerParamGroup> Groups(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> decayed, not_decayed;
  for (const auto& p : params) (p.dim() >= 2 ? decayed : not_decayed).push_back(p);
  auto options = [](double weight_decay) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(3e-3).betas({0.9, 0.95}).eps(1e-8).weight_decay(weight_decay));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decayed, options(0.1));
  groups.emplace_back(not_decayed, options(0.0));
  return groups;
}

// The same gradients for both parameter sets, scaled up so clipping acts on
// some steps and not on others.
void SetGradients(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b,
                  int step) {
  for (size_t i = 0; i < a.size(); ++i) {
    const torch::Tensor g = torch::randn(a[i].sizes()) * (step % 2 == 0 ? 0.01 : 3.0);
    a[i].mutable_grad() = g.clone();
    b[i].mutable_grad() = g.clone();
  }
}

TEST(ForeachAdamWTest, StepsBitwiseAsTorchAdamW) {
  const std::vector<torch::Tensor> ours = MakeParams(1), theirs = MakeParams(1);
  ForeachAdamW foreach_adamw(Groups(ours));
  torch::optim::AdamW adamw(Groups(theirs));
  for (int step = 0; step < 12; ++step) {
    // The learning rate changes every step, as the schedule sets it.
    for (auto* optimizer : std::vector<torch::optim::Optimizer*>{&foreach_adamw, &adamw}) {
      for (auto& group : optimizer->param_groups()) {
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(1e-3 * (1 + step % 5));
      }
    }
    SetGradients(ours, theirs, step);
    foreach_adamw.step();
    adamw.step();
    for (size_t i = 0; i < ours.size(); ++i) {
      ASSERT_TRUE(torch::equal(ours[i], theirs[i])) << "tensor " << i << ", step " << step;
    }
  }
  // A parameter changed by the steps, and weight decay reached the matrices.
  EXPECT_FALSE(torch::equal(ours[0], MakeParams(1)[0]));
}

TEST(ForeachAdamWTest, StateSavedByOneLoadsIntoTheOther) {
  const std::vector<torch::Tensor> ours = MakeParams(2), theirs = MakeParams(2);
  ForeachAdamW foreach_adamw(Groups(ours));
  torch::optim::AdamW adamw(Groups(theirs));
  for (int step = 0; step < 3; ++step) {
    SetGradients(ours, theirs, step);
    foreach_adamw.step();
    adamw.step();
  }
  // Checkpoints written before this class existed resume under it.
  torch::serialize::OutputArchive archive;
  adamw.save(archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  const std::vector<torch::Tensor> resumed = MakeParams(2);
  for (size_t i = 0; i < resumed.size(); ++i) resumed[i].data().copy_(theirs[i].data());
  ForeachAdamW loaded(Groups(resumed));
  torch::serialize::InputArchive in;
  std::istringstream read(bytes.str());
  in.load_from(read);
  loaded.load(in);
  SetGradients(resumed, theirs, 3);
  loaded.step();
  adamw.step();
  for (size_t i = 0; i < resumed.size(); ++i) {
    EXPECT_TRUE(torch::equal(resumed[i], theirs[i])) << "tensor " << i;
  }
}

TEST(ForeachClipGradNormTest, ClipsBitwiseAsClipGradNorm) {
  for (const double scale : {0.01, 3.0}) {  // below and above the limit
    const std::vector<torch::Tensor> ours = MakeParams(3), theirs = MakeParams(3);
    for (size_t i = 0; i < ours.size(); ++i) {
      const torch::Tensor g = torch::randn(ours[i].sizes()) * scale;
      ours[i].mutable_grad() = g.clone();
      theirs[i].mutable_grad() = g.clone();
    }
    const double norm = ForeachClipGradNorm(ours, 1.0).item<double>();
    const double expected = torch::nn::utils::clip_grad_norm_(theirs, 1.0);
    EXPECT_EQ(norm, expected) << "scale " << scale;
    EXPECT_EQ(norm > 1.0, scale > 1.0);
    for (size_t i = 0; i < ours.size(); ++i) {
      EXPECT_TRUE(torch::equal(ours[i].grad(), theirs[i].grad())) << "tensor " << i;
    }
  }
  // Parameters without a gradient are skipped, as clip_grad_norm_ skips them.
  const std::vector<torch::Tensor> none = MakeParams(4);
  EXPECT_EQ(ForeachClipGradNorm(none, 1.0).item<double>(), 0.0);
}

}  // namespace
}  // namespace scalelaw::worker
