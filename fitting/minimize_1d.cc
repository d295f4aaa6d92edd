#include "fitting/minimize_1d.h"

#include <cmath>
#include <utility>

namespace scalelaw::fitting {

Minimum1D BrentMinimize(const std::function<double(double)>& f, double lo, double hi,
                        double x_tolerance, int max_evaluations) {
  // (3 − √5)/2: the golden-section step as a fraction of the bracket.
  constexpr double kGolden = 0.3819660112501051;
  if (lo > hi) std::swap(lo, hi);
  double a = lo, b = hi;
  double x = a + kGolden * (b - a);
  double w = x, v = x;
  double fx = f(x);
  double fw = fx, fv = fx;
  double d = 0, e = 0;
  int evaluations = 1;
  while (evaluations < max_evaluations) {
    const double mid = 0.5 * (a + b);
    const double tol1 = x_tolerance * (1.0 + std::abs(x));
    const double tol2 = 2.0 * tol1;
    if (std::abs(x - mid) <= tol2 - 0.5 * (b - a)) break;
    bool golden = true;
    if (std::abs(e) > tol1) {
      // Fit a parabola through (x, fx), (w, fw), (v, fv); take its vertex
      // when it falls inside the bracket and the step is shrinking.
      double r = (x - w) * (fx - fv);
      double q = (x - v) * (fx - fw);
      double p = (x - v) * q - (x - w) * r;
      q = 2.0 * (q - r);
      if (q > 0) p = -p;
      q = std::abs(q);
      const double e_prev = e;
      e = d;
      if (std::abs(p) < std::abs(0.5 * q * e_prev) && p > q * (a - x) && p < q * (b - x)) {
        d = p / q;
        const double u = x + d;
        if (u - a < tol2 || b - u < tol2) d = x < mid ? tol1 : -tol1;
        golden = false;
      }
    }
    if (golden) {
      e = (x < mid ? b : a) - x;
      d = kGolden * e;
    }
    const double u = std::abs(d) >= tol1 ? x + d : x + (d > 0 ? tol1 : -tol1);
    const double fu = f(u);
    ++evaluations;
    if (fu <= fx) {
      (u < x ? b : a) = x;
      v = w, fv = fw;
      w = x, fw = fx;
      x = u, fx = fu;
    } else {
      (u < x ? a : b) = u;
      if (fu <= fw || w == x) {
        v = w, fv = fw;
        w = u, fw = fu;
      } else if (fu <= fv || v == x || v == w) {
        v = u, fv = fu;
      }
    }
  }
  return {x, fx, evaluations};
}

}  // namespace scalelaw::fitting
