#include "fitting/compute_optimal.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "fitting/minimize_1d.h"

namespace scalelaw::fitting {
namespace {

absl::Status ValidateLaw(const ChinchillaParams& law) {
  const bool ok = std::isfinite(law.E) && law.E >= 0 && std::isfinite(law.A) && law.A > 0 &&
                  std::isfinite(law.B) && law.B > 0 && std::isfinite(law.alpha) && law.alpha > 0 &&
                  std::isfinite(law.beta) && law.beta > 0;
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("law has no compute-optimal allocation: need E >= 0 and A, B, alpha, beta > 0, "
                   "got E=",
                   law.E, " A=", law.A, " B=", law.B, " alpha=", law.alpha, " beta=", law.beta));
}

absl::Status ValidateCompute(double compute) {
  if (std::isfinite(compute) && compute > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("compute: expected a positive number of FLOPs, got ", compute));
}

ComputeOptimal Make(const ChinchillaParams& law, double compute, double params, double tokens,
                    const char* method) {
  return {.compute = compute,
          .params = params,
          .tokens = tokens,
          .loss = law.Loss(params, tokens),
          .tokens_per_param = tokens / params,
          .method = method};
}

}  // namespace

absl::StatusOr<ComputeOptimal> OptimalAllocation(const ChinchillaParams& law, double compute) {
  SCALELAW_RETURN_IF_ERROR(ValidateLaw(law));
  SCALELAW_RETURN_IF_ERROR(ValidateCompute(compute));
  // Hoffmann et al. 2022, Eq. (4): minimise L(N, C/(6N)) in closed form.
  const double sum = law.alpha + law.beta;
  const double g = std::pow(law.alpha * law.A / (law.beta * law.B), 1.0 / sum);
  const double params = g * std::pow(compute / 6.0, law.beta / sum);
  const double tokens = std::pow(compute / 6.0, law.alpha / sum) / g;
  return Make(law, compute, params, tokens, "closed_form");
}

absl::StatusOr<ComputeOptimal> OptimalAllocationNumeric(const ChinchillaParams& law, double compute,
                                                        const FlopsPerToken& flops_per_token) {
  SCALELAW_RETURN_IF_ERROR(ValidateLaw(law));
  SCALELAW_RETURN_IF_ERROR(ValidateCompute(compute));
  const auto tokens_at = [&](double log_params) {
    return compute / flops_per_token(std::exp(log_params));
  };
  const auto loss_at = [&](double log_params) {
    const double tokens = tokens_at(log_params);
    if (!(tokens > 0) || !std::isfinite(tokens)) return std::numeric_limits<double>::infinity();
    return law.Loss(std::exp(log_params), tokens);
  };
  // Coarse scan, 16 points per decade, over N ∈ [1, C]: every N with at
  // least one token lies inside since fpt(N) ≥ 1 FLOP per token for any
  // model. L(N, C/fpt(N)) is unimodal in log N for the usual fpt, so Brent's
  // method on the two scan intervals around the best point finds it.
  const double hi = std::log(compute);
  const int n_scan = std::max(2, static_cast<int>(16 * hi / std::log(10.0)));
  const double step = hi / n_scan;
  int best = -1;
  double best_loss = std::numeric_limits<double>::infinity();
  for (int i = 0; i <= n_scan; ++i) {
    const double value = loss_at(i * step);
    if (tokens_at(i * step) >= 1 && value < best_loss) best = i, best_loss = value;
  }
  if (best < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("compute: ", compute, " FLOPs buy no model a single token"));
  }
  const double lo_bracket = std::max(0.0, (best - 1) * step);
  const double hi_bracket = std::min(hi, (best + 1) * step);
  const Minimum1D minimum = BrentMinimize(loss_at, lo_bracket, hi_bracket, 1e-12);
  const double params = std::exp(minimum.x);
  return Make(law, compute, params, tokens_at(minimum.x), "numeric");
}

absl::StatusOr<double> MinComputeForLoss(const ChinchillaParams& law, double target_loss) {
  SCALELAW_RETURN_IF_ERROR(ValidateLaw(law));
  if (!std::isfinite(target_loss) || target_loss <= law.E) {
    return absl::InvalidArgumentError(absl::StrCat("target loss ", target_loss,
                                                   " is not above the irreducible loss E = ", law.E,
                                                   ": no compute budget reaches it"));
  }
  const auto optimal_loss = [&](double log_compute) {
    return OptimalAllocation(law, std::exp(log_compute))->loss;
  };
  // L_opt(C) falls monotonically towards E; bracket the target, then bisect.
  double lo = 0, hi = std::log(1e6);
  if (optimal_loss(lo) <= target_loss) return 1.0;
  while (optimal_loss(hi) > target_loss) {
    lo = hi;
    hi *= 2;
    if (hi > 700) {
      return absl::InvalidArgumentError(
          absl::StrCat("target loss ", target_loss, " needs more than e^700 FLOPs under this law"));
    }
  }
  for (int i = 0; i < 200 && hi - lo > 1e-13 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (optimal_loss(mid) > target_loss ? lo : hi) = mid;
  }
  return std::exp(hi);
}

}  // namespace scalelaw::fitting
