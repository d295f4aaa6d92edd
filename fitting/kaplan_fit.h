// The Kaplan et al. 2020 joint law of model size and data,
// L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^(α_D) (their eq. 1.5).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fitting/observation.h"

namespace scalelaw::fitting {

// L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^(α_D), loss in nats per token; N_c in
// parameters, D_c in tokens. Kaplan et al. report α_N ≈ 0.076, α_D ≈ 0.095,
// N_c ≈ 8.8e13, D_c ≈ 5.4e13 for their (non-embedding) counts and tokeniser.
struct KaplanParams {
  double N_c = 0;
  double D_c = 0;
  double alpha_N = 0;
  double alpha_D = 0;

  double Loss(double params, double tokens) const;
};

// The fit's coordinates θ = (log N_c, log D_c, ρ = α_N/α_D, α_D), in which
// log L = α_D · LSE(ρ·(log N_c − log N), log D_c − log D) is smooth even as
// α_D → 0 (α_N = ρ·α_D).
using KaplanTheta = std::array<double, 4>;

KaplanParams KaplanParamsFromTheta(const KaplanTheta& theta);
KaplanTheta KaplanThetaFromParams(const KaplanParams& params);

// The default starts: log N_c, log D_c ∈ {15, 25, 35}, ρ ∈ {0.5, 1, 2},
// α_D ∈ {0.05, 0.1, 0.2, 0.4}: 108 starts.
std::vector<KaplanTheta> KaplanGrid();

struct KaplanFitOptions {
  double huber_delta = 1e-3;  // δ of the Huber penalty on log-loss residuals
  std::vector<std::string> exclude_ids;
  std::string param_count;          // echoed, see ChinchillaFitOptions::param_count
  std::vector<KaplanTheta> starts;  // empty = KaplanGrid()
  int max_iterations = 500;
};

struct KaplanFitResult {
  KaplanParams params;
  KaplanTheta theta{};
  double objective = 0;     // Σ_i Huber_δ(log L̂_i − log L_i): a sum, not a mean
  std::string termination;  // the winning start's Ceres termination type
  std::string termination_message;
  bool converged = false;
  int iterations = 0;
  int n_points = 0;
  std::vector<std::string> excluded_ids;
  std::string param_count;
  double huber_delta = 0;
  int n_starts = 0;
  int n_starts_converged = 0;
  int best_start_index = -1;
  std::vector<std::string> residual_ids;  // per used point, input order
  std::vector<double> residuals;          // log L̂ − log L
};

// Minimises Σ_i Huber_δ(α_D·LSE(ρ·(log N_c − log N_i), log D_c − log D_i) −
// log L_i) from every start with Ceres (Levenberg–Marquardt, Huber loss) and
// keeps the lowest objective, ties to the earlier start. Errors:
// InvalidArgument for bad observations, an unknown excluded id, fewer than 4
// points or bad options; Internal when no start reaches a finite objective.
// Thread-compatible.
absl::StatusOr<KaplanFitResult> FitKaplan(const std::vector<Observation>& observations,
                                          const KaplanFitOptions& options = {});

}  // namespace scalelaw::fitting
