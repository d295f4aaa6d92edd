// How forecasts and their outcomes read: the table `sweep forecast`, `sweep
// status` and `run` print, and the JSON `sweep forecast --json` prints (an
// interface other tools rely on; keep its keys).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::cli {

// Unix milliseconds as RFC 3339 in UTC with milliseconds,
// "2026-12-07T10:55:01.123Z".
std::string Rfc3339Ms(int64_t unix_ms);

// One row per target: predicted loss and interval, actual, signed relative
// error, whether the actual fell inside, and when it was fitted and first
// leased; a forecast that could not be made shows its error. "" for none.
std::string FormatForecasts(const std::vector<v1::ForecastOutcome>& outcomes);

// {"forecasts":[{"target","trial_id","params","tokens","compute",
//   "predicted_loss","interval":[lo,hi],"parameter_interval":[lo,hi],"level",
//   "actual_loss"|null,"rel_error"|null,"inside"|null,"state","fitted_at",
//   "first_target_lease_at"|null, …}]}
nlohmann::ordered_json ForecastsJson(const std::vector<v1::ForecastOutcome>& outcomes);

}  // namespace scalelaw::cli
