// Compute-optimal allocation of a FLOP budget between parameters and tokens
// under a fitted Chinchilla law (Hoffmann et al. 2022, §3.3 and App. D.3).
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "fitting/chinchilla_fit.h"

namespace scalelaw::fitting {

struct ComputeOptimal {
  double compute = 0;           // C, training FLOPs
  double params = 0;            // N_opt
  double tokens = 0;            // D_opt
  double loss = 0;              // L(N_opt, D_opt), nats per token
  double tokens_per_param = 0;  // D_opt / N_opt
  std::string method;           // "closed_form" (C = 6·N·D) or "numeric"
};

// Under C = 6·N·D, in closed form:
//   G = (α·A / (β·B))^(1/(α+β))
//   N_opt = G·(C/6)^(β/(α+β)),  D_opt = G⁻¹·(C/6)^(α/(α+β))
// InvalidArgument when C is not positive and finite or the law has a
// non-positive A, B, α or β (no finite optimum).
absl::StatusOr<ComputeOptimal> OptimalAllocation(const ChinchillaParams& law, double compute);

// Training FLOPs per token of a model with N parameters, e.g. 6·N, or
// 6·N + 6·n_layer·n_ctx·d_model with the attention term (SCIENCE.md).
using FlopsPerToken = std::function<double(double params)>;

// Minimises L(N, C / fpt(N)) over log N numerically: a coarse log-spaced
// scan from N = 1 to the largest N that still gets one token, then Brent's
// method around the best scan point. Use it when C is not 6·N·D. `fpt` must
// be positive wherever it is called. InvalidArgument on a bad budget or law
// or when no N gets a token.
absl::StatusOr<ComputeOptimal> OptimalAllocationNumeric(const ChinchillaParams& law, double compute,
                                                        const FlopsPerToken& flops_per_token);

// The smallest C (under C = 6·N·D, allocated optimally) whose L_opt(C)
// reaches `target_loss`, by bisection on log C. InvalidArgument when the
// target is at or below the irreducible loss E (no budget reaches it).
absl::StatusOr<double> MinComputeForLoss(const ChinchillaParams& law, double target_loss);

}  // namespace scalelaw::fitting
