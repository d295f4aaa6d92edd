#include "coordinator/sweep_fit.h"

#include <cmath>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "fitting/bootstrap.h"
#include "fitting/chinchilla_fit.h"
#include "fitting/compute_optimal.h"
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

absl::Status ValidateFilter(const TrialFilter& filter) {
  if (!(filter.min_tokens >= 0) || !std::isfinite(filter.min_tokens)) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_tokens: must be non-negative and finite, got ", filter.min_tokens));
  }
  for (size_t i = 0; i < filter.exclude_sizes.size(); ++i) {
    if (!PositiveFinite(filter.exclude_sizes[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "exclude_sizes[", i, "]: must be positive and finite, got ", filter.exclude_sizes[i]));
    }
  }
  if (filter.param_count != "total" && filter.param_count != "non_embedding") {
    return absl::InvalidArgumentError(absl::StrCat(
        "param_count: must be 'total' or 'non_embedding', got '", filter.param_count, "'"));
  }
  return absl::OkStatus();
}

v1::FitInterval ToProto(const fitting::Interval& interval) {
  v1::FitInterval out;
  out.set_lo(interval.lo);
  out.set_hi(interval.hi);
  return out;
}


}  // namespace

bool MatchesExcludedSize(double params, double size) {
  return PositiveFinite(params) && std::abs(params - size) <= 0.05 * size;
}

TrialFilter TrialFilterFromRequest(const v1::GetFitRequest& request) {
  TrialFilter filter;
  filter.min_tokens = request.min_tokens();
  filter.drop_diverged = !request.keep_diverged();
  filter.exclude_sizes.assign(request.exclude_sizes().begin(), request.exclude_sizes().end());
  if (!request.param_count().empty()) filter.param_count = request.param_count();
  return filter;
}

absl::StatusOr<SweepObservations> ObservationsFromTrials(const std::vector<v1::Trial>& trials,
                                                         const TrialFilter& filter) {
  if (absl::Status status = ValidateFilter(filter); !status.ok()) return status;
  SweepObservations out;
  const auto exclude = [&](const std::string& id, const std::string& reason) {
    out.excluded.push_back(absl::StrCat(id, ": ", reason));
  };
  for (const v1::Trial& trial : trials) {
    const std::string& id = trial.spec().trial_id();
    const v1::TrialState state = trial.state();
    if (state == v1::TRIAL_STATE_FAILED || state == v1::TRIAL_STATE_CANCELLED ||
        (state == v1::TRIAL_STATE_DIVERGED && filter.drop_diverged)) {
      exclude(id,
              absl::StrCat(StateName(state), trial.reason().empty() ? "" : ": ", trial.reason()));
      continue;
    }
    if (state != v1::TRIAL_STATE_SUCCEEDED && state != v1::TRIAL_STATE_DIVERGED) continue;
    // A WSD stable run never cooled down: its end is not an (N, D, L) point
    // (SCIENCE.md); its branches are.
    if (trial.spec().wsd().role() == v1::TRIAL_ROLE_WSD_STABLE) {
      exclude(id, "WSD stable run (constant lr; its cooldown branches are the points)");
      continue;
    }
    const v1::TrialResult& r = trial.result();
    const double params = static_cast<double>(
        filter.param_count == "non_embedding" ? r.non_embedding_params() : r.params());
    const double tokens = static_cast<double>(r.tokens());
    if (!PositiveFinite(params) || !PositiveFinite(tokens) || !PositiveFinite(r.final_val_loss())) {
      exclude(id, state == v1::TRIAL_STATE_DIVERGED
                      ? absl::StrCat("DIVERGED without a finite loss",
                                     trial.reason().empty() ? "" : ": ", trial.reason())
                      : absl::StrCat("result lacks positive ",
                                     filter.param_count == "non_embedding" ? "non_embedding_params"
                                                                           : "params",
                                     ", tokens or final_val_loss"));
      continue;
    }
    if (tokens < filter.min_tokens) {
      exclude(id,
              absl::StrCat("too few tokens (", tokens, " < min_tokens ", filter.min_tokens, ")"));
      continue;
    }
    bool excluded_size = false;
    for (double size : filter.exclude_sizes) {
      if (MatchesExcludedSize(trial.spec().target_params(), size) ||
          MatchesExcludedSize(params, size)) {
        exclude(id, absl::StrCat("size excluded by filter (", size, " parameters)"));
        excluded_size = true;
        break;
      }
    }
    if (excluded_size) continue;
    out.observations.push_back(fitting::Observation{params, tokens, r.final_val_loss(),
                                                    std::isfinite(r.flops()) ? r.flops() : 0, id});
  }
  return out;
}

