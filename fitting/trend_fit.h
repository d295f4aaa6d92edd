// Exponential growth of a dated series, the "AI and Compute" measure
// (Amodei & Hernandez 2018): log₂ C = a + b·t with t in years, so C doubles
// every 12/b months.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fitting/bootstrap.h"

namespace scalelaw::fitting {

// One point of the series: `value` (e.g. training FLOPs) at `year`, a
// decimal year (2020.5 is 1 July 2020).
struct TrendPoint {
  double year = 0;
  double value = 0;
  std::string id;
};

// "YYYY-MM-DD" → year + (day of year − 1)/(days in the year); a plain number
// ("2019.75") is taken as a decimal year. InvalidArgument otherwise.
absl::StatusOr<double> ParseDecimalYear(const std::string& text);

struct TrendFitOptions {
  int bootstrap = 0;  // resamples of the points; 0 = no interval
  double level = 0.95;
  uint64_t seed = 0;
};

struct TrendFitResult {
  double intercept = 0;             // a: log₂ value at year 0
  double slope = 0;                 // b: doublings per year
  double doubling_time_months = 0;  // 12/b
  double growth_per_year = 0;       // 2^b, the factor per year
  double r_squared = 0;
  int n_points = 0;
  double first_year = 0;
  double last_year = 0;
  // Percentile interval of 12/b over resamples (present when bootstrap > 0;
  // resamples with b ≤ 0 or a single distinct year count as failed).
  bool has_interval = false;
  Interval doubling_time_interval;
  int resamples = 0;
  int failed = 0;
  double level = 0;
};

// Least squares of log₂ value on year. Errors: InvalidArgument for
// non-positive or non-finite values, fewer than 2 points, a single distinct
// year, a non-positive slope (no doubling time), or bad bootstrap options.
absl::StatusOr<TrendFitResult> FitTrend(const std::vector<TrendPoint>& points,
                                        const TrendFitOptions& options = {});

// Reads columns `date` (YYYY-MM-DD or decimal year) and `compute` (or
// flops, value), optional `id`, from a CSV file.
absl::StatusOr<std::vector<TrendPoint>> ReadTrendCsv(const std::string& path);

}  // namespace scalelaw::fitting
