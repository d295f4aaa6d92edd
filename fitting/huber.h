// The Huber penalty shared by the log-space fits.
#pragma once

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace scalelaw::fitting {

// Huber_δ(r) = r²/2 for |r| ≤ δ, δ·(|r| − δ/2) otherwise (Huber 1964; the
// penalty of Hoffmann et al. 2022, App. D.2, with δ = 10⁻³). It equals
// ½·ceres::HuberLoss(δ)(r²), so a Ceres problem with HuberLoss(δ) on
// one-residual blocks minimises Σ Huber_δ(r_i), the same objective.
inline double Huber(double r, double delta) {
  const double abs_r = std::abs(r);
  return abs_r <= delta ? 0.5 * r * r : delta * (abs_r - 0.5 * delta);
}

// dHuber_δ/dr: r clipped to [−δ, δ].
inline double HuberDerivative(double r, double delta) {
  return r > delta ? delta : (r < -delta ? -delta : r);
}

// OK when δ is positive and finite; otherwise InvalidArgument
// "<fit>: huber_delta must be positive and finite, got <δ>", `fit` naming
// the fit whose options carried it (e.g. "kaplan fit").
absl::Status ValidateHuberDelta(absl::string_view fit, double delta);

}  // namespace scalelaw::fitting
