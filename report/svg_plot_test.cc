#include "report/svg_plot.h"

#include <gtest/gtest.h>

#include <cmath>

namespace scalelaw::report {
namespace {

TEST(AxisMappingTest, LogAxisMapsDecadesToEqualSpans) {
  const AxisMapping m(AxisScale::kLog, 1e3, 1e6, 100, 400);
  EXPECT_DOUBLE_EQ(m.ToPixel(1e3), 100);
  EXPECT_DOUBLE_EQ(m.ToPixel(1e4), 200);
  EXPECT_DOUBLE_EQ(m.ToPixel(1e5), 300);
  EXPECT_DOUBLE_EQ(m.ToPixel(1e6), 400);
  EXPECT_NEAR(m.ToPixel(std::sqrt(10) * 1e3), 150, 1e-9);
}

TEST(AxisMappingTest, YAxisGrowsUpwards) {
  const AxisMapping m(AxisScale::kLog, 1, 100, /*pixel_lo=*/300, /*pixel_hi=*/100);
  EXPECT_DOUBLE_EQ(m.ToPixel(1), 300);
  EXPECT_DOUBLE_EQ(m.ToPixel(10), 200);
  EXPECT_DOUBLE_EQ(m.ToPixel(100), 100);
}

TEST(AxisMappingTest, LinearAxis) {
  const AxisMapping m(AxisScale::kLinear, -1, 1, 0, 200);
  EXPECT_DOUBLE_EQ(m.ToPixel(0), 100);
  EXPECT_DOUBLE_EQ(m.ToPixel(0.5), 150);
}

TEST(LogTicksTest, MajorTicksAtEveryDecadeInRange) {
  const std::vector<Tick> ticks = LogTicks(3e17, 2e21);
  std::vector<double> majors;
  int minors = 0;
  for (const Tick& t : ticks) {
    if (t.label.empty()) {
      ++minors;
      EXPECT_GE(t.value, 3e17);
      EXPECT_LE(t.value, 2e21);
    } else {
      majors.push_back(t.value);
    }
  }
  ASSERT_EQ(majors.size(), 4u);
  EXPECT_DOUBLE_EQ(majors[0], 1e18);
  EXPECT_DOUBLE_EQ(majors[3], 1e21);
  EXPECT_GT(minors, 20);  // 3..9·10^17, 2..9·10^18, …, 2·10^21
  // The exponent is a superscript.
  EXPECT_EQ(ticks[0].label.find("10<tspan"), std::string::npos);  // 3e17 is a minor tick
  bool found = false;
  for (const Tick& t : ticks) {
    if (t.value == 1e18) {
      EXPECT_NE(t.label.find(">18</tspan>"), std::string::npos) << t.label;
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(LogTicksTest, WideRangeKeepsOnlyTwoAndFiveAsMinorTicks) {
  for (const Tick& t : LogTicks(1e6, 1e14)) {
    if (!t.label.empty()) continue;
    const double m = t.value / std::pow(10.0, std::floor(std::log10(t.value) + 1e-12));
    EXPECT_TRUE(std::fabs(m - 2) < 1e-9 || std::fabs(m - 5) < 1e-9) << t.value;
  }
}

TEST(LogTicksTest, NarrowRangeGetsRoundLinearSteps) {
  // A loss axis from 2.1 to 3.4 holds no power of ten.
  const std::vector<Tick> ticks = LogTicks(2.1, 3.4);
  ASSERT_GE(ticks.size(), 3u);
  for (const Tick& t : ticks) {
    EXPECT_FALSE(t.label.empty());
    EXPECT_GE(t.value, 2.1);
    EXPECT_LE(t.value, 3.4);
  }
  EXPECT_EQ(ticks.front().label, "2.25");
}

TEST(LinearTicksTest, RoundStepsThroughZero) {
  const std::vector<Tick> ticks = LinearTicks(-0.021, 0.034);
  std::vector<std::string> labels;
  for (const Tick& t : ticks) labels.push_back(t.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"-0.02", "-0.01", "0", "0.01", "0.02", "0.03"}));
}

TEST(EscapeXmlTest, EscapesMarkupAndQuotes) {
  EXPECT_EQ(EscapeXml("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
  EXPECT_EQ(EscapeXml("N = 1.2×10⁹"), "N = 1.2×10⁹");
}

TEST(FormatTickNumberTest, ShortLabels) {
  EXPECT_EQ(FormatTickNumber(2.5), "2.5");
  EXPECT_EQ(FormatTickNumber(3), "3");
  EXPECT_EQ(FormatTickNumber(0.05), "0.05");
  EXPECT_EQ(FormatTickNumber(1.5e12), "1.5×10<tspan dy=\"-0.55em\" font-size=\"75%\">12</tspan>");
  EXPECT_EQ(FormatTickNumber(1e-4), "10<tspan dy=\"-0.55em\" font-size=\"75%\">-4</tspan>");
}

TEST(PlotTest, SvgHasTitleAxisLabelsSeriesAndLegend) {
  Plot plot("p1", "Loss <vs> compute", {"compute C (FLOPs)", AxisScale::kLog},
            {"loss (nats/token)", AxisScale::kLog});
  EXPECT_TRUE(plot.empty());
  plot.AddMarkers("N = 1e8", "#440154", {{1e18, 3.2, "run & 1"}, {1e19, 2.9, ""}});
  plot.AddLine("frontier", "#111", {{1e18, 3.1, ""}, {1e20, 2.5, ""}}, /*dashed=*/true);
  plot.AddBand("90% interval", "#3060c0", {{1e18, 3.0, ""}, {1e20, 2.4, ""}},
               {{1e18, 3.2, ""}, {1e20, 2.6, ""}});
  plot.AddVerticalLine(1e21, "budget", "#b00020");
  EXPECT_FALSE(plot.empty());
  const std::string svg = plot.ToSvg(600, 400);
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("Loss &lt;vs&gt; compute"), std::string::npos);
  EXPECT_EQ(svg.find("Loss <vs>"), std::string::npos);
  EXPECT_NE(svg.find("compute C (FLOPs)"), std::string::npos);
  EXPECT_NE(svg.find("loss (nats/token)"), std::string::npos);
  EXPECT_NE(svg.find("<title>run &amp; 1</title>"), std::string::npos);
  EXPECT_NE(svg.find("stroke-dasharray=\"6 4\""), std::string::npos);
  EXPECT_NE(svg.find("fill-opacity=\"0.18\""), std::string::npos);
  EXPECT_NE(svg.find(">frontier</text>"), std::string::npos);
  EXPECT_NE(svg.find(">90% interval</text>"), std::string::npos);
  EXPECT_NE(svg.find("clip-path=\"url(#clip-p1)\""), std::string::npos);
  EXPECT_NE(svg.find(">21</tspan>"), std::string::npos);  // the budget's decade is on the axis
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
}

TEST(PlotTest, DropsPointsALogAxisCannotShow) {
  Plot plot("p2", "t", {"x", AxisScale::kLog}, {"y", AxisScale::kLog});
  plot.AddMarkers("bad", "#000", {{0, 1, ""}, {1, -2, ""}, {NAN, 1, ""}});
  EXPECT_TRUE(plot.empty());
  const std::string svg = plot.ToSvg();
  EXPECT_EQ(svg.find(">bad</text>"), std::string::npos);  // no legend entry without points
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(SequentialColorTest, EndsOfTheMap) {
  EXPECT_EQ(SequentialColor(0, 5), "#440154");
  EXPECT_EQ(SequentialColor(4, 5), "#bddf26");
  EXPECT_EQ(SequentialColor(0, 1), "#440154");
}

}  // namespace
}  // namespace scalelaw::report