namespace {

// What every law's fit of a sweep starts from: the request checked, the
// points chosen, the proto's bookkeeping filled in.
struct PreparedFit {
  std::string law;
  fitting::BootstrapOptions bootstrap_options;
  TrialFilter filter;
  std::vector<fitting::Observation> observations;
  v1::FitResult out;
};

absl::StatusOr<PreparedFit> PrepareFit(const std::vector<v1::Trial>& trials,
                                       const v1::GetFitRequest& request,
                                       const SweepFitOptions& options) {
  PreparedFit prepared;
  prepared.law = request.law().empty() ? "chinchilla" : request.law();
  const std::string& law = prepared.law;
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
  fitting::BootstrapOptions& bootstrap_options = prepared.bootstrap_options;
  if (request.bootstrap() > 0) {
    if (law != "chinchilla") {
      return absl::InvalidArgumentError("bootstrap: only law 'chinchilla' has intervals here");
    }
    bootstrap_options.resamples = static_cast<int>(request.bootstrap());
    bootstrap_options.level = request.level() == 0 ? 0.95 : request.level();
    bootstrap_options.seed = request.seed();
    bootstrap_options.num_threads = options.num_threads;
    absl::StatusOr<fitting::ResampleUnit> unit = fitting::ParseResampleUnit(
        request.bootstrap_unit().empty() ? "point" : request.bootstrap_unit());
    if (!unit.ok()) return unit.status();
    bootstrap_options.unit = *unit;
  }

  prepared.filter = TrialFilterFromRequest(request);
  absl::StatusOr<SweepObservations> points = ObservationsFromTrials(trials, prepared.filter);
  if (!points.ok()) return points.status();
  prepared.observations = std::move(points->observations);
  v1::FitResult& out = prepared.out;
  out.set_law(law);
  out.set_param_count(prepared.filter.param_count);
  for (const std::string& excluded : points->excluded) out.add_excluded(excluded);
  for (const fitting::Observation& obs : prepared.observations) out.add_point_ids(obs.id);
  out.set_n_points(static_cast<uint32_t>(prepared.observations.size()));
  return prepared;
}

absl::StatusOr<ChinchillaSweepFit> FitPreparedChinchilla(PreparedFit prepared,
                                                         const v1::GetFitRequest& request,
                                                         const SweepFitOptions& options) {
  const std::vector<fitting::Observation>& observations = prepared.observations;
  ChinchillaSweepFit result;
  v1::FitResult& out = result.result;
  out = std::move(prepared.out);
  fitting::ChinchillaFitOptions fit_options;
  fit_options.param_count = prepared.filter.param_count;
  fit_options.num_threads = options.num_threads;
  auto fit = fitting::FitChinchilla(observations, fit_options);
  if (!fit.ok()) {
    if (absl::IsInvalidArgument(fit.status())) return AsPrecondition(fit.status());
    return fit.status();
  }
  result.fit = *fit;
  auto& params = *out.mutable_params();
  params["E"] = fit->params.E;
  params["A"] = fit->params.A;
  params["B"] = fit->params.B;
  params["alpha"] = fit->params.alpha;
  params["beta"] = fit->params.beta;
  out.set_objective(fit->objective);
  out.set_termination(fit->termination);
  std::optional<fitting::ChinchillaBootstrap>& bootstrap = result.bootstrap;
  if (request.bootstrap() > 0) {
    auto boot =
        fitting::BootstrapChinchilla(observations, *fit, fit_options, prepared.bootstrap_options);
    if (!boot.ok()) return boot.status();
    bootstrap = *std::move(boot);
    auto& intervals = *out.mutable_intervals();
    intervals["E"] = ToProto(bootstrap->E);
    intervals["A"] = ToProto(bootstrap->A);
    intervals["B"] = ToProto(bootstrap->B);
    intervals["alpha"] = ToProto(bootstrap->alpha);
    intervals["beta"] = ToProto(bootstrap->beta);
    out.set_bootstrap_resamples(static_cast<uint32_t>(bootstrap->resamples));
    out.set_bootstrap_failed(static_cast<uint32_t>(bootstrap->failed));
  }
  for (double compute : request.compute_budgets()) {
    auto optimum = fitting::OptimalAllocation(fit->params, compute);
    if (!optimum.ok()) return AsPrecondition(optimum.status());
    v1::OptimalPoint* point = out.add_optimal();
    point->set_compute(optimum->compute);
    point->set_params(optimum->params);
    point->set_tokens(optimum->tokens);
    point->set_loss(optimum->loss);
    if (bootstrap.has_value()) {
      // Each resampled law allocates the budget its own way.
      const auto at = [&](double fitting::ComputeOptimal::*field) {
        return ToProto(fitting::DerivedInterval(*bootstrap, [&](const fitting::ChinchillaParams& p) {
          absl::StatusOr<fitting::ComputeOptimal> o = fitting::OptimalAllocation(p, compute);
          return o.ok() ? (*o).*field : std::nan("");
        }));
      };
      *point->mutable_params_interval() = at(&fitting::ComputeOptimal::params);
      *point->mutable_tokens_interval() = at(&fitting::ComputeOptimal::tokens);
      *point->mutable_loss_interval() = at(&fitting::ComputeOptimal::loss);
    }
  }
  return result;
}

}  // namespace

absl::StatusOr<ChinchillaSweepFit> FitSweepChinchilla(const std::vector<v1::Trial>& trials,
                                                      const v1::GetFitRequest& request,
                                                      const SweepFitOptions& options) {
  if (!request.law().empty() && request.law() != "chinchilla") {
    return absl::InvalidArgumentError(
        absl::StrCat("law: must be 'chinchilla' here, got '", request.law(), "'"));
  }
  SCALELAW_ASSIGN_OR_RETURN(PreparedFit prepared, PrepareFit(trials, request, options));
  return FitPreparedChinchilla(std::move(prepared), request, options);
}

absl::StatusOr<v1::FitResult> FitSweep(const std::vector<v1::Trial>& trials,
                                       const v1::GetFitRequest& request,
                                       const SweepFitOptions& options) {
  SCALELAW_ASSIGN_OR_RETURN(PreparedFit prepared, PrepareFit(trials, request, options));
  if (prepared.law == "chinchilla") {
    SCALELAW_ASSIGN_OR_RETURN(ChinchillaSweepFit fit,
                              FitPreparedChinchilla(std::move(prepared), request, options));
    return std::move(fit.result);
  }
  const std::vector<fitting::Observation>& observations = prepared.observations;
  const TrialFilter& filter = prepared.filter;
  v1::FitResult out = std::move(prepared.out);

  fitting::PowerLawFitOptions fit_options;
  fit_options.axis = fitting::PowerLawAxis::kCompute;
  fit_options.param_count = filter.param_count;
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
