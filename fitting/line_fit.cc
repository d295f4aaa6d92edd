#include "fitting/line_fit.h"

#include <cstddef>

namespace scalelaw::fitting {

LineFit FitLine(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  LineFit line;
  for (size_t i = 0; i < x.size(); ++i) line.mean_x += x[i] / n, line.mean_y += y[i] / n;
  double sxx = 0, sxy = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - line.mean_x) * (x[i] - line.mean_x);
    sxy += (x[i] - line.mean_x) * (y[i] - line.mean_y);
    syy += (y[i] - line.mean_y) * (y[i] - line.mean_y);
  }
  line.ok = sxx > 0;
  if (line.ok) {
    line.slope = sxy / sxx;
    line.r_squared = syy > 0 ? sxy * sxy / (sxx * syy) : 1.0;
  }
  line.intercept = line.mean_y - line.slope * line.mean_x;
  return line;
}

}  // namespace scalelaw::fitting
