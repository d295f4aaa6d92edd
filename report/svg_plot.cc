#include "report/svg_plot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace scalelaw::report {
namespace {

constexpr char kFont[] = "Helvetica, Arial, 'DejaVu Sans', sans-serif";
constexpr char kAxisColor[] = "#222";
constexpr char kGridColor[] = "#e6e6e6";

// The round step (1, 2, 2.5 or 5 × 10^k) nearest span/target in log space.
double NiceStep(double span, int target) {
  const double raw = span / target;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double best = power;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (std::fabs(std::log(m * power / raw)) < std::fabs(std::log(best / raw))) best = m * power;
  }
  return best;
}

std::string Px(double v) { return absl::StrFormat("%.1f", v); }

std::string MarkerSvg(Marker marker, double x, double y, double r, const std::string& color,
                      bool hollow) {
  const std::string paint =
      hollow ? absl::StrCat("fill=\"white\" stroke=\"", color, "\" stroke-width=\"1.5\"")
             : absl::StrCat("fill=\"", color, "\" stroke=\"white\" stroke-width=\"0.6\"");
  switch (marker) {
    case Marker::kCircle:
      return absl::StrCat("<circle cx=\"", Px(x), "\" cy=\"", Px(y), "\" r=\"", Px(r), "\" ",
                          paint);
    case Marker::kSquare:
      return absl::StrCat("<rect x=\"", Px(x - r), "\" y=\"", Px(y - r), "\" width=\"", Px(2 * r),
                          "\" height=\"", Px(2 * r), "\" ", paint);
    case Marker::kTriangle:
      return absl::StrCat("<polygon points=\"", Px(x), ",", Px(y - 1.2 * r), " ", Px(x - 1.1 * r),
                          ",", Px(y + 0.8 * r), " ", Px(x + 1.1 * r), ",", Px(y + 0.8 * r), "\" ",
                          paint);
    case Marker::kDiamond:
      return absl::StrCat("<polygon points=\"", Px(x), ",", Px(y - 1.3 * r), " ", Px(x + 1.3 * r),
                          ",", Px(y), " ", Px(x), ",", Px(y + 1.3 * r), " ", Px(x - 1.3 * r), ",",
                          Px(y), "\" ", paint);
    case Marker::kCross:
      return absl::StrCat("<path d=\"M", Px(x - r), ",", Px(y - r), "L", Px(x + r), ",", Px(y + r),
                          "M", Px(x - r), ",", Px(y + r), "L", Px(x + r), ",", Px(y - r),
                          "\" fill=\"none\" stroke=\"", color, "\" stroke-width=\"2\"");
  }
  return "";
}

std::string Polyline(const std::vector<std::pair<double, double>>& pixels) {
  std::string d;
  for (size_t i = 0; i < pixels.size(); ++i) {
    absl::StrAppend(&d, i == 0 ? "M" : "L", Px(pixels[i].first), ",", Px(pixels[i].second));
  }
  return d;
}

}  // namespace

AxisMapping::AxisMapping(AxisScale scale, double lo, double hi, double pixel_lo, double pixel_hi)
    : scale_(scale), lo_(lo), hi_(hi), pixel_lo_(pixel_lo), pixel_hi_(pixel_hi) {
  if (scale_ == AxisScale::kLog) {
    lo_ = std::log10(lo);
    hi_ = std::log10(hi);
  }
}

double AxisMapping::ToPixel(double value) const {
  const double v = scale_ == AxisScale::kLog ? std::log10(value) : value;
  return pixel_lo_ + (v - lo_) / (hi_ - lo_) * (pixel_hi_ - pixel_lo_);
}

