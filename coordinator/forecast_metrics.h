// The Prometheus series of pre-registered forecasts (coordinator/forecaster.h),
// one child per (sweep, target), kept for the coordinator's lifetime: a
// forecast is a handful of series per sweep and worth seeing long after the
// sweep ended.
//
//   scalelaw_forecast_predicted_loss{sweep,target}         gauge, nats/token
//   scalelaw_forecast_interval_lower_loss{sweep,target}    gauge, prediction interval
//   scalelaw_forecast_interval_upper_loss{sweep,target}    gauge
//   scalelaw_forecast_actual_loss{sweep,target}            gauge, once the target succeeded
//   scalelaw_forecast_relative_error{sweep,target}         gauge, (predicted - actual) / actual
//   scalelaw_forecast_inside_interval{sweep,target}        gauge, 1 or 0
//
// Thread safety: every method is thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "coordinator/store.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::coordinator {

class ForecastMetrics {
 public:
  // Registers the families on `registry`, which must outlive this object.
  explicit ForecastMetrics(prometheus::Registry& registry);

  // Every stored forecast and outcome in `store` (after a restart).
  absl::Status Seed(Store& store);
  void OnForecastStored(const v1::Forecast& forecast);
  // A forecast target's trial ended: its actual loss against the forecast.
  void OnTargetWritten(const v1::Trial& trial);

 private:
  struct Stored {
    double predicted = 0, lower = 0, upper = 0;
  };
  void SetOutcome(const std::string& sweep, const std::string& target, double actual);

  prometheus::Family<prometheus::Gauge>& predicted_;
  prometheus::Family<prometheus::Gauge>& lower_;
  prometheus::Family<prometheus::Gauge>& upper_;
  prometheus::Family<prometheus::Gauge>& actual_;
  prometheus::Family<prometheus::Gauge>& relative_error_;
  prometheus::Family<prometheus::Gauge>& inside_;

  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Stored> forecasts_;  // (sweep, target)
};

}  // namespace scalelaw::coordinator
