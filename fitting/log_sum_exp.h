// The shifted log-sum-exp the log-space law residuals are built on.
#pragma once

#include <algorithm>
#include <cmath>

namespace scalelaw::fitting {

// LSE(z) = log Σ_k exp(z_k), computed as m + log Σ_k exp(z_k − m) with
// m = max_k z_k, so that no exp() overflows however far the fit wanders.
// T is double or a ceres::Jet (autodiff).
template <typename T>
T LogSumExp(const T& z0, const T& z1) {
  using std::exp;
  using std::log;
  using std::max;
  const T m = max(z0, z1);
  return m + log(exp(z0 - m) + exp(z1 - m));
}

template <typename T>
T LogSumExp(const T& z0, const T& z1, const T& z2) {
  using std::exp;
  using std::log;
  using std::max;
  const T m = max(max(z0, z1), z2);
  return m + log(exp(z0 - m) + exp(z1 - m) + exp(z2 - m));
}

}  // namespace scalelaw::fitting