std::string FormatTickNumber(double value) {
  if (value == 0) return "0";
  const double magnitude = std::fabs(value);
  if (magnitude >= 1e5 || magnitude < 1e-3) {
    const int exponent = static_cast<int>(std::floor(std::log10(magnitude) + 1e-12));
    const std::string mantissa = absl::StrFormat("%.3g", value / std::pow(10.0, exponent));
    return absl::StrCat(mantissa == "1" ? "" : absl::StrCat(mantissa, "×"),
                        "10<tspan dy=\"-0.55em\" font-size=\"75%\">", exponent, "</tspan>");
  }
  // Enough decimals to tell round steps apart (2.25, 0.05), no trailing zeros.
  std::string text = absl::StrFormat("%.4f", value);
  text.erase(text.find_last_not_of('0') + 1);
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

std::vector<Tick> LinearTicks(double lo, double hi) {
  std::vector<Tick> ticks;
  if (!(hi > lo)) return ticks;
  const double step = NiceStep(hi - lo, 5);
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi * (1 + 1e-12) + 1e-12 * step;
       k += 1) {
    const double v = std::fabs(k) < 1e-9 ? 0.0 : k * step;
    ticks.push_back({v, FormatTickNumber(v)});
  }
  return ticks;
}

std::vector<Tick> LogTicks(double lo, double hi) {
  std::vector<Tick> ticks;
  if (!(lo > 0) || !(hi > lo)) return ticks;
  const int first = static_cast<int>(std::ceil(std::log10(lo) - 1e-9));
  const int last = static_cast<int>(std::floor(std::log10(hi) + 1e-9));
  if (last - first + 1 < 2) {
    // Less than two decades labelled: round linear steps read better.
    const double step = NiceStep(hi - lo, 5);
    for (double k = std::ceil(lo / step - 1e-9); k * step <= hi * (1 + 1e-12); k += 1) {
      if (k * step > 0) ticks.push_back({k * step, FormatTickNumber(k * step)});
    }
    return ticks;
  }
  const bool sparse_minor = last - first > 6;
  for (int e = first - 1; e <= last; ++e) {
    const double decade = std::pow(10.0, e);
    if (e >= first) {
      ticks.push_back(
          {decade, absl::StrCat("10<tspan dy=\"-0.55em\" font-size=\"75%\">", e, "</tspan>")});
    }
    for (int m = 2; m <= 9; ++m) {
      if (sparse_minor && m != 2 && m != 5) continue;
      const double v = m * decade;
      if (v >= lo && v <= hi) ticks.push_back({v, ""});
    }
  }
  return ticks;
}

