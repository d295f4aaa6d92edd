#include "fitting/compute_optimal.h"

#include <cmath>

#include "gtest/gtest.h"

namespace scalelaw::fitting {
namespace {

constexpr ChinchillaParams kChinchilla{
    .E = 1.69, .A = 406.4, .B = 410.7, .alpha = 0.34, .beta = 0.28};

// The optimum by brute force: L(N, C/(6N)) on a fine log grid of N.
double BruteForceParams(const ChinchillaParams& law, double compute) {
  double best_params = 0, best_loss = INFINITY;
  for (double log10_n = 0; log10_n <= std::log10(compute / 6); log10_n += 1e-5) {
    const double params = std::pow(10.0, log10_n);
    const double loss = law.Loss(params, compute / (6 * params));
    if (loss < best_loss) best_loss = loss, best_params = params;
  }
  return best_params;
}

TEST(OptimalAllocationTest, MatchesTheClosedFormWorkedByHand) {
  // G = (0.34·406.4 / (0.28·410.7))^(1/0.62), a = 0.28/0.62, b = 0.34/0.62.
  const double g = std::pow(0.34 * 406.4 / (0.28 * 410.7), 1 / 0.62);
  const double c = 5.76e23;  // Gopher's budget
  const absl::StatusOr<ComputeOptimal> opt = OptimalAllocation(kChinchilla, c);
  ASSERT_TRUE(opt.ok()) << opt.status();
  EXPECT_NEAR(opt->params, g * std::pow(c / 6, 0.28 / 0.62), 1e-9 * opt->params);
  EXPECT_NEAR(opt->tokens, std::pow(c / 6, 0.34 / 0.62) / g, 1e-9 * opt->tokens);
  EXPECT_NEAR(6 * opt->params * opt->tokens, c, 1e-9 * c);
  EXPECT_NEAR(opt->tokens_per_param, opt->tokens / opt->params, 1e-12);
  EXPECT_NEAR(opt->loss, kChinchilla.Loss(opt->params, opt->tokens), 1e-12);
  EXPECT_EQ(opt->method, "closed_form");
  // The paper's Table 3 order of magnitude: tens of billions of parameters.
  EXPECT_GT(opt->params, 1e10);
  EXPECT_LT(opt->params, 1e11);
}

TEST(OptimalAllocationTest, AgreesWithBruteForceMinimisation) {
  for (double c : {1e18, 1e21, 5.76e23}) {
    const absl::StatusOr<ComputeOptimal> opt = OptimalAllocation(kChinchilla, c);
    ASSERT_TRUE(opt.ok());
    EXPECT_NEAR(opt->params, BruteForceParams(kChinchilla, c), 1e-3 * opt->params) << c;
  }
}

TEST(OptimalAllocationNumericTest, WithSixNFlopsPerTokenEqualsTheClosedForm) {
  for (double c : {1e15, 1e19, 1e23, 1e25}) {
    const absl::StatusOr<ComputeOptimal> closed = OptimalAllocation(kChinchilla, c);
    const absl::StatusOr<ComputeOptimal> numeric =
        OptimalAllocationNumeric(kChinchilla, c, [](double n) { return 6 * n; });
    ASSERT_TRUE(closed.ok() && numeric.ok()) << numeric.status();
    EXPECT_NEAR(numeric->params, closed->params, 1e-6 * closed->params) << c;
    EXPECT_NEAR(numeric->tokens, closed->tokens, 1e-6 * closed->tokens) << c;
    EXPECT_NEAR(numeric->loss, closed->loss, 1e-12 * closed->loss) << c;
    EXPECT_EQ(numeric->method, "numeric");
  }
}

TEST(OptimalAllocationNumericTest, AttentionFlopsShiftTheOptimumTowardsFewerTokens) {
  // 6·N + 6·n_layer·n_ctx·d_model with a fixed shape term: every token costs
  // more, so at equal compute the optimum trains on fewer tokens.
  const double c = 1e20;
  const absl::StatusOr<ComputeOptimal> closed = OptimalAllocation(kChinchilla, c);
  const absl::StatusOr<ComputeOptimal> numeric = OptimalAllocationNumeric(
      kChinchilla, c, [](double n) { return 6 * n + 6.0 * 24 * 2048 * 2048; });
  ASSERT_TRUE(numeric.ok()) << numeric.status();
  EXPECT_LT(numeric->tokens, closed->tokens);
  EXPECT_GT(numeric->loss, closed->loss);
}

TEST(MinComputeForLossTest, InvertsTheOptimalLoss) {
  const absl::StatusOr<ComputeOptimal> opt = OptimalAllocation(kChinchilla, 3e21);
  ASSERT_TRUE(opt.ok());
  const absl::StatusOr<double> c = MinComputeForLoss(kChinchilla, opt->loss);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NEAR(*c, 3e21, 1e-9 * 3e21);
}

TEST(MinComputeForLossTest, RejectsTargetsAtOrBelowTheIrreducibleLoss) {
  const absl::StatusOr<double> c = MinComputeForLoss(kChinchilla, 1.69);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("irreducible"), std::string::npos);
}

TEST(OptimalAllocationTest, RejectsBadBudgetsAndLaws) {
  EXPECT_FALSE(OptimalAllocation(kChinchilla, 0).ok());
  EXPECT_FALSE(OptimalAllocation(kChinchilla, NAN).ok());
  ChinchillaParams flat = kChinchilla;
  flat.beta = 0;
  EXPECT_FALSE(OptimalAllocation(flat, 1e21).ok());
}

}  // namespace
}  // namespace scalelaw::fitting
