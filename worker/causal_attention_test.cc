#include "worker/causal_attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "worker/explicit_attention_for_tests.h"

namespace scalelaw::worker {
namespace {

struct Result {
  torch::Tensor y, grad;
};

Result Attend(const torch::Tensor& qkv_value, const torch::Tensor& upstream, bool kernel,
              int64_t n_head) {
  const torch::Tensor qkv = qkv_value.detach().clone().requires_grad_(true);
  torch::Tensor y = kernel ? CausalAttention(qkv, n_head) : ExplicitAttention(qkv, n_head);
  y.backward(upstream);
  return {y.detach(), qkv.grad()};
}

float MaxDifference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat) - b.to(torch::kFloat)).abs().max().item<float>();
}

TEST(CausalAttentionTest, RunsOnCpuFloatOnly) {
  if (!CausalAttentionRuns(torch::zeros({1, 1, 3}))) GTEST_SKIP() << "built without a BLAS";
  EXPECT_FALSE(CausalAttentionRuns(torch::zeros({1, 1, 3}, torch::kBFloat16)));
  EXPECT_FALSE(CausalAttentionRuns(torch::zeros({1, 1, 3}, torch::kDouble)));
}

// One to three causal blocks, with a partial last one (T = 100, 150 are not
// multiples of the block), several heads, several sequences: the outputs and the
// gradients with respect to every column of qkv equal the explicit form's.
TEST(CausalAttentionTest, EqualsTheExplicitFormForwardAndBackward) {
  if (!CausalAttentionRuns(torch::zeros({1, 1, 3}))) GTEST_SKIP() << "built without a BLAS";
  torch::manual_seed(5);
  const int64_t n_head = 3;
  for (int64_t time : {1, 7, 64, 100, 150}) {
    const torch::Tensor qkv = torch::randn({2, time, 3 * 96});
    const torch::Tensor upstream = torch::randn({2, time, 96});
    const Result kernel = Attend(qkv, upstream, /*kernel=*/true, n_head);
    const Result reference = Attend(qkv, upstream, /*kernel=*/false, n_head);
    EXPECT_TRUE(torch::allclose(kernel.y, reference.y, /*rtol=*/1e-5, /*atol=*/1e-6))
        << "T " << time << ": " << MaxDifference(kernel.y, reference.y);
    EXPECT_TRUE(torch::allclose(kernel.grad, reference.grad, /*rtol=*/1e-4, /*atol=*/1e-5))
        << "T " << time << ": " << MaxDifference(kernel.grad, reference.grad);
  }
}

// Large scores (a softmax that is nearly one-hot) must not overflow the
// exponential or lose the row's normalisation.
TEST(CausalAttentionTest, SharpScoresStayNormalised) {
  if (!CausalAttentionRuns(torch::zeros({1, 1, 3}))) GTEST_SKIP() << "built without a BLAS";
  torch::manual_seed(6);
  const torch::Tensor qkv = torch::randn({1, 64, 3 * 32}) * 30.0;
  const torch::Tensor upstream = torch::randn({1, 64, 32});
  const Result kernel = Attend(qkv, upstream, true, 2);
  const Result reference = Attend(qkv, upstream, false, 2);
  EXPECT_TRUE(std::isfinite(kernel.grad.abs().max().item<float>()));
  EXPECT_TRUE(torch::allclose(kernel.y, reference.y, 1e-4, 1e-4))
      << MaxDifference(kernel.y, reference.y);
  EXPECT_TRUE(torch::allclose(kernel.grad, reference.grad, 1e-3, 1e-3))
      << MaxDifference(kernel.grad, reference.grad);
}

// Heads are independent work items: the answer does not depend on how many
// threads share them.
TEST(CausalAttentionTest, ThreadCountDoesNotChangeTheResult) {
  if (!CausalAttentionRuns(torch::zeros({1, 1, 3}))) GTEST_SKIP() << "built without a BLAS";
  torch::manual_seed(8);
  const torch::Tensor qkv = torch::randn({4, 40, 3 * 64});
  const torch::Tensor upstream = torch::randn({4, 40, 64});
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  const Result one = Attend(qkv, upstream, true, 4);
  torch::set_num_threads(2);
  const Result two = Attend(qkv, upstream, true, 4);
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one.y, two.y));
  EXPECT_TRUE(torch::equal(one.grad, two.grad));
}

}  // namespace
}  // namespace scalelaw::worker
