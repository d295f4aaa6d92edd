// The cost of Chinchilla approach 3, in two forms: a per-point residual
// functor (Ceres examples style, autodiff-able, the reference) and the
// whole-data objective with its analytic gradient that the fit runs on.
#pragma once

#include <vector>

#include "ceres/first_order_function.h"
#include "ceres/jet.h"
#include "fitting/log_sum_exp.h"

namespace scalelaw::fitting {

// Residual of one run in log space (Hoffmann et al. 2022, App. D.2, Eq. 11):
//
//   r(θ) = LSE(a − α·log N, b − β·log D, e) − log L,    θ = (a, b, e, α, β)
//
// where LSE(z) = log Σ_k exp(z_k), so exp(LSE) = A/N^α + B/D^β + E with
// A = exp(a), B = exp(b), E = exp(e). The fit penalises r with Huber_δ.
struct ChinchillaLogResidual {
  ChinchillaLogResidual(double log_params, double log_tokens, double log_loss)
      : log_params(log_params), log_tokens(log_tokens), log_loss(log_loss) {}

  template <typename T>
  bool operator()(const T* const theta, T* residual) const {
    residual[0] =
        LogSumExp<T>(theta[0] - theta[3] * log_params, theta[1] - theta[4] * log_tokens, theta[2]) -
        log_loss;
    return true;
  }

  double log_params;
  double log_tokens;
  double log_loss;
};

// f(θ) = Σ_i c_i·Huber_δ(r_i(θ)), r_i as in ChinchillaLogResidual, with
//
//   ∂f/∂θ = Σ_i c_i·ψ_δ(r_i)·(w0, w1, w2, −w0·log N_i, −w1·log D_i)
//
// where w = softmax(z_i) (the derivative of LSE), ψ_δ(r) = clip(r, ±δ) and
// c_i is point i's weight: 1 for a fit, the number of times a bootstrap
// resample drew the point otherwise (so a resample is fitted over its
// distinct points only, the same sum as over its duplicates).
// One pass over the data gives both (chinchilla_kernel.h), computing
// A/N^α once per distinct model size. Immutable after construction, so one
// instance may serve several threads' solvers, each through a
// ceres::GradientProblem of its own: a GradientProblem is not thread safe.
class ChinchillaObjectiveFunction final : public ceres::FirstOrderFunction {
 public:
  // `weights` empty means every weight is 1; otherwise one per point.
  ChinchillaObjectiveFunction(std::vector<double> log_params, std::vector<double> log_tokens,
                              std::vector<double> log_loss, double huber_delta,
                              std::vector<double> weights = {});

  bool Evaluate(const double* theta, double* cost, double* gradient) const override;
  int NumParameters() const override { return 5; }

 private:
  std::vector<double> log_params_;
  std::vector<double> log_tokens_;
  std::vector<double> log_loss_;
  std::vector<double> weights_;
  double huber_delta_;
  // Distinct log N values and, per point, the index of its own.
  std::vector<double> log_sizes_;
  std::vector<int> size_of_point_;
};

}  // namespace scalelaw::fitting
