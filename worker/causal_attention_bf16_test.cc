#include "worker/causal_attention_bf16.h"

#include <gtest/gtest.h>

#include <string>

#include "worker/explicit_attention_for_tests.h"

namespace scalelaw::worker {
namespace {

struct Result {
  torch::Tensor y, grad;  // as double
};

// `form`: the kernel, the explicit form in bf16 (what libtorch's own bf16
// ops give), or the explicit form in double (the reference). Every form
// starts from the same bf16 values.
enum class Form { kKernel, kExplicitBf16, kExplicitDouble };

Result Attend(const torch::Tensor& qkv_bf16, const torch::Tensor& upstream_bf16, Form form,
              int64_t n_head) {
  const torch::Dtype dtype = form == Form::kExplicitDouble ? torch::kDouble : torch::kBFloat16;
  const torch::Tensor qkv = qkv_bf16.to(dtype).detach().requires_grad_(true);
  torch::Tensor y = form == Form::kKernel ? CausalAttentionBf16(qkv, n_head)
                                          : ExplicitAttention(qkv, n_head);
  y.backward(upstream_bf16.to(dtype));
  return {y.detach().to(torch::kDouble), qkv.grad().to(torch::kDouble)};
}

// Mean absolute error against the reference, relative to the reference's mean magnitude.
double RelativeError(const torch::Tensor& a, const torch::Tensor& reference) {
  return (a - reference).abs().mean().item<double>() / reference.abs().mean().item<double>();
}

// The kernel and this CPU: built with oneDNN, and oneDNN has a bf16 matmul
// here (oneDNN 2.x has none without AVX-512).
bool KernelRunsHere() {
  return CausalAttentionBf16Built() &&
         CausalAttentionBf16Runs(torch::zeros({1, 4, 6}, torch::kBFloat16), 2);
}
#define SKIP_UNLESS_THE_KERNEL_RUNS_HERE() \
  if (!KernelRunsHere()) GTEST_SKIP() << "built without oneDNN, or no bf16 matmul on this CPU"

// Where oneDNN 2.x has its bf16 matmuls (AVX-512 F, BW, VL, DQ) the worker
// takes the kernel; elsewhere it keeps the composite form instead of failing.
TEST(CausalAttentionBf16Test, RunsOnCpuBf16WhereOneDnnHasBf16Matmuls) {
  if (!CausalAttentionBf16Built()) GTEST_SKIP() << "built without oneDNN";
#if defined(__x86_64__)
  const bool avx512_core = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  EXPECT_EQ(CausalAttentionBf16Runs(torch::zeros({2, 5, 12}, torch::kBFloat16), 2), avx512_core);
#endif
  EXPECT_FALSE(CausalAttentionBf16Runs(torch::zeros({1, 4, 6}), 2));
  EXPECT_FALSE(CausalAttentionBf16Runs(torch::zeros({1, 4, 6}, torch::kDouble), 2));
  EXPECT_FALSE(CausalAttentionBf16Runs(torch::zeros({1, 4, 7}, torch::kBFloat16), 2));
  EXPECT_FALSE(CausalAttentionBf16Runs(torch::zeros({4, 6}, torch::kBFloat16), 2));
}

// Several heads and sequences, T from 1 to past 128: the outputs and the
// gradients with respect to every column of qkv match the explicit form in
// double within bf16's rounding, and are at least as close to it as the
// explicit form computed with libtorch's bf16 ops (the kernel keeps the
// scores and their gradient in fp32).
TEST(CausalAttentionBf16Test, MatchesTheExplicitFormForwardAndBackward) {
  SKIP_UNLESS_THE_KERNEL_RUNS_HERE();
  torch::manual_seed(5);
  const int64_t n_head = 3;
  for (int64_t time : {1, 7, 64, 100, 150}) {
    const torch::Tensor qkv = torch::randn({2, time, 3 * 96}).to(torch::kBFloat16);
    const torch::Tensor upstream = torch::randn({2, time, 96}).to(torch::kBFloat16);
    const Result kernel = Attend(qkv, upstream, Form::kKernel, n_head);
    const Result bf16 = Attend(qkv, upstream, Form::kExplicitBf16, n_head);
    const Result reference = Attend(qkv, upstream, Form::kExplicitDouble, n_head);
    const std::string at = "T " + std::to_string(time);
    const double y_error = RelativeError(kernel.y, reference.y);
    const double grad_error = RelativeError(kernel.grad, reference.grad);
    EXPECT_LT(y_error, 4e-3) << at;  // bf16 keeps 8 significant bits: 2^-8 = 3.9e-3
    EXPECT_LT(grad_error, 8e-3) << at;
    EXPECT_LE(y_error, RelativeError(bf16.y, reference.y)) << at;
    EXPECT_LE(grad_error, RelativeError(bf16.grad, reference.grad)) << at;
    EXPECT_TRUE(torch::allclose(kernel.y, reference.y, /*rtol=*/3e-2, /*atol=*/3e-2)) << at;
    EXPECT_TRUE(torch::allclose(kernel.grad, reference.grad, /*rtol=*/5e-2, /*atol=*/5e-2)) << at;
  }
}

// Large scores (a softmax that is nearly one-hot) must not overflow the
// exponential or lose the row's normalisation.
TEST(CausalAttentionBf16Test, SharpScoresStayNormalised) {
  SKIP_UNLESS_THE_KERNEL_RUNS_HERE();
  torch::manual_seed(6);
  const torch::Tensor qkv = (torch::randn({1, 64, 3 * 32}) * 30.0).to(torch::kBFloat16);
  const torch::Tensor upstream = torch::randn({1, 64, 32}).to(torch::kBFloat16);
  const Result kernel = Attend(qkv, upstream, Form::kKernel, 2);
  const Result reference = Attend(qkv, upstream, Form::kExplicitDouble, 2);
  EXPECT_TRUE(std::isfinite(kernel.grad.abs().max().item<double>()));
  EXPECT_LT(RelativeError(kernel.y, reference.y), 4e-3);
  EXPECT_LT(RelativeError(kernel.grad, reference.grad), 2e-2);
}

// Sequences are independent work items, each one's products run on one
// thread with that thread's own oneDNN scratchpad: the answer does not depend
// on how many threads share them (nor, with a shared scratchpad, would it be
// the same from one run to the next).
TEST(CausalAttentionBf16Test, ThreadCountDoesNotChangeTheResult) {
  SKIP_UNLESS_THE_KERNEL_RUNS_HERE();
  torch::manual_seed(8);
  // One sequence: 1 thread takes its 4 heads as one item, 2 threads as two
  // items of 2 heads (HeadsPerItem); six sequences: one item each.
  for (int64_t batch : {1, 6}) {
    const torch::Tensor qkv = torch::randn({batch, 40, 3 * 64}).to(torch::kBFloat16);
    const torch::Tensor upstream = torch::randn({batch, 40, 64}).to(torch::kBFloat16);
    const int threads = torch::get_num_threads();
    torch::set_num_threads(1);
    const Result one = Attend(qkv, upstream, Form::kKernel, 4);
    torch::set_num_threads(2);
    const Result two = Attend(qkv, upstream, Form::kKernel, 4);
    const Result again = Attend(qkv, upstream, Form::kKernel, 4);
    torch::set_num_threads(threads);
    EXPECT_TRUE(torch::equal(one.y, two.y)) << "batch " << batch;
    EXPECT_TRUE(torch::equal(one.grad, two.grad)) << "batch " << batch;
    EXPECT_TRUE(torch::equal(two.grad, again.grad)) << "batch " << batch;
  }
}

// A long context: one head's scores (6 bytes each, 2.2 MB at T = 600) leave
// room for at most three heads per work item, and two is the largest divisor
// of four that fits (one with three threads or more): a sequence is split
// into items of heads.
TEST(CausalAttentionBf16Test, LongContextsSplitASequenceIntoItemsOfHeads) {
  SKIP_UNLESS_THE_KERNEL_RUNS_HERE();
  torch::manual_seed(9);
  const torch::Tensor qkv = torch::randn({1, 600, 3 * 64}).to(torch::kBFloat16);
  const torch::Tensor upstream = torch::randn({1, 600, 64}).to(torch::kBFloat16);
  const Result kernel = Attend(qkv, upstream, Form::kKernel, 4);
  const Result reference = Attend(qkv, upstream, Form::kExplicitDouble, 4);
  EXPECT_LT(RelativeError(kernel.y, reference.y), 4e-3);
  EXPECT_LT(RelativeError(kernel.grad, reference.grad), 8e-3);
}

}  // namespace
}  // namespace scalelaw::worker