std::string EscapeXml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string SequentialColor(int i, int n) {
  // Viridis at t = 0, 0.1, …, 0.9 (matplotlib's table).
  static constexpr std::array<std::array<int, 3>, 10> kViridis = {{{68, 1, 84},
                                                                   {72, 36, 117},
                                                                   {65, 68, 135},
                                                                   {53, 95, 141},
                                                                   {42, 120, 142},
                                                                   {33, 145, 140},
                                                                   {34, 168, 132},
                                                                   {68, 191, 112},
                                                                   {122, 209, 81},
                                                                   {189, 223, 38}}};
  const double t = n <= 1 ? 0.0 : static_cast<double>(i) / (n - 1) * (kViridis.size() - 1);
  const int k = std::min(static_cast<int>(t), static_cast<int>(kViridis.size()) - 2);
  const double f = t - k;
  std::array<int, 3> rgb{};
  for (int c = 0; c < 3; ++c) {
    rgb[c] = static_cast<int>(std::lround(kViridis[k][c] * (1 - f) + kViridis[k + 1][c] * f));
  }
  return absl::StrFormat("#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

Plot::Plot(std::string id, std::string title, Axis x, Axis y)
    : id_(std::move(id)), title_(std::move(title)), x_(std::move(x)), y_(std::move(y)) {}

bool Plot::Drawable(const PlotPoint& p) const {
  if (!std::isfinite(p.x) || !std::isfinite(p.y)) return false;
  if (x_.scale == AxisScale::kLog && p.x <= 0) return false;
  if (y_.scale == AxisScale::kLog && p.y <= 0) return false;
  return true;
}

std::vector<PlotPoint> Plot::Clean(std::vector<PlotPoint> points) const {
  std::erase_if(points, [this](const PlotPoint& p) { return !Drawable(p); });
  return points;
}

void Plot::AddMarkers(std::string label, std::string color, std::vector<PlotPoint> points,
                      Marker marker, bool hollow, double size) {
  Series s{Kind::kMarkers, std::move(label), std::move(color), Clean(std::move(points)), {}};
  s.marker = marker;
  s.hollow = hollow;
  s.size = size;
  series_.push_back(std::move(s));
}

void Plot::AddLine(std::string label, std::string color, std::vector<PlotPoint> points, bool dashed,
                   double width) {
  Series s{Kind::kLine, std::move(label), std::move(color), Clean(std::move(points)), {}};
  s.dashed = dashed;
  s.size = width;
  series_.push_back(std::move(s));
}

void Plot::AddBand(std::string label, std::string color, std::vector<PlotPoint> lower,
                   std::vector<PlotPoint> upper) {
  std::vector<PlotPoint> lo, hi;
  for (size_t i = 0; i < std::min(lower.size(), upper.size()); ++i) {
    if (Drawable(lower[i]) && Drawable(upper[i])) {
      lo.push_back(lower[i]);
      hi.push_back(upper[i]);
    }
  }
  series_.push_back(
      {Kind::kBand, std::move(label), std::move(color), std::move(lo), std::move(hi)});
}

void Plot::AddVerticalLine(double x, std::string label, std::string color, bool label_at_top) {
  if (Drawable({x, 1.0, ""})) {
    ref_lines_.push_back({true, label_at_top, x, std::move(label), std::move(color)});
  }
}

void Plot::AddHorizontalLine(double y, std::string color) {
  if (Drawable({1.0, y, ""})) ref_lines_.push_back({false, false, y, "", std::move(color)});
}

bool Plot::empty() const {
  return std::none_of(series_.begin(), series_.end(),
                      [](const Series& s) { return !s.points.empty(); });
}

std::string Plot::ToSvg(int width, int height) const {
  // Data ranges, padded so markers do not sit on the frame.
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo;
  auto extend = [&](const PlotPoint& p) {
    x_lo = std::min(x_lo, p.x);
    x_hi = std::max(x_hi, p.x);
    y_lo = std::min(y_lo, p.y);
    y_hi = std::max(y_hi, p.y);
  };
  for (const Series& s : series_) {
    for (const PlotPoint& p : s.points) extend(p);
    for (const PlotPoint& p : s.upper) extend(p);
  }
  for (const RefLine& r : ref_lines_) {
    if (r.vertical) {
      x_lo = std::min(x_lo, r.value);
      x_hi = std::max(x_hi, r.value);
    } else {
      y_lo = std::min(y_lo, r.value);
      y_hi = std::max(y_hi, r.value);
    }
  }
  if (!std::isfinite(x_lo)) x_lo = 1, x_hi = 10;
  if (!std::isfinite(y_lo)) y_lo = 1, y_hi = 10;
  auto pad = [](AxisScale scale, double* lo, double* hi) {
    if (scale == AxisScale::kLog) {
      if (*hi <= *lo) *lo /= 2, *hi *= 2;
      const double f = std::pow(*hi / *lo, 0.05);
      *lo /= f;
      *hi *= f;
    } else {
      if (*hi <= *lo) *lo -= 1, *hi += 1;
      const double d = (*hi - *lo) * 0.06;
      *lo -= d;
      *hi += d;
    }
  };
  pad(x_.scale, &x_lo, &x_hi);
  pad(y_.scale, &y_lo, &y_hi);

  const double left = 74, right = width - 18.0;
  const double top = subtitle_.empty() ? 34 : 50, bottom = height - 52.0;
  const AxisMapping xm(x_.scale, x_lo, x_hi, left, right);
  const AxisMapping ym(y_.scale, y_lo, y_hi, bottom, top);

  std::string svg =
      absl::StrCat("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", width, "\" height=\"",
                   height, "\" viewBox=\"0 0 ", width, " ", height, "\" font-family=\"", kFont,
                   "\" font-size=\"13\" role=\"img\" aria-label=\"", EscapeXml(title_), "\">\n");
  absl::StrAppend(&svg, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
                  "<defs><clipPath id=\"clip-", EscapeXml(id_), "\"><rect x=\"", Px(left),
                  "\" y=\"", Px(top), "\" width=\"", Px(right - left), "\" height=\"",
                  Px(bottom - top), "\"/></clipPath></defs>\n");
  absl::StrAppend(&svg, "<text x=\"", Px((left + right) / 2), "\" y=\"20\" text-anchor=\"middle\" ",
                  "font-size=\"15\" font-weight=\"bold\">", EscapeXml(title_), "</text>\n");
  if (!subtitle_.empty()) {
    absl::StrAppend(&svg, "<text x=\"", Px((left + right) / 2),
                    "\" y=\"38\" text-anchor=\"middle\" font-size=\"12\" fill=\"#555\">",
                    EscapeXml(subtitle_), "</text>\n");
  }

  // Grid and ticks.
  const std::vector<Tick> x_ticks =
      x_.scale == AxisScale::kLog ? LogTicks(x_lo, x_hi) : LinearTicks(x_lo, x_hi);
  const std::vector<Tick> y_ticks =
      y_.scale == AxisScale::kLog ? LogTicks(y_lo, y_hi) : LinearTicks(y_lo, y_hi);
  std::string grid, ticks;
  // Linear steps on a log axis crowd together at its high end: a label
  // closer than this to the previous one becomes an unlabelled tick.
  constexpr double kMinLabelGap = 58;
  double last_label_px = -1e9;
  for (const Tick& t : x_ticks) {
    const double px = xm.ToPixel(t.value);
    if (px < left - 0.5 || px > right + 0.5) continue;
    const bool major = !t.label.empty() && px - last_label_px >= kMinLabelGap;
    if (major) last_label_px = px;
    if (major) {
      absl::StrAppend(&grid, "<line x1=\"", Px(px), "\" y1=\"", Px(top), "\" x2=\"", Px(px),
                      "\" y2=\"", Px(bottom), "\"/>");
    }
    absl::StrAppend(&ticks, "<line x1=\"", Px(px), "\" y1=\"", Px(bottom), "\" x2=\"", Px(px),
                    "\" y2=\"", Px(bottom + (major ? 6 : 3.5)), "\"/>");
    if (major) {
      absl::StrAppend(&svg, "<text class=\"tick\" x=\"", Px(px), "\" y=\"", Px(bottom + 21),
                      "\" text-anchor=\"middle\">", t.label, "</text>\n");
    }
  }
  last_label_px = 1e9;
  for (const Tick& t : y_ticks) {
    const double py = ym.ToPixel(t.value);
    if (py > bottom + 0.5 || py < top - 0.5) continue;
    const bool major = !t.label.empty() && last_label_px - py >= 16;
    if (major) last_label_px = py;
    if (major) {
      absl::StrAppend(&grid, "<line x1=\"", Px(left), "\" y1=\"", Px(py), "\" x2=\"", Px(right),
                      "\" y2=\"", Px(py), "\"/>");
    }
    absl::StrAppend(&ticks, "<line x1=\"", Px(left - (major ? 6 : 3.5)), "\" y1=\"", Px(py),
                    "\" x2=\"", Px(left), "\" y2=\"", Px(py), "\"/>");
    if (major) {
      absl::StrAppend(&svg, "<text class=\"tick\" x=\"", Px(left - 9), "\" y=\"", Px(py + 4.5),
                      "\" text-anchor=\"end\">", t.label, "</text>\n");
    }
  }
  absl::StrAppend(&svg, "<g stroke=\"", kGridColor, "\" stroke-width=\"1\">", grid, "</g>\n");
  absl::StrAppend(&svg, "<g stroke=\"", kAxisColor, "\" stroke-width=\"1\">", ticks, "</g>\n");

  // Data, clipped to the frame.
  absl::StrAppend(&svg, "<g clip-path=\"url(#clip-", EscapeXml(id_), ")\">\n");
  for (const RefLine& r : ref_lines_) {
    if (r.vertical) {
      const double px = xm.ToPixel(r.value);
      absl::StrAppend(&svg, "<line x1=\"", Px(px), "\" y1=\"", Px(top), "\" x2=\"", Px(px),
                      "\" y2=\"", Px(bottom), "\" stroke=\"", r.color,
                      "\" stroke-width=\"1\" stroke-dasharray=\"2 3\"/>\n");
      if (!r.label.empty()) {
        const double ty = r.label_at_top ? top + 4 : bottom - 4;
        absl::StrAppend(&svg, "<text x=\"", Px(px - 4), "\" y=\"", Px(ty),
                        "\" font-size=\"11\" fill=\"", r.color, "\" text-anchor=\"",
                        r.label_at_top ? "end" : "start", "\" transform=\"rotate(-90 ", Px(px - 4),
                        " ", Px(ty), ")\">", EscapeXml(r.label), "</text>\n");
      }
    } else {
      const double py = ym.ToPixel(r.value);
      absl::StrAppend(&svg, "<line x1=\"", Px(left), "\" y1=\"", Px(py), "\" x2=\"", Px(right),
                      "\" y2=\"", Px(py), "\" stroke=\"", r.color, "\" stroke-width=\"1\"/>\n");
    }
  }
  // Bands first, then lines, then markers, so points stay on top.
  for (Kind kind : {Kind::kBand, Kind::kLine, Kind::kMarkers}) {
    for (const Series& s : series_) {
      if (s.kind != kind || s.points.empty()) continue;
      if (kind == Kind::kBand) {
        std::vector<std::pair<double, double>> outline;
        for (const PlotPoint& p : s.points) outline.emplace_back(xm.ToPixel(p.x), ym.ToPixel(p.y));
        for (auto it = s.upper.rbegin(); it != s.upper.rend(); ++it) {
          outline.emplace_back(xm.ToPixel(it->x), ym.ToPixel(it->y));
        }
        absl::StrAppend(&svg, "<path d=\"", Polyline(outline), "Z\" fill=\"", s.color,
                        "\" fill-opacity=\"0.18\" stroke=\"none\"/>\n");
      } else if (kind == Kind::kLine) {
        std::vector<std::pair<double, double>> pixels;
        for (const PlotPoint& p : s.points) pixels.emplace_back(xm.ToPixel(p.x), ym.ToPixel(p.y));
        absl::StrAppend(&svg, "<path d=\"", Polyline(pixels), "\" fill=\"none\" stroke=\"", s.color,
                        "\" stroke-width=\"", Px(s.size), "\"",
                        s.dashed ? " stroke-dasharray=\"6 4\"" : "",
                        " stroke-linejoin=\"round\" stroke-linecap=\"round\"/>\n");
      } else {
        for (const PlotPoint& p : s.points) {
          absl::StrAppend(&svg, MarkerSvg(s.marker, xm.ToPixel(p.x), ym.ToPixel(p.y), s.size,
                                          s.color, s.hollow));
          if (p.tip.empty()) {
            absl::StrAppend(&svg, "/>\n");
          } else {
            absl::StrAppend(&svg, "><title>", EscapeXml(p.tip), "</title></",
                            s.marker == Marker::kCircle   ? "circle"
                            : s.marker == Marker::kSquare ? "rect"
                            : s.marker == Marker::kCross  ? "path"
                                                          : "polygon",
                            ">\n");
          }
        }
      }
    }
  }
  absl::StrAppend(&svg, "</g>\n");

  // Frame and axis labels.
  absl::StrAppend(&svg, "<rect x=\"", Px(left), "\" y=\"", Px(top), "\" width=\"", Px(right - left),
                  "\" height=\"", Px(bottom - top), "\" fill=\"none\" stroke=\"", kAxisColor,
                  "\" stroke-width=\"1.2\"/>\n");
  absl::StrAppend(&svg, "<text x=\"", Px((left + right) / 2), "\" y=\"", Px(height - 10.0),
                  "\" text-anchor=\"middle\" font-size=\"14\">", EscapeXml(x_.label), "</text>\n");
  const double y_mid = (top + bottom) / 2;
  absl::StrAppend(&svg, "<text x=\"18\" y=\"", Px(y_mid),
                  "\" text-anchor=\"middle\" font-size=\"14\" transform=\"rotate(-90 18 ",
                  Px(y_mid), ")\">", EscapeXml(y_.label), "</text>\n");

  // Legend.
  std::vector<const Series*> entries;
  for (const Series& s : series_) {
    if (!s.label.empty() && !s.points.empty()) entries.push_back(&s);
  }
  if (!entries.empty()) {
    size_t longest = 0;
    for (const Series* s : entries) longest = std::max(longest, s->label.size());
    const double box_w = 40 + 6.6 * static_cast<double>(longest);
    const double row_h = 17;
    const double box_h = 8 + row_h * static_cast<double>(entries.size());
    const bool at_right =
        legend_corner_ == LegendCorner::kTopRight || legend_corner_ == LegendCorner::kBottomRight;
    const bool at_top =
        legend_corner_ == LegendCorner::kTopRight || legend_corner_ == LegendCorner::kTopLeft;
    const double bx = at_right ? right - box_w - 8 : left + 8;
    const double by = at_top ? top + 8 : bottom - box_h - 8;
    absl::StrAppend(&svg, "<g class=\"legend\"><rect x=\"", Px(bx), "\" y=\"", Px(by),
                    "\" width=\"", Px(box_w), "\" height=\"", Px(box_h),
                    "\" fill=\"white\" fill-opacity=\"0.9\" stroke=\"#bbb\" rx=\"3\"/>\n");
    for (size_t i = 0; i < entries.size(); ++i) {
      const Series& s = *entries[i];
      const double cy = by + 4 + row_h * (static_cast<double>(i) + 0.5);
      const double sx = bx + 8;
      if (s.kind == Kind::kBand) {
        absl::StrAppend(&svg, "<rect x=\"", Px(sx), "\" y=\"", Px(cy - 5), "\" width=\"22\" ",
                        "height=\"10\" fill=\"", s.color, "\" fill-opacity=\"0.25\"/>");
      } else if (s.kind == Kind::kLine) {
        absl::StrAppend(&svg, "<line x1=\"", Px(sx), "\" y1=\"", Px(cy), "\" x2=\"", Px(sx + 22),
                        "\" y2=\"", Px(cy), "\" stroke=\"", s.color, "\" stroke-width=\"",
                        Px(s.size), "\"", s.dashed ? " stroke-dasharray=\"6 4\"" : "", "/>");
      } else {
        absl::StrAppend(&svg, MarkerSvg(s.marker, sx + 11, cy, s.size, s.color, s.hollow), "/>");
      }
      absl::StrAppend(&svg, "<text x=\"", Px(sx + 30), "\" y=\"", Px(cy + 4.5),
                      "\" font-size=\"12\">", EscapeXml(s.label), "</text>\n");
    }
    absl::StrAppend(&svg, "</g>\n");
  }
  absl::StrAppend(&svg, "</svg>\n");
  return svg;
}

}  // namespace scalelaw::report
