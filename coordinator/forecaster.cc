#include "coordinator/forecaster.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "coordinator/sweep_fit.h"
#include "fitting/compute_optimal.h"
#include "fitting/prediction_interval.h"
#include "fitting/provenance.h"
#include "spdlog/spdlog.h"
#include "sweeps/accounting.h"
#include "sweeps/model_shape.h"
#include "sweeps/planner.h"
#include "sweeps/spec_defaults.h"
#include "sweeps/trial_builder.h"

namespace scalelaw::coordinator {
namespace {

bool IsTarget(const v1::Trial& trial) { return !trial.spec().forecast_target().empty(); }

v1::FitInterval ToProto(const fitting::Interval& interval) {
  v1::FitInterval out;
  out.set_lo(interval.lo);
  out.set_hi(interval.hi);
  return out;
}

double CountOf(const v1::TrialSpec& spec, const std::string& param_count) {
  return static_cast<double>(param_count == "non_embedding" ? spec.non_embedding_params()
                                                            : spec.params());
}

// A compute target's trial, sized from the fitted optimum: the shape rule's
// model nearest N_opt, trained on the whole steps that spend C = 6ND.
absl::StatusOr<v1::TrialSpec> SizeComputeTarget(const v1::SweepSpec& spec,
                                                const v1::TrialSpec& placeholder,
                                                const fitting::ComputeOptimal& optimum) {
  const v1::ModelShape shape =
      sweeps::ShapeForParams(optimum.params, spec.context(), sweeps::VocabSizeOf(spec.data()));
  const double params = static_cast<double>(sweeps::CountParams(shape).total);
  const uint64_t tokens_per_step = sweeps::TokensPerStep(spec.training(), shape);
  const auto steps = static_cast<uint64_t>(std::max(
      2.0, std::round(optimum.compute / (6 * params) / static_cast<double>(tokens_per_step))));
  v1::TrialSpec trial = sweeps::MakeTrial(spec, placeholder.sweep_id(), shape, optimum.params,
                                          steps * tokens_per_step, placeholder.seed());
  trial.set_trial_id(placeholder.trial_id());
  trial.set_forecast_target(placeholder.forecast_target());
  *trial.mutable_wsd() = placeholder.wsd();
  return trial;
}

std::string OptionsText(const v1::ForecastPlan& plan) {
  return absl::StrFormat(
      "law=%s param_count=%s bootstrap=%u level=%g seed=%u unit=point huber_delta=0.001 "
      "starts=paper_grid interval=bootstrap_laws_x_scaled_residuals",
      plan.law(), plan.param_count(), plan.bootstrap(), plan.level(), plan.seed());
}

}  // namespace

bool LadderEnded(const std::vector<v1::Trial>& trials) {
  return std::all_of(trials.begin(), trials.end(), [](const v1::Trial& trial) {
    return IsTarget(trial) || IsEnded(trial.state());
  });
}

absl::StatusOr<SweepForecasts> MakeForecasts(const SweepRecord& sweep,
                                             const std::vector<v1::Trial>& trials, int64_t now_ms,
                                             const ForecastOptions& options) {
  const v1::ForecastPlan& plan = sweep.spec.forecast();
  std::vector<v1::Trial> ladder;
  std::vector<const v1::Trial*> targets;
  for (const v1::Trial& trial : trials) {
    if (IsTarget(trial)) {
      targets.push_back(&trial);
    } else {
      ladder.push_back(trial);
    }
  }
  if (targets.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("sweep '", sweep.sweep_id, "' has a forecast plan but no target trials"));
  }

  v1::GetFitRequest request;
  request.set_sweep_id(sweep.sweep_id);
  request.set_law("chinchilla");
  request.set_param_count(plan.param_count());
  request.set_bootstrap(plan.bootstrap());
  request.set_level(plan.level());
  request.set_seed(plan.seed());
  SweepFitOptions fit_options;
  fit_options.num_threads = options.num_threads;
  absl::StatusOr<ChinchillaSweepFit> fit = FitSweepChinchilla(ladder, request, fit_options);

