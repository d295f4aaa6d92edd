#include "coordinator/sweep_fit.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "fitting/chinchilla_fit.h"
#include "fitting/compute_optimal.h"
#include "fitting/observation.h"
#include "fitting/power_law.h"

namespace scalelaw::coordinator {
namespace {

std::string StateName(v1::TrialState state) {
  std::string name = v1::TrialState_Name(state);
  constexpr std::string_view kPrefix = "TRIAL_STATE_";
  return name.rfind(kPrefix, 0) == 0 ? name.substr(kPrefix.size()) : name;
}

bool PositiveFinite(double x) { return std::isfinite(x) && x > 0; }

// Only a precondition: the fit needs more (or other) data than the sweep has.
absl::Status AsPrecondition(const absl::Status& status) {
  return absl::FailedPreconditionError(std::string(status.message()));
}

}  // namespace

absl::StatusOr<v1::FitResult> FitSweep(const std::vector<v1::Trial>& trials,
                                       const v1::GetFitRequest& request,
                                       const SweepFitOptions& options) {
  const std::string law = request.law().empty() ? "chinchilla" : request.law();
  if (law != "chinchilla" && law != "power") {
    return absl::InvalidArgumentError(
        absl::StrCat("law: must be 'chinchilla' or 'power', got '", law, "'"));
  }
  for (int i = 0; i < request.compute_budgets_size(); ++i) {
    if (!PositiveFinite(request.compute_budgets(i))) {
      return absl::InvalidArgumentError(absl::StrCat("compute_budgets[", i,
                                                     "]: must be positive and finite, got ",
                                                     request.compute_budgets(i)));
    }
  }

  v1::FitResult out;
  out.set_law(law);
  out.set_param_count("total");
  std::vector<fitting::Observation> observations;
  for (const v1::Trial& trial : trials) {
    const std::string& id = trial.spec().trial_id();
    switch (trial.state()) {
      case v1::TRIAL_STATE_SUCCEEDED: {
        const v1::TrialResult& r = trial.result();
        const double params = static_cast<double>(r.params());
        const double tokens = static_cast<double>(r.tokens());
        if (!PositiveFinite(params) || !PositiveFinite(tokens) ||
            !PositiveFinite(r.final_val_loss())) {
          out.add_excluded(absl::StrCat(id,
                                        ": result lacks positive params, tokens or "
                                        "final_val_loss"));
          break;
        }
        observations.push_back(fitting::Observation{params, tokens, r.final_val_loss(),
                                                    std::isfinite(r.flops()) ? r.flops() : 0, id});
        break;
      }
      case v1::TRIAL_STATE_DIVERGED:
      case v1::TRIAL_STATE_FAILED:
      case v1::TRIAL_STATE_CANCELLED:
        out.add_excluded(absl::StrCat(id, ": ", StateName(trial.state()),
                                      trial.reason().empty() ? "" : ": ", trial.reason()));
        break;
      default:
        break;  // not ended yet
    }
  }
  out.set_n_points(static_cast<uint32_t>(observations.size()));

  if (law == "chinchilla") {
    fitting::ChinchillaFitOptions fit_options;
    fit_options.param_count = "total";
    fit_options.num_threads = options.num_threads;
    auto fit = fitting::FitChinchilla(observations, fit_options);
    if (!fit.ok()) {
      if (absl::IsInvalidArgument(fit.status())) return AsPrecondition(fit.status());
      return fit.status();
    }
    auto& params = *out.mutable_params();
    params["E"] = fit->params.E;
    params["A"] = fit->params.A;
    params["B"] = fit->params.B;
    params["alpha"] = fit->params.alpha;
    params["beta"] = fit->params.beta;
    out.set_objective(fit->objective);
    out.set_termination(fit->termination);
    for (double compute : request.compute_budgets()) {
      auto optimum = fitting::OptimalAllocation(fit->params, compute);
      if (!optimum.ok()) return AsPrecondition(optimum.status());
      v1::OptimalPoint* point = out.add_optimal();
      point->set_compute(optimum->compute);
      point->set_params(optimum->params);
      point->set_tokens(optimum->tokens);
      point->set_loss(optimum->loss);
    }
    return out;
  }

  fitting::PowerLawFitOptions fit_options;
  fit_options.axis = fitting::PowerLawAxis::kCompute;
  fit_options.param_count = "total";
  auto fit = fitting::FitPowerLaw(observations, fit_options);
  if (!fit.ok()) {
    if (absl::IsInvalidArgument(fit.status())) return AsPrecondition(fit.status());
    return fit.status();
  }
  auto& params = *out.mutable_params();
  params["E"] = fit->params.E;
  params["A"] = fit->params.A;
  params["alpha"] = fit->params.alpha;
  out.set_objective(fit->objective);
  out.set_termination(fit->termination);
  for (double compute : request.compute_budgets()) {
    v1::OptimalPoint* point = out.add_optimal();
    point->set_compute(compute);
    point->set_loss(fit->params.Loss(compute));
  }
  return out;
}

}  // namespace scalelaw::coordinator
