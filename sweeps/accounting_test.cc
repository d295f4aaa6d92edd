#include "sweeps/accounting.h"

#include <gtest/gtest.h>

namespace scalelaw::sweeps {
namespace {

v1::ModelShape Shape(uint32_t n_layer, uint32_t d_model, uint32_t n_ctx, uint32_t vocab) {
  v1::ModelShape shape;
  shape.set_n_layer(n_layer);
  shape.set_d_model(d_model);
  shape.set_n_head(d_model / 32);
  shape.set_n_ctx(n_ctx);
  shape.set_vocab_size(vocab);
  return shape;
}

// Worked by hand: d = 64, 2 layers, context 128, vocabulary 256.
//   embeddings 256*64 + 128*64 = 24,576
//   per block 12*64^2 + 13*64 = 49,984; two blocks + final LayerNorm (128) = 100,096
TEST(AccountingTest, CountsMatchHandWorkedExample) {
  const ParamCounts counts = CountParams(Shape(2, 64, 128, 256));
  EXPECT_EQ(counts.embedding, 24576u);
  EXPECT_EQ(counts.non_embedding, 100096u);
  EXPECT_EQ(counts.total, 124672u);
}

// 6N = 748,032; attention term 6 * 2 * 128 * 64 = 98,304.
TEST(AccountingTest, FlopsPerTokenAddsAttentionTerm) {
  const v1::ModelShape shape = Shape(2, 64, 128, 256);
  EXPECT_DOUBLE_EQ(FlopsPerToken6N(124672), 748032.0);
  EXPECT_DOUBLE_EQ(FlopsPerToken(shape, 124672), 846336.0);
}

TEST(AccountingTest, NonEmbeddingApproachesTwelveLayerDSquaredForWideModels) {
  const ParamCounts counts = CountParams(Shape(12, 768, 1024, 50257));
  const double approx = 12.0 * 12 * 768 * 768;
  EXPECT_NEAR(counts.non_embedding / approx, 1.0, 0.01);
}

}  // namespace
}  // namespace scalelaw::sweeps
