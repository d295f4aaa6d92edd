#include "coordinator/forecast_metrics.h"

#include <cmath>

#include "common/status_macros.h"
#include "coordinator/forecaster.h"

namespace scalelaw::coordinator {
namespace {

using prometheus::Family;
using prometheus::Gauge;

Family<Gauge>& Register(prometheus::Registry& registry, const std::string& name,
                        const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

}  // namespace

ForecastMetrics::ForecastMetrics(prometheus::Registry& registry)
    : predicted_(Register(registry, "scalelaw_forecast_predicted_loss",
                          "Pre-registered forecast of a target trial's final validation loss "
                          "(nats/token), fitted on the sweep's ladder before the target ran.")),
      lower_(Register(registry, "scalelaw_forecast_interval_lower_loss",
                      "Lower end of the forecast's prediction interval (nats/token).")),
      upper_(Register(registry, "scalelaw_forecast_interval_upper_loss",
                      "Upper end of the forecast's prediction interval (nats/token).")),
      actual_(Register(registry, "scalelaw_forecast_actual_loss",
                       "Final validation loss the forecast target reached (nats/token).")),
      relative_error_(Register(registry, "scalelaw_forecast_relative_error",
                               "(predicted - actual) / actual of a forecast target.")),
      inside_(Register(registry, "scalelaw_forecast_inside_interval",
                       "1 when the target's actual loss fell inside the prediction interval.")) {}

absl::Status ForecastMetrics::Seed(Store& store) {
  SCALELAW_ASSIGN_OR_RETURN(std::vector<SweepRecord> sweeps, store.ListSweeps());
  for (const SweepRecord& sweep : sweeps) {
    if (!sweep.spec.has_forecast()) continue;
    SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::ForecastOutcome> outcomes,
                              ForecastOutcomes(store, sweep.sweep_id));
    for (const v1::ForecastOutcome& outcome : outcomes) {
      OnForecastStored(outcome.forecast());
      if (outcome.has_actual_loss()) {
        std::lock_guard lock(mu_);
        SetOutcome(sweep.sweep_id, outcome.forecast().target(), outcome.actual_loss());
      }
    }
  }
  return absl::OkStatus();
}

void ForecastMetrics::OnForecastStored(const v1::Forecast& forecast) {
  if (!forecast.error().empty()) return;  // no prediction to show
  const prometheus::Labels labels{{"sweep", forecast.sweep_id()}, {"target", forecast.target()}};
  std::lock_guard lock(mu_);
  Stored& stored = forecasts_[{forecast.sweep_id(), forecast.target()}];
  stored = {forecast.predicted_loss(), forecast.prediction_interval().lo(),
            forecast.prediction_interval().hi()};
  predicted_.Add(labels).Set(stored.predicted);
  lower_.Add(labels).Set(stored.lower);
  upper_.Add(labels).Set(stored.upper);
}

void ForecastMetrics::OnTargetWritten(const v1::Trial& trial) {
  if (trial.spec().forecast_target().empty() || trial.state() != v1::TRIAL_STATE_SUCCEEDED) return;
  std::lock_guard lock(mu_);
  SetOutcome(trial.spec().sweep_id(), trial.spec().forecast_target(),
             trial.result().final_val_loss());
}

void ForecastMetrics::SetOutcome(const std::string& sweep, const std::string& target,
                                 double actual) {
  auto it = forecasts_.find({sweep, target});
  if (it == forecasts_.end() || !(actual > 0) || !std::isfinite(actual)) return;
  const Stored& stored = it->second;
  const prometheus::Labels labels{{"sweep", sweep}, {"target", target}};
  actual_.Add(labels).Set(actual);
  relative_error_.Add(labels).Set((stored.predicted - actual) / actual);
  inside_.Add(labels).Set(actual >= stored.lower && actual <= stored.upper ? 1 : 0);
}

}  // namespace scalelaw::coordinator
