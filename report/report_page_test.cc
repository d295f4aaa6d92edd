#include "report/report_page.h"

#include <gtest/gtest.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "fitting/synthetic_runs.h"

namespace scalelaw::report {
namespace {

const fitting::ChinchillaParams kLaw{1.69, 406.4, 410.7, 0.34, 0.28};

// A 4×4 grid of runs from the Chinchilla law, with small noise.
ReportInput GridInput() {
  std::mt19937_64 rng(7);
  fitting::SyntheticGrid grid;
  grid.min_params = 1e7;
  grid.max_params = 1e9;
  grid.n_params = 4;
  grid.n_tokens = 4;
  grid.log_noise_sigma = 0.005;
  ReportInput input;
  input.title = "test <sweep>";
  input.source = "synthetic";
  input.runs = fitting::SyntheticChinchillaRuns(kLaw, grid, rng);
  input.bootstrap = 10;
  input.holdout = 2;
  return input;
}

// Adds three IsoFLOP profiles of five sizes each.
void AddIsoflopProfiles(ReportInput* input) {
  int id = 0;
  for (double c : {1e18, 1e19, 1e20}) {
    for (double n : {2e7, 5e7, 1.2e8, 3e8, 8e8}) {
      const double d = c / (6 * n);
      input->runs.push_back({n, d, kLaw.Loss(n, d), c, absl::StrCat("iso", id++), c});
    }
  }
}

bool Has(const std::string& html, const std::string& text) {
  return html.find(text) != std::string::npos;
}

TEST(ReportPageTest, EverySectionPresentWhenItsDataIs) {
  ReportInput input = GridInput();
  AddIsoflopProfiles(&input);
  input.budgets = {1e22, 1e23};
  input.excluded = {{"r99", "diverged: loss nan at step 40"}};
  input.curves = {{"c0", 1e7, 1e8, 4.0, 0}, {"c0", 1e7, 1e9, 3.5, 0}};
  input.noise_scales = {{3.5, 1e4, "a"}, {3.0, 3e4, "b"}, {2.6, 1e5, "c"}};
  absl::StatusOr<std::string> html = BuildReportHtml(input);
  ASSERT_TRUE(html.ok()) << html.status();
  for (const char* id : {"summary", "loss-tokens", "loss-compute", "isoflop", "optimal", "budgets",
                         "residuals", "extrapolation", "left-out", "noise-scale"}) {
    EXPECT_TRUE(Has(*html, absl::StrCat("<section id=\"", id, "\""))) << id;
  }
  EXPECT_TRUE(Has(*html, "IsoFLOP profiles (approach 2)"));
  EXPECT_TRUE(Has(*html, "minimum of each profile"));
  EXPECT_TRUE(Has(*html, "Gradient noise scale vs loss"));
  EXPECT_TRUE(Has(*html, "B_crit(L) = B*/L^(1/α_B)"));
  EXPECT_TRUE(Has(*html, "diverged: loss nan at step 40"));
  EXPECT_TRUE(Has(*html, "bootstrap interval"));
  EXPECT_TRUE(Has(*html, "10²³"));  // the budget in the table
  EXPECT_TRUE(Has(*html, "lines: validation curves"));
  EXPECT_TRUE(Has(*html, "test &lt;sweep&gt;"));
  EXPECT_FALSE(Has(*html, "test <sweep>"));
  // Units on the axes.
  for (const char* unit : {"(FLOPs)", "(tokens)", "(parameters)", "(nats/token)"}) {
    EXPECT_TRUE(Has(*html, unit)) << unit;
  }
  // Self-contained: nothing fetched, nothing run.
  EXPECT_FALSE(Has(*html, "<script"));
  EXPECT_FALSE(Has(*html, "http://www.") && Has(*html, "src=\"http"));
  EXPECT_FALSE(Has(*html, "<link"));
}

TEST(ReportPageTest, SaysWhyWhenDataIsMissing) {
  ReportInput input = GridInput();
  input.bootstrap = 0;
  absl::StatusOr<std::string> html = BuildReportHtml(input);
  ASSERT_TRUE(html.ok()) << html.status();
  EXPECT_TRUE(Has(*html,
                  "<section id=\"isoflop\"><h2>IsoFLOP profiles</h2><p class=\"note\">"
                  "Not drawn: no IsoFLOP groups"));
  EXPECT_FALSE(Has(*html, "IsoFLOP profiles (approach 2)"));
  EXPECT_TRUE(Has(*html, "Not drawn: no gradient noise scale measurements"));
  EXPECT_TRUE(Has(*html, "No budgets given"));
  EXPECT_TRUE(Has(*html, "no bootstrap asked for"));
  EXPECT_FALSE(Has(*html, "bootstrap interval</text>"));
  EXPECT_TRUE(Has(*html, "markers: final loss of each run"));
}

TEST(ReportPageTest, TooFewRunsIsAnErrorNamingTheInput) {
  ReportInput input;
  input.source = "runs.csv";
  input.runs = {{1e7, 1e9, 3.0, 0, "a", 0}, {1e8, 1e9, 2.8, 0, "b", 0}};
  absl::StatusOr<std::string> html = BuildReportHtml(input);
  ASSERT_FALSE(html.ok());
  EXPECT_NE(html.status().message().find("runs.csv"), std::string::npos) << html.status();
}

TEST(ReportPageTest, BadBudgetIsAnError) {
  ReportInput input = GridInput();
  input.budgets = {-1};
  absl::StatusOr<std::string> html = BuildReportHtml(input);
  ASSERT_FALSE(html.ok());
  EXPECT_NE(html.status().message().find("budgets"), std::string::npos) << html.status();
}

TEST(ReportPageTest, LawWithoutAnOptimumStillRenders) {
  // A tiny sweep can fit a negative exponent: no compute-optimal allocation,
  // so the frontier and N_opt lines are left out and the page says why.
  ReportInput input = GridInput();
  input.budgets = {1e22};
  ReportFits fits;
  fits.chinchilla.params = {2.0, 1e-100, 14.5, -21.8, 0.13};
  fits.chinchilla.n_points = static_cast<int>(input.runs.size());
  fits.predictions_note = "law has no compute-optimal allocation";
  const std::string html = RenderReportHtml(input, fits);
  EXPECT_TRUE(Has(html, "No compute-optimal allocation: law has no compute-optimal allocation"));
  EXPECT_TRUE(Has(html, "<section id=\"loss-tokens\""));
  EXPECT_FALSE(Has(html, "nan"));
  EXPECT_FALSE(Has(html, "inf\""));
}

TEST(FormatScientificTest, Superscripts) {
  EXPECT_EQ(FormatScientific(1.2e9), "1.2×10⁹");
  EXPECT_EQ(FormatScientific(1e23), "10²³");
  EXPECT_EQ(FormatScientific(3.41), "3.41");
  EXPECT_EQ(FormatScientific(2.5e-5), "2.5×10⁻⁵");
}

}  // namespace
}  // namespace scalelaw::report
