// Maximum-likelihood variant of Chinchilla approach 3: the log-loss
// residuals are modelled as draws from a Huber density with a fitted scale σ,
// which turns the fit's robust objective into a likelihood and gives a
// residual scale for prediction intervals.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fitting/bootstrap.h"
#include "fitting/chinchilla_fit.h"
#include "fitting/observation.h"

namespace scalelaw::fitting {

// The Huber density with threshold c (in units of σ) and scale σ:
//
//   p(r) = exp(−ρ_c(r/σ)) / (σ·Z(c)),   ρ_c(u) = u²/2 for |u| ≤ c,
//                                               c·|u| − c²/2 otherwise,
//   Z(c) = √(2π)·(2Φ(c) − 1) + 2·exp(−c²/2)/c
//
// (Huber 1964; the least-favourable density of the ε-contaminated normal).
double HuberDensityNormaliser(double c);
// The q with P(|r| ≤ q·σ) = level under p: the half-width, in units of σ, of
// the central `level` interval. 0 < level < 1.
double HuberDensityHalfWidth(double c, double level);

struct ChinchillaMleOptions {
  // c: where the density turns from Gaussian to Laplace, in units of σ.
  // 1.345 gives 95% efficiency at the normal (Huber 1981).
  double huber_c = 1.345;
  int max_iterations = 2000;
};

struct ChinchillaMleResult {
  ChinchillaParams params;
  ChinchillaTheta theta{};
  double sigma = 0;  // residual scale of log L, nats (dimensionless)
  double huber_c = 0;
  // −log likelihood: Σ_i ρ_c(r_i/σ) + n·log σ + n·log Z(c).
  double negative_log_likelihood = 0;
  std::string termination;
  bool converged = false;
  int iterations = 0;
  int n_points = 0;
  std::vector<std::string> excluded_ids;
  std::vector<std::string> residual_ids;
  std::vector<double> residuals;  // log L̂ − log L

  // The central `level` prediction interval for a new run's loss at (N, D):
  // L̂·exp(±q·σ), q = HuberDensityHalfWidth(c, level). Parameter uncertainty
  // is not included (use the bootstrap for that).
  Interval PredictionInterval(double params, double tokens, double level) const;
};

// Maximises the likelihood over (θ, log σ), starting from `point_fit` (the
// approach-3 fit of the same observations and fit_options.exclude_ids) with
// σ = 1.4826·MAD of its residuals. Errors: those of FilterExcluded,
// InvalidArgument for bad options or when the residuals are all zero (σ → 0
// has no maximum), Internal when the solver ends at a non-finite value.
absl::StatusOr<ChinchillaMleResult> FitChinchillaMle(const std::vector<Observation>& observations,
                                                     const ChinchillaFitResult& point_fit,
                                                     const ChinchillaFitOptions& fit_options,
                                                     const ChinchillaMleOptions& options = {});

}  // namespace scalelaw::fitting
