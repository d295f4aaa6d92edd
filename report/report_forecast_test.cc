#include "report/report_forecast.h"

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <regex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fitting/synthetic_runs.h"
#include "report/report_page.h"

namespace scalelaw::report {
namespace {

const fitting::ChinchillaParams kLaw{1.69, 406.4, 410.7, 0.34, 0.28};

bool Has(const std::string& html, const std::string& text) {
  return html.find(text) != std::string::npos;
}

// A ladder of six runs from kLaw and one target 4x the largest compute that
// landed inside its interval, fitted 1.5 s before its first lease.
ForecastInput HandMadeForecasts() {
  ForecastInput input;
  int id = 0;
  for (double n : {1e6, 2e6, 4e6}) {
    for (double d : {2e7, 4e7}) {
      input.ladder.push_back({n, d, kLaw.Loss(n, d), 0, absl::StrCat("ladder", id++)});
    }
  }
  ForecastOutcome big;
  big.target = "big<1>";
  big.trial_id = "sweep-t7";
  big.params = 8e6;
  big.tokens = 8e7;
  big.compute = 6 * big.params * big.tokens;
  big.predicted_loss = 3.2104;
  big.prediction_interval = {3.1047, 3.3391};
  big.level = 0.9;
  big.state = "succeeded";
  big.actual_loss = 3.2561;
  big.fitted_ms = 1796640901123;  // 2026-12-07T10:55:01.123Z
  big.first_target_lease_ms = big.fitted_ms + 1500;
  big.ladder_points = 6;
  input.outcomes.push_back(big);
  return input;
}

TEST(ReportForecastTest, SectionShowsTargetIntervalAndActual) {
  const std::string html = ForecastSectionHtml(HandMadeForecasts());
  EXPECT_TRUE(Has(html, "<section id=\"forecast\"><h2>Forecast vs outcome</h2>"));
  EXPECT_TRUE(Has(html, "<svg"));
  // The target, escaped, in the table, the figure and the sentence.
  EXPECT_TRUE(Has(html, "big&lt;1&gt;"));
  EXPECT_FALSE(Has(html, "big<1>"));
  // Predicted loss and the interval's bounds: table cell and marker tip.
  EXPECT_TRUE(Has(html, "<td>3.2104</td><td>[3.1047, 3.3391]</td>"));
  EXPECT_TRUE(Has(html, "<title>big&lt;1&gt;: predicted L = 3.2104 [3.1047, 3.3391]</title>"));
  EXPECT_TRUE(Has(html, "90% prediction interval"));
  // The actual loss as its own marker (a diamond, in the legend too) and in
  // the table with its signed relative error and whether it fell inside.
  EXPECT_TRUE(Has(html, "<title>big&lt;1&gt;: actual L = 3.2561</title></polygon>"));
  EXPECT_TRUE(Has(html, "actual final loss"));
  EXPECT_TRUE(Has(html, "<td>3.2561</td><td>-1.40%</td><td>yes</td>"));
  // Both times from the outcome, the order and the ladder size.
  EXPECT_TRUE(Has(html,
                  "stored at 2026-12-07T10:55:01.123Z, before the target's first lease at "
                  "2026-12-07T10:55:02.623Z (1.5 s later), and fitted on 6 ladder points"));
  EXPECT_TRUE(Has(html, "<title>ladder5: L = "));
  EXPECT_TRUE(Has(html, "ladder (6 fitted runs)"));
}

TEST(ReportForecastTest, ErrorBarSpansTheIntervalAroundThePrediction) {
  // In pixels (y grows downwards): the vertical bar runs from the interval's
  // lower bound (larger y) to its upper bound, through the predicted marker,
  // at the target's x, and the actual marker (inside here) lies on it too.
  const std::string svg = ForecastPlot(HandMadeForecasts()).ToSvg(600, 400);
  const std::regex bar_re(
      "<path d=\"M([0-9.]+),([0-9.]+)L([0-9.]+),([0-9.]+)\" fill=\"none\" stroke=\"#3060c0\"");
  std::vector<std::array<double, 4>> bars;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), bar_re); it != std::sregex_iterator();
       ++it) {
    bars.push_back(
        {std::stod((*it)[1]), std::stod((*it)[2]), std::stod((*it)[3]), std::stod((*it)[4])});
  }
  ASSERT_EQ(bars.size(), 3u);  // the bar and its two caps
  const auto& bar = bars[0];
  EXPECT_EQ(bar[0], bar[2]);  // vertical
  EXPECT_GT(bar[1], bar[3]);  // from the lower bound up to the upper
  for (int cap : {1, 2}) EXPECT_LT(bars[cap][0], bar[0]);
  EXPECT_NEAR(bars[1][1], bar[1], 0.05);
  EXPECT_NEAR(bars[2][1], bar[3], 0.05);

  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      svg, m,
      std::regex("<circle cx=\"([0-9.]+)\" cy=\"([0-9.]+)\" r=\"5.0\" fill=\"white\" "
                 "stroke=\"#3060c0\"")));
  EXPECT_NEAR(std::stod(m[1]), bar[0], 0.05);
  const double predicted_y = std::stod(m[2]);
  EXPECT_LT(predicted_y, bar[1]);
  EXPECT_GT(predicted_y, bar[3]);
  ASSERT_TRUE(std::regex_search(
      svg, m, std::regex("<polygon points=\"([0-9.]+),([0-9.]+) [^\"]*\" fill=\"#d04a02\"")));
  EXPECT_NEAR(std::stod(m[1]), bar[0], 0.05);
  const double actual_y = std::stod(m[2]) + 1.3 * 5;  // the diamond's top vertex, r = 5
  EXPECT_GT(actual_y, bar[3]);
  EXPECT_LT(actual_y, predicted_y);  // the actual loss was higher than predicted
}

