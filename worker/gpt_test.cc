#include "worker/gpt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "sweeps/accounting.h"
#include "sweeps/model_shape.h"
#include "worker/explicit_attention_for_tests.h"

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

// `scalelaw model shapes` prints sweeps::ShapeForParams and
// sweeps::CountParams / FlopsPerToken (cli/model_command.cc); the models the
// worker builds for those shapes must have exactly those counts.
TEST(GptTest, ModelShapesCountsAreTheBuiltModelsCounts) {
  struct Family {
    uint32_t vocab_size;
    uint32_t n_ctx;
  };
  for (const Family family : {Family{256, 128}, Family{512, 256}, Family{50304, 1024}}) {
    for (double target : {1e6, 3e6, 1e7, 3e7}) {
      const v1::ModelShape shape = sweeps::ShapeForParams(target, family.n_ctx, family.vocab_size);
      SCOPED_TRACE(shape.ShortDebugString());
      const sweeps::ParamCounts printed = sweeps::CountParams(shape);
      Gpt model(shape);
      const sweeps::ParamCounts built = model->CountParameters();
      EXPECT_EQ(built.total, printed.total);
      EXPECT_EQ(built.non_embedding, printed.non_embedding);
      EXPECT_EQ(built.embedding, printed.embedding);
      // Independently of CountParameters: every parameter tensor, the tied
      // head once (it is wte itself, not a copy).
      int64_t numel = 0;
      for (const torch::Tensor& p : model->parameters()) numel += p.numel();
      EXPECT_EQ(static_cast<uint64_t>(numel), printed.total);
      EXPECT_EQ(static_cast<uint64_t>(model->wte->weight.numel() + model->wpe->weight.numel()),
                printed.embedding);
      EXPECT_DOUBLE_EQ(sweeps::FlopsPerToken(shape, built.total),
                       6.0 * printed.total + 6.0 * shape.n_layer() *
                                                 static_cast<double>(shape.n_ctx()) *
                                                 shape.d_model());
    }
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

// Each of the attention's forms computes nanoGPT's explicit softmax(q k^T /
// sqrt(hs) masked) v, forward and backward, at a context shorter than n_ctx:
// fp32 takes worker/causal_attention.h on libtorch 1.x (with a BLAS), double
// the composite form (scale and mask in one baddbmm), and both take
// scaled_dot_product_attention on 2.x.
TEST(GptTest, AttentionEqualsTheExplicitForm) {
  for (const torch::Dtype dtype : {torch::kFloat, torch::kDouble}) {
    torch::manual_seed(3);
    const int64_t batch = 2, time = 12, d = 48, n_head = 3;
    CausalSelfAttention attention(d, n_head, /*n_ctx=*/16);
    attention->qkv->to(dtype);  // not the module: its causal mask stays bool
    attention->proj->to(dtype);
    const torch::Tensor x = torch::randn({batch, time, d}, dtype).requires_grad_(true);
    const torch::Tensor fused = attention->forward(x);

    const torch::Tensor x2 = x.detach().clone().requires_grad_(true);
    const torch::Tensor explicit_form =
        attention->proj->forward(ExplicitAttention(attention->qkv->forward(x2), n_head));

    EXPECT_EQ(fused.scalar_type(), dtype);
    EXPECT_TRUE(torch::allclose(fused, explicit_form, /*rtol=*/1e-5, /*atol=*/1e-6))
        << dtype << ": " << (fused - explicit_form).abs().max().item<double>();
    const torch::Tensor upstream = torch::randn_like(fused);
    fused.backward(upstream);
    explicit_form.backward(upstream);
    EXPECT_TRUE(torch::allclose(x.grad(), x2.grad(), /*rtol=*/1e-5, /*atol=*/1e-6))
        << dtype << ": " << (x.grad() - x2.grad()).abs().max().item<double>();
  }
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
