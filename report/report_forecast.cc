#include "report/report_forecast.h"

#include <algorithm>
#include <cmath>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "report/report_page.h"

namespace scalelaw::report {
namespace {

constexpr char kLadderColor[] = "#6b6b6b";
constexpr char kPredictedColor[] = "#3060c0";
constexpr char kActualColor[] = "#d04a02";
constexpr char kTargetLineColor[] = "#9a9a9a";

bool HasForecast(const ForecastOutcome& o) { return o.error.empty(); }

bool Inside(const ForecastOutcome& o) {
  return o.actual_loss && *o.actual_loss >= o.prediction_interval.lo &&
         *o.actual_loss <= o.prediction_interval.hi;
}

std::string Loss(double loss) { return absl::StrFormat("%.4f", loss); }

std::string IntervalText(const fitting::Interval& in) {
  return absl::StrCat("[", Loss(in.lo), ", ", Loss(in.hi), "]");
}

// A positive count or "–" for one a failed compute target never got.
std::string Count(double value) { return value > 0 ? FormatScientific(value, 3) : "–"; }

// "12 ms", "3.4 s", "2.5 min", "1.2 h": how long after the forecast the
// target was first leased.
std::string Duration(int64_t ms) {
  if (ms < 1000) return absl::StrCat(ms, " ms");
  const double s = static_cast<double>(ms) / 1000;
  if (s < 120) return absl::StrFormat("%.1f s", s);
  if (s < 7200) return absl::StrFormat("%.1f min", s / 60);
  return absl::StrFormat("%.1f h", s / 3600);
}

// When the forecast was stored against the target's first lease, from the
// outcome's two times; a forecast stored after the lease is flagged, since
// it is then no pre-registration.
std::string ProvenanceSentence(const ForecastOutcome& o) {
  std::string when = absl::StrCat("stored at ", FormatUnixMs(o.fitted_ms));
  if (o.first_target_lease_ms == 0) {
    absl::StrAppend(&when, "; the target has not been leased yet");
  } else if (o.fitted_ms < o.first_target_lease_ms) {
    absl::StrAppend(&when, ", before the target's first lease at ",
                    FormatUnixMs(o.first_target_lease_ms), " (",
                    Duration(o.first_target_lease_ms - o.fitted_ms), " later)");
  } else if (o.fitted_ms == o.first_target_lease_ms) {
    absl::StrAppend(&when, ", no later than the target's first lease at ",
                    FormatUnixMs(o.first_target_lease_ms));
  } else {
    absl::StrAppend(&when, ", <span class=\"warn\">after the target's first lease at ",
                    FormatUnixMs(o.first_target_lease_ms),
                    ": not a pre-registered forecast</span>");
  }
  const std::string name = absl::StrCat("<b>", EscapeXml(o.target), "</b>");
  if (!HasForecast(o)) {
    return absl::StrCat(name, ": no forecast could be made (", EscapeXml(o.error),
                        "); the failure was ", when, ".");
  }
  return absl::StrCat(name, ": the forecast was ", when, ", and fitted on ", o.ladder_points,
                      " ladder point", o.ladder_points == 1 ? "" : "s", ".");
}

std::string TableRow(const ForecastOutcome& o) {
  std::string row =
      absl::StrCat("<tr><td class=\"text\">", EscapeXml(o.target), "</td><td>", Count(o.params),
                   "</td><td>", Count(o.tokens), "</td><td>", Count(o.compute), "</td>");
  if (HasForecast(o)) {
    absl::StrAppend(&row, "<td>", Loss(o.predicted_loss), "</td><td>",
                    IntervalText(o.prediction_interval), "</td>");
  } else {
    absl::StrAppend(&row, "<td class=\"text warn\" colspan=\"2\">no forecast: ", EscapeXml(o.error),
                    "</td>");
  }
  absl::StrAppend(&row, "<td>", o.actual_loss ? Loss(*o.actual_loss) : EscapeXml(o.state), "</td>");
  const std::optional<double> error = RelativeError(o);
  if (error) {
    absl::StrAppend(&row, "<td>", absl::StrFormat("%+.2f%%", 100 * *error), "</td><td>",
                    Inside(o) ? "yes" : "<span class=\"warn\">no</span>", "</td>");
  } else {
    absl::StrAppend(&row, "<td>–</td><td>–</td>");
  }
  absl::StrAppend(&row, "<td class=\"text\">", FormatUnixMs(o.fitted_ms), "</td></tr>\n");
  return row;
}

}  // namespace

std::optional<double> RelativeError(const ForecastOutcome& outcome) {
  if (!HasForecast(outcome) || !outcome.actual_loss || *outcome.actual_loss <= 0) {
    return std::nullopt;
  }
  return (outcome.predicted_loss - *outcome.actual_loss) / *outcome.actual_loss;
}

std::string FormatUnixMs(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  return absl::StrFormat("%s.%03dZ", text, static_cast<int>(unix_ms % 1000));
}

Plot ForecastPlot(const ForecastInput& input) {
  Plot plot("forecast", "Forecast vs outcome",
            {"training compute C = 6ND (FLOPs)", AxisScale::kLog},
            {"validation loss L (nats/token)", AxisScale::kLog});
  // Caps are a fixed fraction of the x range in log space, so they read the
  // same width whatever the span of compute.
  double c_lo = INFINITY, c_hi = 0;
  for (const fitting::Observation& r : input.ladder) {
    c_lo = std::min(c_lo, 6 * r.params * r.tokens);
    c_hi = std::max(c_hi, 6 * r.params * r.tokens);
  }
  for (const ForecastOutcome& o : input.outcomes) {
    if (!HasForecast(o) || !(o.compute > 0)) continue;
    c_lo = std::min(c_lo, o.compute);
    c_hi = std::max(c_hi, o.compute);
  }
  const double cap = c_hi > c_lo ? std::pow(c_hi / c_lo, 0.012) : 1.04;

  std::vector<PlotPoint> ladder, predicted, actual;
  for (const fitting::Observation& r : input.ladder) {
    ladder.push_back({6 * r.params * r.tokens, r.loss, absl::StrCat(r.id, ": L = ", Loss(r.loss))});
  }
  double level = 0;
  int ladder_points = 0;
  for (const ForecastOutcome& o : input.outcomes) {
    if (!HasForecast(o)) continue;
    level = o.level;
    ladder_points = o.ladder_points;
    const double c = o.compute;
    const fitting::Interval& in = o.prediction_interval;
    plot.AddVerticalLine(c, o.target, kTargetLineColor, /*label_at_top=*/true);
    plot.AddLine("", kPredictedColor, {{c, in.lo, ""}, {c, in.hi, ""}}, false, 1.8);
    for (double y : {in.lo, in.hi}) {
      plot.AddLine("", kPredictedColor, {{c / cap, y, ""}, {c * cap, y, ""}}, false, 1.8);
    }
    predicted.push_back({c, o.predicted_loss,
                         absl::StrCat(o.target, ": predicted L = ", Loss(o.predicted_loss), " ",
                                      IntervalText(in))});
    if (o.actual_loss) {
      actual.push_back(
          {c, *o.actual_loss, absl::StrCat(o.target, ": actual L = ", Loss(*o.actual_loss))});
    }
  }
  plot.AddMarkers(absl::StrCat("ladder (", input.ladder.size(), " fitted runs)"), kLadderColor,
                  std::move(ladder), Marker::kCircle, false, 3.5);
  plot.AddMarkers(absl::StrCat("forecast, ", std::lround(level * 100), "% prediction interval"),
                  kPredictedColor, std::move(predicted), Marker::kCircle, /*hollow=*/true, 5);
  plot.AddMarkers("actual final loss", kActualColor, std::move(actual), Marker::kDiamond, false, 5);
  // Loss falls with compute, so the ladder sits top left and the targets
  // bottom right: the bottom-left corner is the one free of data.
  plot.set_legend_corner(LegendCorner::kBottomLeft);
  plot.set_subtitle(
      absl::StrCat("fitted on ", ladder_points, " ladder points before any target ran"));
  return plot;
}

std::string ForecastSectionHtml(const ForecastInput& input) {
  if (input.outcomes.empty()) return "";
  std::string html = "<section id=\"forecast\"><h2>Forecast vs outcome</h2>\n";
  const Plot plot = ForecastPlot(input);
  double level = input.outcomes.front().level;
  for (const ForecastOutcome& o : input.outcomes) {
    if (HasForecast(o)) level = o.level;
  }
  const long percent = std::lround(level * 100);
  if (!plot.empty()) {
    absl::StrAppend(
        &html, "<figure>", plot.ToSvg(600, 400), "<figcaption>Grey: the ladder runs the forecast ",
        "was fitted on. Blue: each target's pre-registered loss with its ", percent,
        "% prediction interval (parameter bootstrap and the fit's residual scatter). Orange: "
        "the loss the target reached.</figcaption></figure>\n");
  }
  absl::StrAppend(&html, "<table><tr><th class=\"text\">target</th><th>N (parameters)</th>",
                  "<th>D (tokens)</th><th>C = 6ND (FLOPs)</th><th>predicted L</th><th>", percent,
                  "% interval</th><th>actual L</th><th>relative error</th><th>inside</th>",
                  "<th class=\"text\">fitted at (UTC)</th></tr>\n");
  for (const ForecastOutcome& o : input.outcomes) absl::StrAppend(&html, TableRow(o));
  absl::StrAppend(&html, "</table>\n");
  for (const ForecastOutcome& o : input.outcomes) {
    absl::StrAppend(&html, "<p class=\"meta\">", ProvenanceSentence(o), "</p>\n");
  }
  absl::StrAppend(&html,
                  "<p class=\"meta\">Relative error is (predicted − actual)/actual; losses in "
                  "nats/token.</p></section>\n");
  return html;
}

}  // namespace scalelaw::report
