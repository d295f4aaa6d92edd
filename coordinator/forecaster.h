// Pre-registered forecasts (issue 14; OpenAI 2023, "GPT-4 Technical Report",
// §3.1 "Predictable scaling"): a sweep with a `forecast:` block runs its
// ladder first; once every ladder trial has ended, the Forecaster fits the
// ladder (Chinchilla approach 3 with a parameter bootstrap), predicts each
// target's final validation loss with a prediction interval, and stores the
// forecasts — with the fit's provenance and the time — in one transaction.
// Only then does the store let the targets be leased (Store::NextPendingTrial),
// so a forecast can never have seen its target's outcome. A stored forecast
// is never rewritten.
//
// A ladder that cannot be fitted (everything diverged, too few points left)
// still gets a stored forecast per target, carrying the error, so the targets
// run and the failure is on record.
//
// Thread safety: ForecastReadySweeps may be called from any one thread at a
// time (the coordinator calls it from its forecast thread); it blocks for the
// length of a fit and its bootstrap (seconds), holding no scheduler lock.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/clock.h"
#include "coordinator/coordinator_observer.h"
#include "coordinator/store.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::coordinator {

struct ForecastOptions {
  int num_threads = 2;  // of the fit and its bootstrap
};

// The forecasts of one sweep, the final specs of its compute targets, and the
// compute targets that could not be sized (no fit, no optimum): they end
// FAILED with the forecast's error instead of running without tokens.
struct SweepForecasts {
  std::vector<v1::Forecast> forecasts;
  std::vector<v1::TrialSpec> target_specs;
  std::vector<std::pair<std::string, std::string>> failed_targets;  // (trial id, reason)
};

// Whether `trials` (a sweep's, in plan order) are ready for forecasting:
// every ladder trial (not a forecast target) has ended.
bool LadderEnded(const std::vector<v1::Trial>& trials);

// Fits the ladder of `sweep` and forecasts its targets, as of `now_ms`.
// Errors only for malformed input; a failed fit is reported in each
// forecast's `error`.
absl::StatusOr<SweepForecasts> MakeForecasts(const SweepRecord& sweep,
                                             const std::vector<v1::Trial>& trials, int64_t now_ms,
                                             const ForecastOptions& options = {});

class Forecaster {
 public:
  // `store`, `clock` and `observer` are not owned; `observer` may be null.
  Forecaster(Store* store, const Clock* clock, ForecastOptions options = {},
             CoordinatorObserver* observer = nullptr);

  // Forecasts every sweep that has a forecast plan, is not cancelled, has no
  // stored forecasts and whose ladder has ended. Returns how many sweeps
  // were forecast now.
  absl::StatusOr<int> ForecastReadySweeps();

 private:
  Store* const store_;
  const Clock* const clock_;
  const ForecastOptions options_;
  CoordinatorObserver* const observer_;
  std::set<std::string> done_;  // sweeps known to have their forecasts
};

// The outcomes of a sweep's stored forecasts against its trials now.
absl::StatusOr<std::vector<v1::ForecastOutcome>> ForecastOutcomes(Store& store,
                                                                  const std::string& sweep_id);

}  // namespace scalelaw::coordinator
