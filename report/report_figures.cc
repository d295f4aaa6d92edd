#include "report/report_figures.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "report/report_page.h"

namespace scalelaw::report {
namespace {

constexpr char kFitColor[] = "#111111";
constexpr char kBandColor[] = "#3060c0";
constexpr char kIsoflopColor[] = "#d04a02";
constexpr char kBudgetColor[] = "#b00020";
constexpr int kMaxLegendSizes = 7;

const Axis kTokensAxis{"training tokens D (tokens)", AxisScale::kLog};
const Axis kComputeAxis{"training compute C (FLOPs)", AxisScale::kLog};
const Axis kParamsAxis{"parameters N (parameters)", AxisScale::kLog};
const Axis kLossAxis{"validation loss L (nats/token)", AxisScale::kLog};

// n log-spaced values from lo to hi.
std::vector<double> LogSpace(double lo, double hi, int n) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(lo * std::pow(hi / lo, static_cast<double>(i) / (n - 1)));
  }
  return out;
}

// The distinct model sizes, ascending, so each size keeps one colour in
// every figure.
std::vector<double> Sizes(const ReportInput& input) {
  std::vector<double> sizes;
  for (const fitting::Observation& r : input.runs) sizes.push_back(r.params);
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  return sizes;
}

// The colour of the size nearest `params` in log space (a curve's count may
// differ slightly from its final run's).
std::string SizeColor(const std::vector<double>& sizes, double params) {
  int best = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (std::fabs(std::log(sizes[i] / params)) < std::fabs(std::log(sizes[best] / params))) {
      best = static_cast<int>(i);
    }
  }
  return SequentialColor(best, static_cast<int>(sizes.size()));
}

// The legend entry of size i of n: every size when there are few, else an
// evenly spaced sample that reads as a key to the colour map.
std::string SizeLabel(const std::vector<double>& sizes, int i) {
  const int n = static_cast<int>(sizes.size());
  bool labelled = n <= kMaxLegendSizes;
  for (int k = 0; !labelled && k < kMaxLegendSizes - 1; ++k) {
    labelled = i == static_cast<int>(std::lround(k * (n - 1.0) / (kMaxLegendSizes - 2)));
  }
  return labelled ? absl::StrCat("N = ", FormatScientific(sizes[i])) : "";
}

double MinCompute(const ReportInput& input) {
  double c = INFINITY;
  for (const fitting::Observation& r : input.runs) c = std::min(c, fitting::ComputeOf(r));
  return c;
}

double MaxCompute(const ReportInput& input, bool with_budgets) {
  double c = 0;
  for (const fitting::Observation& r : input.runs) c = std::max(c, fitting::ComputeOf(r));
  if (with_budgets) {
    for (double b : input.budgets) c = std::max(c, b);
  }
  return c;
}

const fitting::ChinchillaBootstrap* BootstrapOf(const ReportFits& fits) {
  return fits.bootstrap ? &*fits.bootstrap : nullptr;
}

constexpr char kNoOptimum[] =
    "the fitted law has no compute-optimal allocation (see the budgets table)";

// Whether `law` has a finite compute-optimal allocation; without one the
// bootstrap's laws that do would draw a band around nothing.
bool HasOptimum(const fitting::ChinchillaParams& law) {
  return std::isfinite(OptimalQuantityOf(law, OptimalQuantity::kParams, 1e20));
}

// Least-squares parabola loss = c0 + c1·x + c2·x² with x = log N, as
// FitIsoflop fits each profile; false when the normal equations are singular.
bool FitParabola(const std::vector<std::pair<double, double>>& xy, double c[3]) {
  double s[5] = {0, 0, 0, 0, 0}, t[3] = {0, 0, 0};
  for (const auto& [x, y] : xy) {
    double p = 1;
    for (int k = 0; k < 5; ++k) {
      s[k] += p;
      if (k < 3) t[k] += p * y;
      p *= x;
    }
  }
  double m[3][4] = {{s[0], s[1], s[2], t[0]}, {s[1], s[2], s[3], t[1]}, {s[2], s[3], s[4], t[2]}};
  for (int i = 0; i < 3; ++i) {
    int pivot = i;
    for (int r = i + 1; r < 3; ++r) {
      if (std::fabs(m[r][i]) > std::fabs(m[pivot][i])) pivot = r;
    }
    if (std::fabs(m[pivot][i]) < 1e-12) return false;
    for (int k = 0; k < 4; ++k) std::swap(m[i][k], m[pivot][k]);
    for (int r = 0; r < 3; ++r) {
      if (r == i) continue;
      const double f = m[r][i] / m[i][i];
      for (int k = 0; k < 4; ++k) m[r][k] -= f * m[i][k];
    }
  }
  for (int i = 0; i < 3; ++i) c[i] = m[i][3] / m[i][i];
  return true;
}

}  // namespace

