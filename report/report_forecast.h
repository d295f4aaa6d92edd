// The report's "Forecast vs outcome" section: a sweep's pre-registered
// forecasts (issue 14; coordinator/forecaster.h) beside what its targets
// went on to do. Plain data in, so the report library stays free of the wire
// types; `scalelaw report` converts v1::ForecastOutcome at the edge.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fitting/bootstrap.h"
#include "fitting/observation.h"
#include "report/svg_plot.h"

namespace scalelaw::report {

// One target's stored forecast and, once it ran, its outcome.
struct ForecastOutcome {
  std::string target;                     // the forecast block's name for it, e.g. "big"
  std::string trial_id;                   // of the target trial
  double params = 0;                      // N, the count the ladder was fitted on
  double tokens = 0;                      // D
  double compute = 0;                     // 6ND (FLOPs)
  double predicted_loss = 0;              // nats/token
  fitting::Interval prediction_interval;  // at `level`
  double level = 0.9;
  std::string error;  // why no forecast could be made; the fields above are then unset
  std::string state;  // of the target trial: "succeeded", "running", …
  std::optional<double> actual_loss;  // final validation loss once it succeeded
  int64_t fitted_ms = 0;              // Unix ms when the forecast was stored
  int64_t first_target_lease_ms = 0;  // Unix ms of the target's first lease; 0: not yet
  int ladder_points = 0;              // K: ladder runs the forecast was fitted on
};

// A sweep's forecasts and the ladder they were fitted on.
struct ForecastInput {
  // The fitted ladder runs (N in the forecasts' count); their compute is
  // drawn as 6ND, as the targets'.
  std::vector<fitting::Observation> ladder;
  std::vector<ForecastOutcome> outcomes;  // empty: the sweep has no forecasts
};

// (predicted − actual) / actual, or nullopt before the target succeeded or
// without a forecast.
std::optional<double> RelativeError(const ForecastOutcome& outcome);

// Loss against compute (6ND): the ladder, each target's predicted loss with
// its prediction interval as an error bar, and its actual loss.
Plot ForecastPlot(const ForecastInput& input);

// The <section id="forecast"> with the figure, one table row per target and
// a line per target on when it was stored; "" when there are no outcomes.
std::string ForecastSectionHtml(const ForecastInput& input);

// Unix milliseconds as RFC 3339 in UTC, "2026-12-07T10:55:01.123Z" (as
// `scalelaw sweep forecast` prints them).
std::string FormatUnixMs(int64_t unix_ms);

}  // namespace scalelaw::report
