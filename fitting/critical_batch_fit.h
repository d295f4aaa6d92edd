// The critical batch size as a function of loss, B_crit(L) = B*/L^(1/α_B)
// (Kaplan et al. 2020, eq. 5.3; B* ≈ 2·10⁸ tokens, α_B ≈ 0.21 for their
// models), fitted to measured gradient noise scales B_simple
// (McCandlish et al. 2018), which approximate B_crit.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace scalelaw::fitting {

// One measurement: the noise scale B_simple (tokens) seen at `loss` (nats
// per token).
struct NoiseScalePoint {
  double loss = 0;
  double noise_scale = 0;
  std::string id;
};

// B_crit(L) = B*/L^(1/α_B), tokens.
struct CriticalBatchParams {
  double B_star = 0;
  double alpha_B = 0;

  double CriticalBatch(double loss) const;
};

struct CriticalBatchFitOptions {
  // δ of the Huber penalty on log(noise scale) residuals.
  double huber_delta = 1e-3;
  std::vector<std::string> exclude_ids;
  int max_iterations = 500;
};

struct CriticalBatchFitResult {
  CriticalBatchParams params;
  double objective = 0;  // Σ_i Huber_δ(log B̂_i − log B_i)
  std::string termination;
  bool converged = false;
  int iterations = 0;
  int n_points = 0;
  std::vector<std::string> excluded_ids;
  double huber_delta = 0;
  int n_starts = 0;
  std::vector<std::string> residual_ids;  // per used point, input order
  std::vector<double> residuals;          // log B̂ − log B
};

// Minimises Σ_i Huber_δ(b − s·log L_i − log B_i) over (b, s), B* = exp(b),
// α_B = 1/s, with Ceres from the least-squares line and a few slopes around
// it. Errors: InvalidArgument for non-positive or non-finite values, an
// unknown excluded id, fewer than 2 points or all one loss; Internal when no
// start gives a positive slope.
absl::StatusOr<CriticalBatchFitResult> FitCriticalBatch(
    const std::vector<NoiseScalePoint>& points, const CriticalBatchFitOptions& options = {});

// Reads columns `loss` and `noise_scale` (or B_simple, b_noise), optional
// `id`, from a CSV file. Errors name the file, line and column.
absl::StatusOr<std::vector<NoiseScalePoint>> ReadNoiseScaleCsv(const std::string& path);

}  // namespace scalelaw::fitting