Plot LossVsTokensPlot(const ReportInput& input, const ReportFits& fits) {
  Plot plot("loss-tokens", "Loss vs training tokens", kTokensAxis, kLossAxis);
  const std::vector<double> sizes = Sizes(input);
  const int n = static_cast<int>(sizes.size());
  std::map<std::string, std::vector<fitting::CurvePoint>> curves;
  for (const fitting::CurvePoint& p : input.curves) curves[p.run].push_back(p);
  for (auto& [run, points] : curves) {
    std::sort(points.begin(), points.end(),
              [](const auto& a, const auto& b) { return a.tokens < b.tokens; });
    std::vector<PlotPoint> line;
    for (const fitting::CurvePoint& p : points) line.push_back({p.tokens, p.loss, ""});
    plot.AddLine("", SizeColor(sizes, points.front().params), std::move(line), false, 1.3);
  }
  for (int i = 0; i < n; ++i) {
    const std::string color = SequentialColor(i, n);
    std::vector<PlotPoint> points;
    double d_lo = INFINITY, d_hi = 0;
    for (const fitting::Observation& r : input.runs) {
      if (r.params != sizes[i]) continue;
      points.push_back({r.tokens, r.loss, absl::StrCat(r.id, ": L = ", r.loss)});
      d_lo = std::min(d_lo, r.tokens);
      d_hi = std::max(d_hi, r.tokens);
    }
    std::vector<PlotPoint> fit_line;
    for (double d : LogSpace(d_lo / 1.5, d_hi * 1.5, 40)) {
      fit_line.push_back({d, fits.chinchilla.params.Loss(sizes[i], d), ""});
    }
    plot.AddLine("", color, std::move(fit_line), /*dashed=*/true, 1.2);
    plot.AddMarkers(SizeLabel(sizes, i), color, std::move(points));
  }
  plot.set_subtitle(
      input.curves.empty()
          ? "markers: final loss of each run · dashed: fitted L(N, D)"
          : "lines: validation curves · markers: final loss · dashed: fitted L(N, D)");
  return plot;
}

Plot LossVsComputePlot(const ReportInput& input, const ReportFits& fits) {
  Plot plot("loss-compute", "Loss vs compute, with the compute-optimal frontier", kComputeAxis,
            kLossAxis);
  const std::vector<double> sizes = Sizes(input);
  const int n = static_cast<int>(sizes.size());
  const fitting::ChinchillaBootstrap* bootstrap =
      HasOptimum(fits.chinchilla.params) ? BootstrapOf(fits) : nullptr;
  if (!HasOptimum(fits.chinchilla.params)) plot.set_subtitle(kNoOptimum);
  std::vector<PlotPoint> frontier, lower, upper;
  for (double c : LogSpace(MinCompute(input) / 2, MaxCompute(input, true) * 2, 60)) {
    const double l = OptimalQuantityOf(fits.chinchilla.params, OptimalQuantity::kLoss, c);
    const fitting::Interval band = OptimalInterval(bootstrap, OptimalQuantity::kLoss, c, l);
    frontier.push_back({c, l, ""});
    lower.push_back({c, band.lo, ""});
    upper.push_back({c, band.hi, ""});
  }
  if (bootstrap != nullptr) {
    plot.AddBand(absl::StrCat(std::lround(bootstrap->level * 100), "% bootstrap interval"),
                 kBandColor, std::move(lower), std::move(upper));
  }
  plot.AddLine("frontier L_opt(C), approach 3", kFitColor, std::move(frontier));
  for (int i = 0; i < n; ++i) {
    std::vector<PlotPoint> points;
    for (const fitting::Observation& r : input.runs) {
      if (r.params == sizes[i]) {
        points.push_back({fitting::ComputeOf(r), r.loss, absl::StrCat(r.id, ": L = ", r.loss)});
      }
    }
    plot.AddMarkers("", SequentialColor(i, n), std::move(points));
  }
  std::vector<PlotPoint> predicted;
  for (const BudgetPrediction& p : fits.predictions) {
    plot.AddVerticalLine(p.optimal.compute,
                         absl::StrCat("budget ", FormatScientific(p.optimal.compute)),
                         kBudgetColor);
    predicted.push_back(
        {p.optimal.compute, p.optimal.loss, absl::StrCat("L_opt = ", p.optimal.loss)});
  }
  plot.AddMarkers("predicted L_opt at budget", kBudgetColor, std::move(predicted), Marker::kDiamond,
                  false, 5);
  plot.set_legend_corner(LegendCorner::kBottomLeft);
  return plot;
}

