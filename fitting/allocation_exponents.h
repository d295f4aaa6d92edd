// The last step of Chinchilla approaches 1 and 2 (Hoffmann et al. 2022,
// §3.1–3.2): power laws N_opt = G·C^a and D_opt = H·C^b through the
// compute-optimal points each approach finds its own way.
#pragma once

#include <cmath>
#include <vector>

#include "fitting/line_fit.h"

namespace scalelaw::fitting {

// Least-squares lines log N_opt = log G + a·log C and log D_opt = log H +
// b·log C through the points (one entry per point in each vector); writes
// a, b, params_coefficient = G and tokens_coefficient = H into `result`, an
// EnvelopeFitResult or IsoflopFitResult.
template <typename Result>
void FitAllocationExponents(const std::vector<double>& log_compute,
                            const std::vector<double>& log_params_opt,
                            const std::vector<double>& log_tokens_opt, Result* result) {
  const LineFit params_line = FitLine(log_compute, log_params_opt);
  const LineFit tokens_line = FitLine(log_compute, log_tokens_opt);
  result->a = params_line.slope;
  result->b = tokens_line.slope;
  result->params_coefficient = std::exp(params_line.intercept);
  result->tokens_coefficient = std::exp(tokens_line.intercept);
}

}  // namespace scalelaw::fitting
