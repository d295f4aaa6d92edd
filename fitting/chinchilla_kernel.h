// The inner loop of the Chinchilla objective, kept in its own translation
// unit so that it alone is built for SIMD (see chinchilla_kernel.cc).
#pragma once

#include <cstddef>

namespace scalelaw::fitting {

// Returns Σ_i w_i·Huber_δ(r_i) and writes ∂/∂θ of it to gradient[0..4], for
// r_i = LSE(a − α·x_i, b − β·y_i, e) − t_i, θ = (a, b, e, α, β), x = log N,
// y = log D, t = log L, w = `weights` (a bootstrap resample's multiplicity
// of each point; all ones for a plain fit). See ChinchillaObjectiveFunction
// for the formulas.
// No checks: a non-finite θ gives a non-finite result, which the caller
// tests. Pure function; safe to call from any thread.
double ChinchillaHuberKernel(const double* log_params, const double* log_tokens,
                             const double* log_loss, const double* weights, size_t n,
                             const double* theta, double delta, double* gradient);

// The same sum and gradient computed without the max shift, from
// A·N_j^(−α) evaluated once per distinct model size j (a sweep has few) and
// exp(e) once: one exp() and one log() per point instead of three and one.
// Unshifted terms can overflow or underflow far from any sensible θ; the
// return value is then non-finite, or `min_sum` (the smallest
// A/N^α + B/D^β + E over the points) is tiny, and the caller falls back to
// ChinchillaHuberKernel. `size_of_point[i]` indexes `log_sizes`;
// `size_terms` is scratch for n_sizes values.
double ChinchillaHuberKernelBySize(const double* log_sizes, size_t n_sizes,
                                   const int* size_of_point, const double* log_tokens,
                                   const double* log_loss, const double* weights, size_t n,
                                   const double* theta, double delta, double* size_terms,
                                   double* gradient, double* min_sum);

}  // namespace scalelaw::fitting
