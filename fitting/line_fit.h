// Ordinary least-squares straight line, the closed-form fit several laws
// reduce to in log space (power-law starts, N_opt ∝ C^a, doubling times).
#pragma once

#include <vector>

namespace scalelaw::fitting {

// y = intercept + slope·x.
struct LineFit {
  double intercept = 0;
  double slope = 0;
  // Squared correlation of x and y; 1 when y is constant.
  double r_squared = 0;
  // The means the line passes through, for callers that try other slopes
  // through the same centre.
  double mean_x = 0;
  double mean_y = 0;
  // False when every x is the same: the slope is then undetermined, and
  // reported as 0 (the flat line through the means), r_squared as 0.
  bool ok = false;
};

// Least squares of y on x; x and y have one entry per point, at least one.
// The sums are centred on the means: the raw-moment form loses the slope to
// cancellation when x sits far from 0, as decimal years do.
LineFit FitLine(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace scalelaw::fitting
