#include "sweeps/model_shape.h"

#include <gtest/gtest.h>

#include <cmath>

#include "sweeps/accounting.h"

namespace scalelaw::sweeps {
namespace {

TEST(ModelShapeTest, ShapeIsCloseToTargetAndWellFormed) {
  for (double target : {5e4, 1e5, 4e5, 1.5e6, 1e7, 1.25e8}) {
    const v1::ModelShape shape = ShapeForParams(target, 128, 256);
    const double params = static_cast<double>(CountParams(shape).total);
    EXPECT_LT(std::abs(std::log(params / target)), std::log(1.6)) << "target " << target;
    EXPECT_EQ(shape.d_model() % shape.n_head(), 0u);
    const uint32_t head = shape.d_model() / shape.n_head();
    EXPECT_TRUE(head == 32 || head == 64) << head;
    EXPECT_EQ(shape.n_ctx(), 128u);
    EXPECT_EQ(shape.vocab_size(), 256u);
  }
}

TEST(ModelShapeTest, LargerTargetsGiveLargerModels) {
  uint64_t previous = 0;
  for (double target : {1e5, 1e6, 1e7, 1e8}) {
    const uint64_t params = CountParams(ShapeForParams(target, 256, 256)).total;
    EXPECT_GT(params, previous);
    previous = params;
  }
}

}  // namespace
}  // namespace scalelaw::sweeps
