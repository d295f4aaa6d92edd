// A small SVG plot builder for the fit report: log (or linear) axes with
// ticks at decades, series of markers, lines and shaded bands, a legend. The
// output is one self-contained <svg> element (no scripts, no fonts or images
// fetched), styled like a figure in a scaling-law paper.
//
// Thread-compatible: a Plot is built and rendered by one thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace scalelaw::report {

enum class AxisScale { kLog, kLinear };

// An axis: its label names the quantity and its unit, e.g.
// "training compute C (FLOPs)".
struct Axis {
  std::string label;
  AxisScale scale = AxisScale::kLog;
};

// Maps data values on one axis to pixels: linearly in log10(v) on a log
// axis, linearly in v on a linear one. pixel_lo may exceed pixel_hi (the y
// axis grows upwards on screen).
class AxisMapping {
 public:
  AxisMapping(AxisScale scale, double lo, double hi, double pixel_lo, double pixel_hi);
  double ToPixel(double value) const;

 private:
  AxisScale scale_;
  double lo_, hi_, pixel_lo_, pixel_hi_;
};

// A tick mark: `label` is empty for a minor (unlabelled) tick. Labels are
// SVG text content, already escaped (decades use a superscript <tspan>).
struct Tick {
  double value = 0;
  std::string label;
};

// Ticks for a log axis over [lo, hi] (0 < lo < hi). When the range holds at
// least two powers of ten, every power of ten is a labelled major tick
// ("10" with the exponent as a superscript) and 2·10^k … 9·10^k are minor
// ticks (only 2 and 5 when it spans more than 6 decades). A narrower range
// gets labelled ticks at round linear steps (1, 2, 2.5 or 5 × 10^k), as
// matplotlib does for a loss axis spanning 2.1 to 3.4.
std::vector<Tick> LogTicks(double lo, double hi);

// Labelled ticks at round steps (1, 2, 2.5 or 5 × 10^k) over [lo, hi],
// about five of them.
std::vector<Tick> LinearTicks(double lo, double hi);

// `text` with &, <, >, " and ' replaced by entities: safe inside SVG/HTML
// text and attribute values.
std::string EscapeXml(std::string_view text);

// A short number for a tick label: "0.5", "3", "2.25", "1.5e+12".
std::string FormatTickNumber(double value);

struct PlotPoint {
  double x = 0;
  double y = 0;
  std::string tip;  // hover text (an SVG <title>); empty = none
};

enum class Marker { kCircle, kSquare, kTriangle, kDiamond, kCross };
enum class LegendCorner { kTopRight, kTopLeft, kBottomLeft, kBottomRight };

class Plot {
 public:
  // `id` must be unique within the page: it names the plot's clip path.
  Plot(std::string id, std::string title, Axis x, Axis y);

  // Series. An empty label keeps the series out of the legend. Points that
  // a log axis cannot show (≤ 0) and non-finite ones are dropped.
  void AddMarkers(std::string label, std::string color, std::vector<PlotPoint> points,
                  Marker marker = Marker::kCircle, bool hollow = false, double size = 4);
  void AddLine(std::string label, std::string color, std::vector<PlotPoint> points,
               bool dashed = false, double width = 1.8);
  // A shaded region between lower[i] and upper[i] (same x for each i).
  void AddBand(std::string label, std::string color, std::vector<PlotPoint> lower,
               std::vector<PlotPoint> upper);
  // A thin full-height line at x (e.g. a user budget), its label written
  // upwards along it from the top or the bottom of the frame.
  void AddVerticalLine(double x, std::string label, std::string color, bool label_at_top = true);
  // A thin full-width line at y (e.g. zero residual).
  void AddHorizontalLine(double y, std::string color);

  void set_legend_corner(LegendCorner corner) { legend_corner_ = corner; }
  // A note in small type under the title, e.g. the fitted law.
  void set_subtitle(std::string subtitle) { subtitle_ = std::move(subtitle); }

  // True when no series holds a drawable point.
  bool empty() const;

  // The plot as one <svg> element of the given size in pixels.
  std::string ToSvg(int width = 600, int height = 420) const;

 private:
  enum class Kind { kMarkers, kLine, kBand };
  struct Series {
    Kind kind;
    std::string label;
    std::string color;
    std::vector<PlotPoint> points;  // the band's lower edge
    std::vector<PlotPoint> upper;   // bands only
    Marker marker = Marker::kCircle;
    bool hollow = false;
    bool dashed = false;
    double size = 4;  // marker radius or line width, pixels
  };
  struct RefLine {
    bool vertical;
    bool label_at_top;
    double value;
    std::string label;
    std::string color;
  };

  bool Drawable(const PlotPoint& p) const;
  std::vector<PlotPoint> Clean(std::vector<PlotPoint> points) const;

  std::string id_, title_, subtitle_;
  Axis x_, y_;
  std::vector<Series> series_;
  std::vector<RefLine> ref_lines_;
  LegendCorner legend_corner_ = LegendCorner::kTopRight;
};

// The i-th of n colours along a perceptually ordered map (viridis, trimmed of
// its palest yellow so it stays visible on white): model sizes from small
// (purple) to large (yellow-green).
std::string SequentialColor(int i, int n);

}  // namespace scalelaw::report
