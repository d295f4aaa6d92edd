#include "fitting/trend_fit.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "gtest/gtest.h"

namespace scalelaw::fitting {
namespace {

TEST(ParseDecimalYearTest, DatesAndDecimalYears) {
  EXPECT_DOUBLE_EQ(*ParseDecimalYear("2020-01-01"), 2020.0);
  // 1 July 2020: day 183 of a leap year → 2020 + 182/366.
  EXPECT_DOUBLE_EQ(*ParseDecimalYear("2020-07-01"), 2020.0 + 182.0 / 366);
  EXPECT_DOUBLE_EQ(*ParseDecimalYear("2019-03-01"), 2019.0 + 59.0 / 365);
  EXPECT_DOUBLE_EQ(*ParseDecimalYear("2018.25"), 2018.25);
  EXPECT_FALSE(ParseDecimalYear("2019-02-29").ok());
  EXPECT_FALSE(ParseDecimalYear("2019-13-01").ok());
  EXPECT_FALSE(ParseDecimalYear("last year").ok());
}

TEST(FitTrendTest, ExactDoublingEverySixMonths) {
  // value = 1e20 · 2^(2·(t − 2015)): two doublings a year, 6 months each.
  std::vector<TrendPoint> points;
  for (int i = 0; i < 9; ++i) {
    const double year = 2015 + 0.5 * i;
    points.push_back({.year = year, .value = 1e20 * std::exp2(2 * (year - 2015)), .id = ""});
  }
  const absl::StatusOr<TrendFitResult> fit = FitTrend(points);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_NEAR(fit->slope, 2.0, 1e-10);
  EXPECT_NEAR(fit->doubling_time_months, 6.0, 1e-9);
  EXPECT_NEAR(fit->growth_per_year, 4.0, 1e-9);
  EXPECT_NEAR(fit->r_squared, 1.0, 1e-12);
  EXPECT_FALSE(fit->has_interval);
}

TEST(FitTrendTest, NoisySeriesGivesAnIntervalCoveringTheTruth) {
  // Amodei & Hernandez 2018 report a 3.4-month doubling time.
  std::mt19937_64 rng(4);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<TrendPoint> points;
  for (int i = 0; i < 60; ++i) {
    const double year = 2012 + 6.0 * i / 59;
    points.push_back({.year = year,
                      .value = 1e17 * std::exp2(12.0 / 3.4 * (year - 2012) + 1.5 * noise(rng)),
                      .id = ""});
  }
  TrendFitOptions options;
  options.bootstrap = 500;
  options.seed = 9;
  const absl::StatusOr<TrendFitResult> fit = FitTrend(points, options);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_NEAR(fit->doubling_time_months, 3.4, 0.3);
  ASSERT_TRUE(fit->has_interval);
  EXPECT_LT(fit->doubling_time_interval.lo, 3.4);
  EXPECT_GT(fit->doubling_time_interval.hi, 3.4);
  EXPECT_LT(fit->doubling_time_interval.lo, fit->doubling_time_months);
  EXPECT_GT(fit->doubling_time_interval.hi, fit->doubling_time_months);
  EXPECT_EQ(fit->resamples, 500);
  // Same seed, same interval.
  const absl::StatusOr<TrendFitResult> again = FitTrend(points, options);
  EXPECT_EQ(again->doubling_time_interval.lo, fit->doubling_time_interval.lo);
}

TEST(FitTrendTest, DegenerateSeriesAreErrors) {
  EXPECT_FALSE(FitTrend({{.year = 2020, .value = 1, .id = "a"}}).ok());
  EXPECT_FALSE(
      FitTrend({{.year = 2020, .value = 1, .id = "a"}, {.year = 2020, .value = 2, .id = "b"}})
          .ok());
  EXPECT_FALSE(
      FitTrend({{.year = 2020, .value = 2, .id = "a"}, {.year = 2021, .value = 1, .id = "b"}})
          .ok());
  EXPECT_FALSE(
      FitTrend({{.year = 2020, .value = 0, .id = "a"}, {.year = 2021, .value = 1, .id = "b"}})
          .ok());
}

TEST(ReadTrendCsvTest, ReadsDatesAndNamesBadOnes) {
  const std::string path = ::testing::TempDir() + "/trend.csv";
  std::ofstream(path) << "name,date,compute\nAlexNet,2012-09-30,4.7e17\nGPT-3,2020.4,3.1e23\n";
  const absl::StatusOr<std::vector<TrendPoint>> points = ReadTrendCsv(path);
  ASSERT_TRUE(points.ok()) << points.status();
  ASSERT_EQ(points->size(), 2u);
  EXPECT_EQ((*points)[0].id, "AlexNet");
  EXPECT_DOUBLE_EQ((*points)[1].year, 2020.4);
  std::ofstream(path) << "date,compute\nsoon,1e20\n";
  const absl::StatusOr<std::vector<TrendPoint>> bad = ReadTrendCsv(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("line 2, column 'date'"), std::string::npos)
      << bad.status();
  std::remove(path.c_str());
}

}  // namespace
}  // namespace scalelaw::fitting
