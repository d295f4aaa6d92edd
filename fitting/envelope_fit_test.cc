#include "fitting/envelope_fit.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "fitting/chinchilla_fit.h"
#include "fitting/compute_optimal.h"
#include "fitting/isoflop_fit.h"
#include "fitting/synthetic_runs.h"
#include "gtest/gtest.h"

namespace scalelaw::fitting {
namespace {

constexpr ChinchillaParams kChinchilla{
    .E = 1.69, .A = 406.4, .B = 410.7, .alpha = 0.34, .beta = 0.28};
// N_opt ∝ C^(β/(α+β)) under C = 6ND (SCIENCE.md, compute-optimal allocation).
const double kA = 0.28 / (0.34 + 0.28);  // 0.4516

// Training curves on the law, as if every point's schedule ended there:
// `n_sizes` log-spaced sizes from 1e7 to 1e10, each evaluated at 60
// log-spaced token counts from 1 to 1000 tokens per parameter.
std::vector<CurvePoint> Curves(int n_sizes, double log_noise_sigma, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<CurvePoint> points;
  for (int i = 0; i < n_sizes; ++i) {
    const double params = 1e7 * std::pow(1e3, static_cast<double>(i) / (n_sizes - 1));
    for (int j = 0; j < 60; ++j) {
      CurvePoint point;
      point.run = "s" + std::to_string(i);
      point.params = params;
      point.tokens = params * std::pow(1e3, j / 59.0);
      point.loss =
          kChinchilla.Loss(point.params, point.tokens) * std::exp(log_noise_sigma * noise(rng));
      points.push_back(point);
    }
  }
  return points;
}

TEST(FitEnvelopeTest, EnvelopeOfCurvesFromTheLawRecoversTheExponents) {
  const absl::StatusOr<EnvelopeFitResult> fit = FitEnvelope(Curves(25, 0.0, 1));
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_EQ(fit->n_curves, 25);
  EXPECT_GE(fit->envelope.size(), 15u);
  // Discrete sizes make N_opt a staircase; 25 sizes over 3 decades keep the
  // fitted slope within 0.03 of β/(α+β).
  EXPECT_NEAR(fit->a, kA, 0.03);
  EXPECT_NEAR(fit->b, 1 - kA, 0.03);
  for (const EnvelopePoint& point : fit->envelope) {
    // D = C/(6N) on every curve here, so the interpolated tokens agree.
    EXPECT_NEAR(point.tokens, point.compute / (6 * point.params), 1e-6 * point.tokens);
    // The envelope's size is within one size step of the closed-form optimum.
    const double optimum = OptimalAllocation(kChinchilla, point.compute)->params;
    EXPECT_LT(std::abs(std::log(point.params / optimum)), std::log(1e3) / 24 * 1.01);
  }
}

TEST(FitEnvelopeTest, ApproachesOneTwoAndThreeAgreeOnTheExponent) {
  // Approach 1: envelope of noisy training curves.
  const absl::StatusOr<EnvelopeFitResult> envelope = FitEnvelope(Curves(25, 0.002, 2));
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  // Approach 2: IsoFLOP profiles, 9 sizes around each budget's optimum.
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<Observation> isoflop_runs;
  for (double budget : {1e18, 1e19, 1e20, 1e21, 1e22}) {
    const double centre = OptimalAllocation(kChinchilla, budget)->params;
    for (int i = -4; i <= 4; ++i) {
      Observation obs;
      obs.params = centre * std::pow(8.0, i / 4.0);
      obs.tokens = budget / (6 * obs.params);
      obs.loss = kChinchilla.Loss(obs.params, obs.tokens) * std::exp(0.002 * noise(rng));
      obs.budget = budget;
      obs.id = "i" + std::to_string(isoflop_runs.size());
      isoflop_runs.push_back(obs);
    }
  }
  const absl::StatusOr<IsoflopFitResult> isoflop = FitIsoflop(isoflop_runs);
  ASSERT_TRUE(isoflop.ok()) << isoflop.status();
  // Approach 3: the parametric fit on a (N, D) grid.
  SyntheticGrid grid;
  grid.log_noise_sigma = 0.002;
  const std::vector<Observation> runs = SyntheticChinchillaRuns(kChinchilla, grid, rng);
  ChinchillaFitOptions options;
  for (double e : {-1.0, 0.5})
    for (double ab : {0.0, 5.0, 10.0})
      for (double exponent : {0.0, 0.5, 1.0})
        options.starts.push_back({ab, ab, e, exponent, exponent});
  const absl::StatusOr<ChinchillaFitResult> parametric = FitChinchilla(runs, options);
  ASSERT_TRUE(parametric.ok()) << parametric.status();
  const double a3 = parametric->params.beta / (parametric->params.alpha + parametric->params.beta);

  // Each within 0.03 of the truth, so within 0.06 of each other.
  EXPECT_NEAR(envelope->a, kA, 0.03);
  EXPECT_NEAR(isoflop->a, kA, 0.03);
  EXPECT_NEAR(a3, kA, 0.03);
  EXPECT_NEAR(envelope->a, isoflop->a, 0.05);
  EXPECT_NEAR(envelope->a, a3, 0.05);
  EXPECT_NEAR(isoflop->a, a3, 0.05);
}

TEST(FitEnvelopeTest, EdgeMinimaAndThinCoverageAreDroppedAndCounted) {
  EnvelopeFitOptions options;
  options.n_flop_values = 30;
  const absl::StatusOr<EnvelopeFitResult> fit = FitEnvelope(Curves(8, 0.0, 1), options);
  ASSERT_TRUE(fit.ok()) << fit.status();
  // The lowest FLOP values are reached by the smallest model alone and the
  // highest by the largest alone.
  EXPECT_GT(fit->n_too_few_curves, 0);
  EXPECT_GT(fit->n_dropped_edge, 0);
  EXPECT_EQ(fit->envelope.size() + fit->n_too_few_curves + fit->n_dropped_edge, 30u);
}

TEST(FitEnvelopeTest, DegenerateInputGetsAClearError) {
  std::vector<CurvePoint> one_curve = Curves(2, 0.0, 1);
  one_curve.resize(60);
  EXPECT_EQ(FitEnvelope(one_curve).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<CurvePoint> bad = Curves(5, 0.0, 1);
  bad[3].loss = std::nan("");
  EXPECT_EQ(FitEnvelope(bad).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<CurvePoint> mixed = Curves(5, 0.0, 1);
  mixed[3].params *= 2;
  EXPECT_EQ(FitEnvelope(mixed).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ReadCurvesCsvTest, GroupsByRunOrByParams) {
  const std::string path = ::testing::TempDir() + "/curves.csv";
  std::ofstream(path) << "params,tokens,loss\n1e8,1e9,3.1\n1e8,2e9,3.0\n2e8,1e9,3.05\n";
  const absl::StatusOr<std::vector<CurvePoint>> points = ReadCurvesCsv(path);
  ASSERT_TRUE(points.ok()) << points.status();
  ASSERT_EQ(points->size(), 3u);
  EXPECT_EQ((*points)[0].run, (*points)[1].run);
  EXPECT_NE((*points)[0].run, (*points)[2].run);
  std::ofstream(path) << "run,params,tokens,loss,flops\na,1e8,1e9,3.1,\nb,1e8,1e9,3.0,7e17\n";
  const absl::StatusOr<std::vector<CurvePoint>> named = ReadCurvesCsv(path);
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ((*named)[1].run, "b");
  EXPECT_EQ((*named)[0].flops, 0);
  EXPECT_EQ((*named)[1].flops, 7e17);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace scalelaw::fitting