Plot IsoflopPlot(const ReportInput& input, const ReportFits& fits) {
  Plot plot("isoflop", "IsoFLOP profiles (approach 2)", kParamsAxis, kLossAxis);
  if (!fits.isoflop) return plot;
  const std::vector<fitting::IsoflopBudget>& budgets = fits.isoflop->budgets;
  const int n = static_cast<int>(budgets.size());
  std::vector<PlotPoint> minima;
  for (int i = 0; i < n; ++i) {
    const fitting::IsoflopBudget& b = budgets[i];
    const std::string color = SequentialColor(i, n);
    std::vector<PlotPoint> points;
    std::vector<std::pair<double, double>> xy;
    double n_lo = INFINITY, n_hi = 0;
    for (const fitting::Observation& r : input.runs) {
      const double group = r.budget > 0 ? r.budget : fitting::BucketCompute(fitting::ComputeOf(r));
      if (std::fabs(group - b.compute) > 1e-9 * b.compute) continue;
      points.push_back({r.params, r.loss, absl::StrCat(r.id, ": L = ", r.loss)});
      xy.emplace_back(std::log(r.params), r.loss);
      n_lo = std::min(n_lo, r.params);
      n_hi = std::max(n_hi, r.params);
    }
    double c[3];
    if (FitParabola(xy, c)) {
      std::vector<PlotPoint> curve;
      for (double p : LogSpace(n_lo / 1.3, n_hi * 1.3, 50)) {
        const double x = std::log(p);
        curve.push_back({p, c[0] + c[1] * x + c[2] * x * x, ""});
      }
      plot.AddLine("", color, std::move(curve), false, 1.5);
    }
    plot.AddMarkers(absl::StrCat("C = ", FormatScientific(b.compute), " FLOPs"), color,
                    std::move(points));
    minima.push_back({b.params_opt, b.loss_opt,
                      absl::StrCat("N_opt = ", FormatScientific(b.params_opt, 3),
                                   b.interior ? "" : " (outside the sampled sizes)")});
  }
  plot.AddMarkers("minimum of each profile", kFitColor, std::move(minima), Marker::kDiamond,
                  /*hollow=*/true, 5.5);
  plot.set_subtitle("parabola in log N fitted per budget; its vertex is N_opt(C)");
  return plot;
}

Plot OptimalPlot(const ReportInput& input, const ReportFits& fits, bool tokens) {
  const OptimalQuantity q = tokens ? OptimalQuantity::kTokens : OptimalQuantity::kParams;
  Plot plot(tokens ? "optimal-tokens" : "optimal-params",
            tokens ? "Compute-optimal tokens D_opt(C)" : "Compute-optimal size N_opt(C)",
            kComputeAxis, tokens ? kTokensAxis : kParamsAxis);
  const fitting::ChinchillaBootstrap* bootstrap =
      HasOptimum(fits.chinchilla.params) ? BootstrapOf(fits) : nullptr;
  if (!HasOptimum(fits.chinchilla.params)) plot.set_subtitle(kNoOptimum);
  std::vector<PlotPoint> line, lower, upper;
  for (double c : LogSpace(MinCompute(input) / 2, MaxCompute(input, true) * 2, 60)) {
    const double v = OptimalQuantityOf(fits.chinchilla.params, q, c);
    const fitting::Interval band = OptimalInterval(bootstrap, q, c, v);
    line.push_back({c, v, ""});
    lower.push_back({c, band.lo, ""});
    upper.push_back({c, band.hi, ""});
  }
  if (bootstrap != nullptr) {
    plot.AddBand(absl::StrCat(std::lround(bootstrap->level * 100), "% bootstrap interval"),
                 kBandColor, std::move(lower), std::move(upper));
  }
  plot.AddLine("approach 3 (parametric fit)", kFitColor, std::move(line));
  if (fits.isoflop) {
    const fitting::IsoflopFitResult& iso = *fits.isoflop;
    std::vector<PlotPoint> minima, law;
    for (const fitting::IsoflopBudget& b : iso.budgets) {
      minima.push_back({b.compute, tokens ? b.tokens_opt : b.params_opt,
                        absl::StrCat("C = ", FormatScientific(b.compute))});
    }
    for (double c : LogSpace(MinCompute(input) / 2, MaxCompute(input, true) * 2, 20)) {
      law.push_back({c,
                     tokens ? iso.tokens_coefficient * std::pow(c, iso.b)
                            : iso.params_coefficient * std::pow(c, iso.a),
                     ""});
    }
    plot.AddLine(absl::StrCat("approach 2: ∝ C^", FormatScientific(tokens ? iso.b : iso.a, 3)),
                 kIsoflopColor, std::move(law), /*dashed=*/true, 1.5);
    plot.AddMarkers("IsoFLOP minima", kIsoflopColor, std::move(minima), Marker::kSquare, false, 4);
  }
  std::vector<PlotPoint> predicted;
  for (const BudgetPrediction& p : fits.predictions) {
    const double v = tokens ? p.optimal.tokens : p.optimal.params;
    const fitting::Interval& in = tokens ? p.tokens : p.params;
    plot.AddVerticalLine(p.optimal.compute,
                         absl::StrCat("budget ", FormatScientific(p.optimal.compute)), kBudgetColor,
                         /*label_at_top=*/false);
    plot.AddLine("", kBudgetColor, {{p.optimal.compute, in.lo, ""}, {p.optimal.compute, in.hi, ""}},
                 false, 2.5);
    predicted.push_back({p.optimal.compute, v, FormatScientific(v, 3)});
  }
  plot.AddMarkers("prediction at budget", kBudgetColor, std::move(predicted), Marker::kDiamond,
                  false, 5);
  plot.set_legend_corner(LegendCorner::kTopLeft);
  return plot;
}