  SweepForecasts out;
  for (const v1::Trial* target : targets) {
    v1::Forecast& forecast = out.forecasts.emplace_back();
    forecast.set_sweep_id(sweep.sweep_id);
    forecast.set_target(target->spec().forecast_target());
    forecast.set_trial_id(target->spec().trial_id());
    forecast.set_level(plan.level());
    forecast.set_fitted_ms(now_ms);
    forecast.set_code_version(fitting::CodeVersion());
    forecast.set_options(OptionsText(plan));
    const bool compute_target = target->spec().tokens() == 0;
    if (!compute_target) {
      const double params = CountOf(target->spec(), plan.param_count());
      forecast.set_params(params);
      forecast.set_tokens(static_cast<double>(target->spec().tokens()));
      forecast.set_compute(6 * params * forecast.tokens());
    }
    if (!fit.ok()) {
      forecast.set_error(absl::StrCat("the ladder could not be fitted: ", fit.status().message()));
      if (compute_target) out.failed_targets.emplace_back(forecast.trial_id(), forecast.error());
      continue;
    }
    *forecast.mutable_fit() = fit->result;
    v1::TrialSpec spec = target->spec();
    if (compute_target) {  // sized now
      absl::StatusOr<fitting::ComputeOptimal> optimum =
          fitting::OptimalAllocation(fit->fit.params, spec.flops());
      if (!optimum.ok()) {
        forecast.set_error(
            absl::StrCat("no compute-optimal allocation: ", optimum.status().message()));
        out.failed_targets.emplace_back(forecast.trial_id(), forecast.error());
        continue;
      }
      forecast.set_params_opt(optimum->params);
      forecast.set_tokens_opt(optimum->tokens);
      SCALELAW_ASSIGN_OR_RETURN(spec, SizeComputeTarget(sweep.spec, spec, *optimum));
      out.target_specs.push_back(spec);
    }
    const double params = CountOf(spec, plan.param_count());
    const double tokens = static_cast<double>(spec.tokens());
    forecast.set_params(params);
    forecast.set_tokens(tokens);
    forecast.set_compute(6 * params * tokens);
    const fitting::LossPrediction prediction =
        fitting::PredictLoss(fit->fit, *fit->bootstrap, params, tokens);
    forecast.set_predicted_loss(prediction.loss);
    *forecast.mutable_prediction_interval() = ToProto(prediction.prediction_interval);
    *forecast.mutable_parameter_interval() = ToProto(prediction.parameter_interval);
    forecast.set_residual_scale(prediction.residual_scale);
  }
  return out;
}

Forecaster::Forecaster(Store* store, const Clock* clock, ForecastOptions options,
                       CoordinatorObserver* observer)
    : store_(store), clock_(clock), options_(options), observer_(observer) {}

absl::StatusOr<int> Forecaster::ForecastReadySweeps() {
  SCALELAW_ASSIGN_OR_RETURN(std::vector<SweepRecord> sweeps, store_->ListSweeps());
  int forecast = 0;
  for (const SweepRecord& sweep : sweeps) {
    if (!sweep.spec.has_forecast() || sweep.cancelled || done_.contains(sweep.sweep_id)) continue;
    SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::Forecast> stored,
                              store_->ListForecasts(sweep.sweep_id));
    if (!stored.empty()) {
      done_.insert(sweep.sweep_id);
      continue;
    }
    SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::Trial> trials, store_->ListTrials(sweep.sweep_id));
    if (!LadderEnded(trials)) continue;
    absl::StatusOr<SweepForecasts> made_or =
        MakeForecasts(sweep, trials, clock_->NowMs(), options_);
    if (!made_or.ok()) {  // this sweep's problem, not the next sweep's
      spdlog::error("sweep {}: cannot forecast: {}", sweep.sweep_id, made_or.status().ToString());
      continue;
    }
    SweepForecasts& made = *made_or;
    absl::Status stored_now = store_->InsertForecasts(sweep.sweep_id, made.forecasts,
                                                      made.target_specs, made.failed_targets);
    // Cancelled or resumed while fitting: try again once the ladder has ended.
    if (absl::IsFailedPrecondition(stored_now)) continue;
    // Another coordinator on the same store got there first: theirs stands.
    if (!stored_now.ok() && !absl::IsAlreadyExists(stored_now)) {
      spdlog::error("sweep {}: cannot store its forecasts: {}", sweep.sweep_id,
                    stored_now.ToString());
      continue;
    }
    done_.insert(sweep.sweep_id);
    if (stored_now.ok()) {
      ++forecast;
      if (observer_ != nullptr) {
        for (const v1::Forecast& f : made.forecasts) observer_->OnForecastStored(f);
        for (const auto& [trial_id, reason] : made.failed_targets) {
          for (v1::Trial trial : trials) {
            if (trial.spec().trial_id() != trial_id) continue;
            trial.set_state(v1::TRIAL_STATE_FAILED);
            trial.set_reason(reason);
            observer_->OnTrialWritten(trial, v1::TRIAL_STATE_PENDING);
          }
        }
      }
    }
  }
  return forecast;
}

absl::StatusOr<std::vector<v1::ForecastOutcome>> ForecastOutcomes(Store& store,
                                                                  const std::string& sweep_id) {
  SCALELAW_RETURN_IF_ERROR(store.GetSweep(sweep_id).status());
  SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::Forecast> forecasts, store.ListForecasts(sweep_id));
  std::vector<v1::ForecastOutcome> outcomes;
  for (v1::Forecast& forecast : forecasts) {
    v1::ForecastOutcome& outcome = outcomes.emplace_back();
    SCALELAW_ASSIGN_OR_RETURN(v1::Trial trial, store.GetTrial(forecast.trial_id()));
    SCALELAW_ASSIGN_OR_RETURN(int64_t first_lease, store.FirstLeaseMs(forecast.trial_id()));
    outcome.set_state(trial.state());
    outcome.set_first_target_lease_ms(first_lease);
    if (trial.state() == v1::TRIAL_STATE_SUCCEEDED && trial.result().final_val_loss() > 0) {
      const double actual = trial.result().final_val_loss();
      outcome.set_actual_loss(actual);
      if (forecast.error().empty()) {
        outcome.set_rel_error((forecast.predicted_loss() - actual) / actual);
      }
    }
    *outcome.mutable_forecast() = std::move(forecast);
  }
  return outcomes;
}

}  // namespace scalelaw::coordinator
