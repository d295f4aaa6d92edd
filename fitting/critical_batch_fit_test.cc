#include "fitting/critical_batch_fit.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "gtest/gtest.h"

namespace scalelaw::fitting {
namespace {

// Kaplan et al. 2020, eq. 5.3.
constexpr CriticalBatchParams kKaplan{.B_star = 2e8, .alpha_B = 0.21};

TEST(CriticalBatchParamsTest, MatchesTheFormulaWorkedOutByHand) {
  // 2e8 / 3^(1/0.21) = 2e8 / 3^4.7619 = 2e8 / 187.13 ≈ 1.0688e6 tokens.
  EXPECT_NEAR(kKaplan.CriticalBatch(3.0), 2e8 / std::pow(3.0, 1 / 0.21), 1e-6);
  EXPECT_NEAR(kKaplan.CriticalBatch(3.0), 1.0688e6, 1e3);
  EXPECT_NEAR(kKaplan.CriticalBatch(1.0), 2e8, 1e-6);
}

std::vector<NoiseScalePoint> Measurements(double log_noise_sigma, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<NoiseScalePoint> points;
  for (int i = 0; i < 40; ++i) {
    const double loss = 2.0 + 4.0 * i / 39;
    points.push_back(
        {.loss = loss,
         .noise_scale = kKaplan.CriticalBatch(loss) * std::exp(log_noise_sigma * noise(rng)),
         .id = "m" + std::to_string(i)});
  }
  return points;
}

TEST(FitCriticalBatchTest, RecoversKnownParameters) {
  const absl::StatusOr<CriticalBatchFitResult> fit = FitCriticalBatch(Measurements(0.05, 3));
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_EQ(fit->n_points, 40);
  EXPECT_TRUE(fit->converged) << fit->termination;
  EXPECT_NEAR(fit->params.alpha_B, 0.21, 0.01);
  EXPECT_NEAR(std::log(fit->params.B_star), std::log(2e8), 0.3);
  const absl::StatusOr<CriticalBatchFitResult> exact = FitCriticalBatch(Measurements(0.0, 3));
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_NEAR(exact->params.alpha_B, 0.21, 1e-8);
  EXPECT_NEAR(exact->params.B_star / 2e8, 1, 1e-7);
  EXPECT_LT(exact->objective, 1e-20);
}

TEST(FitCriticalBatchTest, AnOutlierBarelyMovesTheHuberFit) {
  std::vector<NoiseScalePoint> points = Measurements(0.0, 3);
  points[10].noise_scale *= 50;  // one wild single-step estimate
  const absl::StatusOr<CriticalBatchFitResult> fit = FitCriticalBatch(points);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_NEAR(fit->params.alpha_B, 0.21, 0.002);
  EXPECT_NEAR(fit->residuals[10], -std::log(50.0), 0.05);
}

TEST(FitCriticalBatchTest, DegenerateInputGetsAClearError) {
  EXPECT_EQ(FitCriticalBatch({{.loss = 3, .noise_scale = 1e6, .id = "a"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FitCriticalBatch({{.loss = 3, .noise_scale = 1e6, .id = "a"},
                              {.loss = 3, .noise_scale = 2e6, .id = "b"}})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<NoiseScalePoint> points = Measurements(0.0, 3);
  points[2].noise_scale = -1;
  EXPECT_EQ(FitCriticalBatch(points).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ReadNoiseScaleCsvTest, ReadsColumnsAndNamesBadFields) {
  const std::string path = ::testing::TempDir() + "/noise_scale.csv";
  std::ofstream(path) << "id,loss,noise_scale\ns1,3.5,1.2e6\n,2.9,\"2.5e6\"\n";
  const absl::StatusOr<std::vector<NoiseScalePoint>> points = ReadNoiseScaleCsv(path);
  ASSERT_TRUE(points.ok()) << points.status();
  ASSERT_EQ(points->size(), 2u);
  EXPECT_EQ((*points)[0].id, "s1");
  EXPECT_EQ((*points)[1].id, "line:3");
  EXPECT_DOUBLE_EQ((*points)[1].noise_scale, 2.5e6);
  std::ofstream(path) << "loss,noise_scale\n3.5,abc\n";
  const absl::StatusOr<std::vector<NoiseScalePoint>> bad = ReadNoiseScaleCsv(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("line 2, column 'noise_scale'"),
            std::string::npos)
      << bad.status();
  std::remove(path.c_str());
}

}  // namespace
}  // namespace scalelaw::fitting