Plot ResidualsPlot(const ReportInput& input, const ReportFits& fits) {
  Plot plot("residuals", "Residuals of the approach-3 fit", kComputeAxis,
            {"log(L_fit / L), fitted over measured", AxisScale::kLinear});
  const std::vector<double> sizes = Sizes(input);
  const int n = static_cast<int>(sizes.size());
  std::map<std::string, const fitting::Observation*> by_id;
  for (const fitting::Observation& r : input.runs) by_id[r.id] = &r;
  plot.AddHorizontalLine(0, "#888");
  std::vector<std::vector<PlotPoint>> per_size(n);
  for (size_t i = 0; i < fits.chinchilla.residual_ids.size(); ++i) {
    auto it = by_id.find(fits.chinchilla.residual_ids[i]);
    if (it == by_id.end()) continue;
    const fitting::Observation& r = *it->second;
    const int k =
        static_cast<int>(std::lower_bound(sizes.begin(), sizes.end(), r.params) - sizes.begin());
    per_size[k].push_back({fitting::ComputeOf(r), fits.chinchilla.residuals[i],
                           absl::StrCat(r.id, ": ", fits.chinchilla.residuals[i])});
  }
  for (int k = 0; k < n; ++k) {
    plot.AddMarkers("", SequentialColor(k, n), std::move(per_size[k]));
  }
  if (fits.extrapolation) {
    std::vector<PlotPoint> held;
    for (const fitting::ExtrapolationPoint& p : fits.extrapolation->points) {
      held.push_back({p.compute, std::log(p.predicted / p.actual),
                      absl::StrCat(p.id, ": relative error ", p.relative_error)});
    }
    plot.AddMarkers("held out, predicted by the refit", kBudgetColor, std::move(held),
                    Marker::kCross, false, 5);
  }
  plot.set_legend_corner(LegendCorner::kBottomLeft);
  return plot;
}

Plot NoiseScalePlot(const ReportInput& input, const ReportFits& fits) {
  Plot plot("noise-scale", "Gradient noise scale vs loss", {"loss L (nats/token)", AxisScale::kLog},
            {absl::StrCat("noise scale B_simple (", input.noise_scale_unit, ")"), AxisScale::kLog});
  std::vector<PlotPoint> points;
  double l_lo = INFINITY, l_hi = 0;
  for (const fitting::NoiseScalePoint& p : input.noise_scales) {
    points.push_back({p.loss, p.noise_scale, p.id});
    l_lo = std::min(l_lo, p.loss);
    l_hi = std::max(l_hi, p.loss);
  }
  if (fits.critical_batch) {
    const fitting::CriticalBatchParams& b = fits.critical_batch->params;
    std::vector<PlotPoint> line;
    for (double l : LogSpace(l_lo / 1.05, l_hi * 1.05, 40))
      line.push_back({l, b.CriticalBatch(l), ""});
    plot.AddLine("B_crit(L) = B*/L^(1/α_B)", kFitColor, std::move(line));
    plot.set_subtitle(
        absl::StrCat("B* = ", FormatScientific(b.B_star, 3), " ", input.noise_scale_unit,
                     ", α_B = ", FormatScientific(b.alpha_B, 3), " (Kaplan et al. 2020, eq. 5.3)"));
  }
  plot.AddMarkers("measured B_simple", "#2a788e", std::move(points), Marker::kCircle, false, 3);
  return plot;
}

}  // namespace scalelaw::report
