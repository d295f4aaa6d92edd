// Derivative-free minimisation of a function of one variable.
#pragma once

#include <functional>

namespace scalelaw::fitting {

struct Minimum1D {
  double x = 0;
  double value = 0;
  int evaluations = 0;
};

// Brent's method (parabolic interpolation safeguarded by golden-section
// steps; Brent 1973, "Algorithms for Minimization without Derivatives",
// ch. 5) on [lo, hi]. Finds a local minimum; the caller brackets the one it
// wants (e.g. by a coarse scan). Stops when the bracket is narrower than
// about `x_tolerance`·(1 + |x|). `f` is called from this thread only.
Minimum1D BrentMinimize(const std::function<double(double)>& f, double lo, double hi,
                        double x_tolerance = 1e-10, int max_evaluations = 500);

}  // namespace scalelaw::fitting
