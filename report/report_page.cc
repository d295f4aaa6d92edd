#include "report/report_page.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "report/report_figures.h"
#include "report/report_forecast.h"
#include "report/svg_plot.h"

namespace scalelaw::report {
namespace {

constexpr int kFigureWidth = 600;
constexpr int kFigureHeight = 400;

constexpr char kStyle[] = R"css(
body { font-family: Helvetica, Arial, 'DejaVu Sans', sans-serif; color: #222; margin: 24px auto;
       max-width: 1240px; padding: 0 12px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.meta { color: #555; margin: 0 0 12px; font-size: 13px; }
p.note { color: #555; font-size: 13px; font-style: italic; }
.figures { display: grid; grid-template-columns: repeat(2, 600px); gap: 16px 24px; }
figure { margin: 0; }
section.wide { grid-column: 1 / span 2; }
.figures h2 { margin-top: 4px; }
figcaption { font-size: 12.5px; color: #444; margin-top: 4px; line-height: 1.4; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 10px; }
th, td { padding: 3px 10px; text-align: right; border-bottom: 1px solid #eee; }
th { border-bottom: 1px solid #999; font-weight: 600; }
td.text, th.text { text-align: left; }
.warn { color: #b00020; }
)css";

std::string Esc(std::string_view text) { return EscapeXml(text); }

std::string WithInterval(double value, const fitting::Interval* interval, int digits = 3) {
  std::string out = FormatScientific(value, digits);
  if (interval != nullptr) {
    absl::StrAppend(&out, " <span style=\"color:#666\">[", FormatScientific(interval->lo, digits),
                    ", ", FormatScientific(interval->hi, digits), "]</span>");
  }
  return out;
}

std::string Figure(const Plot& plot, const std::string& caption) {
  return absl::StrCat("<figure>", plot.ToSvg(kFigureWidth, kFigureHeight), "<figcaption>", caption,
                      "</figcaption></figure>\n");
}

std::string SummarySection(const ReportInput& input, const ReportFits& fits) {
  const fitting::ChinchillaFitResult& fit = fits.chinchilla;
  const fitting::ChinchillaBootstrap* b = fits.bootstrap ? &*fits.bootstrap : nullptr;
  std::string html =
      "<section id=\"summary\"><h2>Fit: L(N, D) = E + A/N<sup>α</sup> + "
      "B/D<sup>β</sup> (Chinchilla approach 3)</h2>\n";
  absl::StrAppend(&html, "<table><tr><th class=\"text\">parameter</th><th>value",
                  b ? absl::StrCat(" [", std::lround(b->level * 100), "% bootstrap]") : "",
                  "</th></tr>\n");
  auto row = [&](const char* name, double v, const fitting::Interval* in) {
    absl::StrAppend(&html, "<tr><td class=\"text\">", name, "</td><td>", WithInterval(v, in),
                    "</td></tr>\n");
  };
  row("E (nats/token)", fit.params.E, b ? &b->E : nullptr);
  row("A", fit.params.A, b ? &b->A : nullptr);
  row("B", fit.params.B, b ? &b->B : nullptr);
  row("α", fit.params.alpha, b ? &b->alpha : nullptr);
  row("β", fit.params.beta, b ? &b->beta : nullptr);
  const double a = fit.params.beta / (fit.params.alpha + fit.params.beta);
  absl::StrAppend(&html, "<tr><td class=\"text\">a = β/(α+β), N_opt ∝ C<sup>a</sup></td><td>",
                  FormatScientific(a, 3), "</td></tr>\n</table>\n");
  absl::StrAppend(&html, "<p class=\"meta\">", fit.n_points, " runs fitted",
                  fit.param_count.empty()
                      ? ""
                      : absl::StrCat(" · N counts ", Esc(fit.param_count), " parameters"),
                  " · objective Σ Huber<sub>δ</sub> = ", absl::StrFormat("%.6g", fit.objective),
                  " (δ = ", fit.huber_delta, ") · solver: ", Esc(fit.termination),
                  fit.converged ? "" : " <span class=\"warn\">(not converged)</span>", ", ",
                  fit.n_starts, " starts, ", fit.n_starts_converged, " converged");
  if (b) {
    absl::StrAppend(&html, " · bootstrap: ", b->resamples, " resamples",
                    b->failed > 0 ? absl::StrCat(", ", b->failed, " failed") : "");
  } else if (!fits.bootstrap_note.empty()) {
    absl::StrAppend(&html, " · no intervals: ", Esc(fits.bootstrap_note));
  }
  absl::StrAppend(&html, "</p>\n");
  if (fits.isoflop) {
    absl::StrAppend(&html, "<p class=\"meta\">Approach 2 (IsoFLOP, ", fits.isoflop->budgets.size(),
                    " budgets): N_opt ∝ C<sup>", FormatScientific(fits.isoflop->a, 3),
                    "</sup>, D_opt ∝ C<sup>", FormatScientific(fits.isoflop->b, 3), "</sup></p>\n");
  }
  absl::StrAppend(&html, "</section>\n");
  return html;
}

std::string BudgetsSection(const ReportFits& fits) {
  std::string html = "<section id=\"budgets\"><h2>Extrapolation to the budgets</h2>\n";
  if (!fits.predictions_note.empty()) {
    return absl::StrCat(html, "<p class=\"note warn\">No compute-optimal allocation: ",
                        Esc(fits.predictions_note), "</p></section>\n");
  }
  if (fits.predictions.empty()) {
    return absl::StrCat(html,
                        "<p class=\"note\">No budgets given (--budgets C1,C2).</p></section>\n");
  }
  absl::StrAppend(&html, "<table><tr><th>budget C (FLOPs)</th><th>N_opt (parameters)</th>",
                  "<th>D_opt (tokens)</th><th>L_opt (nats/token)</th><th>D/N</th>",
                  "<th class=\"text\">note</th></tr>\n");
  const bool intervals = fits.bootstrap.has_value();
  for (const BudgetPrediction& p : fits.predictions) {
    absl::StrAppend(&html, "<tr><td>", FormatScientific(p.optimal.compute, 3), "</td><td>",
                    WithInterval(p.optimal.params, intervals ? &p.params : nullptr), "</td><td>",
                    WithInterval(p.optimal.tokens, intervals ? &p.tokens : nullptr), "</td><td>",
                    WithInterval(p.optimal.loss, intervals ? &p.loss : nullptr, 4), "</td><td>",
                    FormatScientific(p.optimal.tokens_per_param, 3), "</td><td class=\"text\">",
                    Esc(p.optimal.method),
                    p.extrapolated ? "; <span class=\"warn\">beyond the largest run</span>" : "",
                    "</td></tr>\n");
  }
  absl::StrAppend(&html, "</table></section>\n");
  return html;
}

std::string ExtrapolationSection(const ReportFits& fits) {
  std::string html =
      "<section id=\"extrapolation\"><h2>Extrapolation check: refit without the largest "
      "runs</h2>\n";
  if (!fits.extrapolation) {
    return absl::StrCat(html, "<p class=\"note\">Not run: ", Esc(fits.extrapolation_note),
                        "</p></section>\n");
  }
  const fitting::ExtrapolationCheck& check = *fits.extrapolation;
  absl::StrAppend(&html, "<table><tr><th class=\"text\">held-out run</th><th>C (FLOPs)</th>",
                  "<th>actual L</th><th>predicted L</th><th>relative error</th></tr>\n");
  for (const fitting::ExtrapolationPoint& p : check.points) {
    absl::StrAppend(&html, "<tr><td class=\"text\">", Esc(p.id), "</td><td>",
                    FormatScientific(p.compute, 3), "</td><td>", absl::StrFormat("%.4f", p.actual),
                    "</td><td>", absl::StrFormat("%.4f", p.predicted), "</td><td>",
                    absl::StrFormat("%.2f%%", 100 * p.relative_error), "</td></tr>\n");
  }
  absl::StrAppend(&html, "</table><p class=\"meta\">Largest relative error ",
                  absl::StrFormat("%.2f%%", 100 * check.max_relative_error),
                  "; refit α = ", FormatScientific(check.refit.params.alpha, 3),
                  ", β = ", FormatScientific(check.refit.params.beta, 3), ".</p></section>\n");
  return html;
}

std::string LeftOutSection(const ReportInput& input, const ReportFits& fits) {
  std::string html = "<section id=\"left-out\"><h2>Points left out, and why</h2>\n";
  std::vector<ExcludedRun> rows = input.excluded;
  if (fits.extrapolation) {
    for (const fitting::ExtrapolationPoint& p : fits.extrapolation->points) {
      rows.push_back({p.id, "held out of the extrapolation check's refit only (largest compute)"});
    }
  }
  if (rows.empty()) {
    return absl::StrCat(html, "<p class=\"note\">None: every run was fitted.</p></section>\n");
  }
  absl::StrAppend(&html,
                  "<table><tr><th class=\"text\">run</th><th class=\"text\">reason</th></tr>\n");
  for (const ExcludedRun& r : rows) {
    absl::StrAppend(&html, "<tr><td class=\"text\">", Esc(r.id), "</td><td class=\"text\">",
                    Esc(r.reason), "</td></tr>\n");
  }
  absl::StrAppend(&html, "</table></section>\n");
  return html;
}

}  // namespace

std::string FormatScientific(double value, int digits) {
  if (!std::isfinite(value)) return "n/a";
  const double magnitude = std::fabs(value);
  if (magnitude == 0 || (magnitude >= 0.01 && magnitude < 1e4)) {
    return absl::StrFormat("%.*g", std::max(digits, 3), value);
  }
  int exponent = static_cast<int>(std::floor(std::log10(magnitude)));
  double mantissa = value / std::pow(10.0, exponent);
  std::string m = absl::StrFormat("%.*g", digits, mantissa);
  if (m == "10" || m == "-10") {
    ++exponent;
    m = value < 0 ? "-1" : "1";
  }
  static constexpr const char* kSuperscript[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
  std::string exp = exponent < 0 ? "⁻" : "";
  for (char c : std::to_string(std::abs(exponent))) absl::StrAppend(&exp, kSuperscript[c - '0']);
  if (m == "1") return absl::StrCat("10", exp);
  return absl::StrCat(m, "×10", exp);
}

std::string RenderReportHtml(const ReportInput& input, const ReportFits& fits) {
  std::string html =
      absl::StrCat("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>",
                   Esc(input.title), "</title>\n<style>", kStyle, "</style></head>\n<body>\n<h1>",
                   Esc(input.title), "</h1>\n<p class=\"meta\">", input.runs.size(), " runs from ",
                   Esc(input.source), " · ", input.excluded.size(),
                   " left out · written by scalelaw report</p>\n");
  absl::StrAppend(&html, SummarySection(input, fits), ForecastSectionHtml(input.forecasts));

  absl::StrAppend(&html, "<div class=\"figures\">\n<section id=\"loss-tokens\">",
                  Figure(LossVsTokensPlot(input, fits),
                         "Validation loss against tokens, one colour per model size (small: "
                         "purple, large: green)."),
                  "</section>\n<section id=\"loss-compute\">",
                  Figure(LossVsComputePlot(input, fits),
                         "Each run at its training compute; the line is L(N_opt(C), D_opt(C)) "
                         "under C = 6ND, extended to the budgets."),
                  "</section>\n");
  absl::StrAppend(&html, "<section id=\"isoflop\">");
  if (fits.isoflop) {
    absl::StrAppend(&html, Figure(IsoflopPlot(input, fits),
                                  "Runs grouped by IsoFLOP budget; diamonds mark each "
                                  "parabola's minimum."));
  } else {
    absl::StrAppend(&html, "<h2>IsoFLOP profiles</h2><p class=\"note\">Not drawn: ",
                    Esc(fits.isoflop_note), "</p>");
  }
  absl::StrAppend(&html, "</section>\n<section id=\"residuals\">",
                  Figure(ResidualsPlot(input, fits),
                         "Residuals coloured by model size. Crosses: the runs held out of the "
                         "extrapolation check, as the refit predicts them."),
                  "</section>\n");
  absl::StrAppend(&html, "<section id=\"optimal\" class=\"wide\"><div class=\"figures\">",
                  Figure(OptimalPlot(input, fits, /*tokens=*/false),
                         "N_opt(C) = G·(C/6)<sup>β/(α+β)</sup> with its bootstrap band; IsoFLOP "
                         "minima where available; budgets with their intervals."),
                  Figure(OptimalPlot(input, fits, /*tokens=*/true),
                         "D_opt(C) = G<sup>−1</sup>·(C/6)<sup>α/(α+β)</sup>."),
                  "</div></section>\n");
  absl::StrAppend(&html, "<section id=\"noise-scale\">");
  if (!input.noise_scales.empty()) {
    absl::StrAppend(&html,
                    Figure(NoiseScalePlot(input, fits),
                           fits.critical_batch
                               ? "B_simple (McCandlish et al. 2018) approximates the "
                                 "critical batch size; the line is the fitted power law."
                               : Esc(absl::StrCat("No B_crit fit: ", fits.critical_batch_note))));
  } else {
    absl::StrAppend(&html, "<h2>Gradient noise scale</h2><p class=\"note\">Not drawn: ",
                    Esc(fits.critical_batch_note), "</p>");
  }
  absl::StrAppend(&html, "</section>\n<div>", LeftOutSection(input, fits), "</div>\n</div>\n",
                  BudgetsSection(fits), ExtrapolationSection(fits));
  absl::StrAppend(&html, "</body></html>\n");
  return html;
}

absl::StatusOr<std::string> BuildReportHtml(const ReportInput& input) {
  absl::StatusOr<ReportFits> fits = FitReport(input);
  if (!fits.ok()) return fits.status();
  return RenderReportHtml(input, *fits);
}

}  // namespace scalelaw::report