TEST(ReportForecastTest, TargetOutsideItsIntervalReadsNo) {
  ForecastInput input = HandMadeForecasts();
  ForecastOutcome miss = input.outcomes.front();
  miss.target = "bigger";
  miss.compute *= 4;
  miss.actual_loss = 3.5;
  input.outcomes.push_back(miss);
  const std::string html = ForecastSectionHtml(input);
  EXPECT_TRUE(Has(html, "<td>3.5000</td><td>-8.27%</td><td><span class=\"warn\">no</span></td>"));
  EXPECT_DOUBLE_EQ(RelativeError(input.outcomes[1]).value(), (3.2104 - 3.5) / 3.5);
}

TEST(ReportForecastTest, FailedForecastIsListedWithItsError) {
  ForecastInput input = HandMadeForecasts();
  ForecastOutcome failed;
  failed.target = "huge";
  failed.error = "the ladder could not be fitted: 3 points, need 5";
  failed.state = "pending";
  failed.fitted_ms = 1796640901123;
  input.outcomes.push_back(failed);
  const std::string html = ForecastSectionHtml(input);
  EXPECT_TRUE(Has(html, "no forecast: the ladder could not be fitted: 3 points, need 5"));
  EXPECT_TRUE(Has(html, "<b>huge</b>: no forecast could be made"));
  EXPECT_TRUE(Has(html, "the target has not been leased yet"));
  EXPECT_TRUE(Has(html, "<td>pending</td>"));
  EXPECT_FALSE(RelativeError(failed).has_value());
}

TEST(ReportForecastTest, StoredAfterTheLeaseIsFlagged) {
  ForecastInput input = HandMadeForecasts();
  input.outcomes[0].first_target_lease_ms = input.outcomes[0].fitted_ms - 10;
  const std::string html = ForecastSectionHtml(input);
  EXPECT_TRUE(Has(html, "not a pre-registered forecast"));
  EXPECT_FALSE(Has(html, "before the target's first lease"));
}

TEST(ReportForecastTest, PageHasTheSectionOnlyWithForecasts) {
  std::mt19937_64 rng(7);
  fitting::SyntheticGrid grid;
  grid.min_params = 1e7;
  grid.max_params = 1e9;
  grid.n_params = 4;
  grid.n_tokens = 4;
  grid.log_noise_sigma = 0.005;
  ReportInput input;
  input.title = "sweep";
  input.source = "synthetic";
  input.runs = fitting::SyntheticChinchillaRuns(kLaw, grid, rng);
  input.bootstrap = 0;
  input.holdout = 0;
  absl::StatusOr<std::string> plain = BuildReportHtml(input);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(Has(*plain, "id=\"forecast\""));
  EXPECT_FALSE(Has(*plain, "Forecast vs outcome"));
  EXPECT_TRUE(ForecastSectionHtml({}).empty());

  input.forecasts = HandMadeForecasts();
  absl::StatusOr<std::string> with = BuildReportHtml(input);
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_TRUE(Has(*with, "<section id=\"forecast\">"));
  EXPECT_LT(with->find("id=\"summary\""), with->find("id=\"forecast\""));
}

TEST(ReportForecastTest, FormatsUnixMilliseconds) {
  EXPECT_EQ(FormatUnixMs(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatUnixMs(1796640901123), "2026-12-07T10:55:01.123Z");
}

}  // namespace
}  // namespace scalelaw::report
