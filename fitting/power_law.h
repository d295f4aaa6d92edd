// One-variable power law with an offset, L(x) = E + A·x^(−α), for x = N, D
// or C (Kaplan et al. 2020; Hoffmann et al. 2022).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fitting/observation.h"

namespace scalelaw::fitting {

// Which measured quantity plays x.
enum class PowerLawAxis { kParams, kTokens, kCompute };

// "params", "tokens", "compute".
const char* PowerLawAxisName(PowerLawAxis axis);
// Parses the names above; InvalidArgument names the accepted ones.
absl::StatusOr<PowerLawAxis> ParsePowerLawAxis(const std::string& name);

// x of each observation on `axis`; compute is ComputeOf(obs).
std::vector<double> AxisValues(const std::vector<Observation>& observations, PowerLawAxis axis);

// L(x) = E + A·x^(−α).
struct PowerLawParams {
  double E = 0;
  double A = 0;
  double alpha = 0;

  double Loss(double x) const;
};

struct PowerLawFitOptions {
  PowerLawAxis axis = PowerLawAxis::kParams;
  // δ of the Huber penalty on log-loss residuals.
  double huber_delta = 1e-3;
  // Runs (by Observation::id) left out of the fit.
  std::vector<std::string> exclude_ids;
  // Echoed into the result (see ChinchillaFitOptions::param_count).
  std::string param_count;
  int max_iterations = 500;
};

struct PowerLawFitResult {
  PowerLawParams params;
  PowerLawAxis axis = PowerLawAxis::kParams;
  // Σ_i Huber_δ(log L̂_i − log L_i) at the optimum.
  double objective = 0;
  // The winning start's solver summary.
  std::string termination;
  std::string termination_message;
  bool converged = false;
  int iterations = 0;
  int n_points = 0;
  std::vector<std::string> excluded_ids;
  std::string param_count;
  double huber_delta = 0;
  int n_starts = 0;
  int best_start_index = -1;
  // Per used point, in input order: id and log L̂ − log L.
  std::vector<std::string> residual_ids;
  std::vector<double> residuals;
};

// Minimises Σ_i Huber_δ(LSE(a − α·log x_i, e) − log L_i) over (a, e, α),
// A = exp(a), E = exp(e), from several starts: for trial offsets E₀ below
// the smallest loss, the closed-form least-squares line through
// (log x, log(L − E₀)) gives (a, α). Errors: InvalidArgument for bad
// observations, an unknown excluded id or fewer than 3 points; Internal when
// no start reaches a finite objective. Thread-compatible.
absl::StatusOr<PowerLawFitResult> FitPowerLaw(const std::vector<Observation>& observations,
                                              const PowerLawFitOptions& options = {});

}  // namespace scalelaw::fitting
