#include "worker/gpt.h"

#include <gtest/gtest.h>

#include "sweeps/accounting.h"
#include "sweeps/model_shape.h"

namespace scalelaw::worker {
namespace {

v1::ModelShape Shape(uint32_t n_layer, uint32_t d_model, uint32_t n_head, uint32_t n_ctx) {
  v1::ModelShape shape;
  shape.set_n_layer(n_layer);
  shape.set_d_model(d_model);
  shape.set_n_head(n_head);
  shape.set_n_ctx(n_ctx);
  shape.set_vocab_size(256);
  return shape;
}

TEST(GptTest, ParameterCountsMatchAccounting) {
  std::vector<v1::ModelShape> shapes = {Shape(1, 32, 1, 32), Shape(2, 64, 2, 128),
                                        Shape(4, 128, 4, 128), Shape(3, 96, 3, 64)};
  for (double target : {1e5, 4e5, 1.5e6})
    shapes.push_back(sweeps::ShapeForParams(target, 128, 256));
  for (const auto& shape : shapes) {
    Gpt model(shape);
    const sweeps::ParamCounts built = model->CountParameters();
    const sweeps::ParamCounts formula = sweeps::CountParams(shape);
    EXPECT_EQ(built.total, formula.total) << shape.ShortDebugString();
    EXPECT_EQ(built.non_embedding, formula.non_embedding) << shape.ShortDebugString();
    EXPECT_EQ(built.embedding, formula.embedding) << shape.ShortDebugString();
  }
}

TEST(GptTest, LogitsHaveVocabularyWidthAndStartNearUniform) {
  torch::manual_seed(0);
  Gpt model(Shape(2, 64, 2, 16));
  const torch::Tensor tokens = torch::randint(0, 256, {3, 16}, torch::kLong);
  const torch::Tensor logits = model->forward(tokens);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{3, 16, 256}));
  // GPT-2 init: the first loss on unrelated targets is close to log(256) =
  // 5.545. (Not on the inputs themselves: the tied head favours copying.)
  const torch::Tensor targets = torch::randint(0, 256, {3, 16}, torch::kLong);
  const double loss =
      torch::nn::functional::cross_entropy(logits.reshape({-1, 256}), targets.reshape({-1}))
          .item<double>();
  EXPECT_NEAR(loss, std::log(256.0), 0.3);
}

TEST(GptTest, AttentionIsCausal) {
  torch::manual_seed(1);
  Gpt model(Shape(2, 64, 4, 16));
  model->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor tokens = torch::randint(0, 256, {1, 16}, torch::kLong);
  const torch::Tensor before = model->forward(tokens);
  tokens.index_put_({0, 10}, (tokens.index({0, 10}).item<int64_t>() + 1) % 256);
  const torch::Tensor after = model->forward(tokens);
  EXPECT_TRUE(torch::allclose(before.narrow(1, 0, 10), after.narrow(1, 0, 10)));
  EXPECT_FALSE(torch::allclose(before.narrow(1, 10, 6), after.narrow(1, 10, 6)));
}

TEST(GptTest, ResidualProjectionsAreScaledAtInit) {
  torch::manual_seed(2);
  Gpt model(Shape(8, 128, 4, 16));
  auto* block = model->blocks[0]->as<BlockImpl>();
  EXPECT_NEAR(block->fc->weight.std().item<double>(), 0.02, 0.002);
  EXPECT_NEAR(block->fc2->weight.std().item<double>(), 0.02 / 4.0, 0.0005);  // 1/sqrt(2*8)
  EXPECT_NEAR(block->attn->proj->weight.std().item<double>(), 0.02 / 4.0, 0.0005);
  EXPECT_EQ(block->attn->qkv->bias.abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace scalelaw::worker
