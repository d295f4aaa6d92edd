#include "fitting/trend_fit.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "absl/strings/str_cat.h"
#include "fitting/csv_table.h"
#include "fitting/line_fit.h"

namespace scalelaw::fitting {
namespace {

bool IsLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

}  // namespace

absl::StatusOr<double> ParseDecimalYear(const std::string& text) {
  int year = 0, month = 0, day = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &year, &month, &day, &tail) == 3 &&
      text.size() == 10) {
    static constexpr int kDaysBefore[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    static constexpr int kDaysIn[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = IsLeapYear(year);
    if (month >= 1 && month <= 12 && day >= 1 &&
        day <= kDaysIn[month - 1] + (leap && month == 2 ? 1 : 0)) {
      const int day_of_year = kDaysBefore[month - 1] + day + (leap && month > 2 ? 1 : 0);
      return year + (day_of_year - 1) / (leap ? 366.0 : 365.0);
    }
  } else {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (!text.empty() && end == text.c_str() + text.size() && std::isfinite(value)) return value;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("expected a date YYYY-MM-DD or a decimal year, got '", text, "'"));
}

absl::StatusOr<TrendFitResult> FitTrend(const std::vector<TrendPoint>& points,
                                        const TrendFitOptions& options) {
  if (options.bootstrap < 0 || options.bootstrap == 1 ||
      !(options.level > 0 && options.level < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("trend fit: bootstrap must be 0 or at least 2 and level in (0, 1), got ",
                     options.bootstrap, " and ", options.level));
  }
  std::vector<double> years, log2_values;
  for (size_t i = 0; i < points.size(); ++i) {
    if (!std::isfinite(points[i].year) || !(points[i].value > 0) ||
        !std::isfinite(points[i].value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("trend point '", points[i].id, "' (index ", i,
                       "): year must be finite and value positive and finite, got ", points[i].year,
                       " and ", points[i].value));
    }
    years.push_back(points[i].year);
    log2_values.push_back(std::log2(points[i].value));
  }
  if (points.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("trend fit needs at least 2 points, got ", points.size()));
  }
  const LineFit line = FitLine(years, log2_values);
  if (!line.ok) {
    return absl::InvalidArgumentError("trend fit: every point has the same date");
  }
  if (!(line.slope > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("trend fit: the series does not grow (", line.slope,
                     " doublings per year), so it has no doubling time"));
  }
  TrendFitResult result;
  result.intercept = line.intercept;
  result.slope = line.slope;
  result.doubling_time_months = 12.0 / line.slope;
  result.growth_per_year = std::exp2(line.slope);
  result.r_squared = line.r_squared;
  result.n_points = static_cast<int>(points.size());
  result.first_year = *std::min_element(years.begin(), years.end());
  result.last_year = *std::max_element(years.begin(), years.end());
  if (options.bootstrap > 0) {
    std::mt19937_64 rng(options.seed);
    std::uniform_int_distribution<size_t> pick(0, points.size() - 1);
    std::vector<double> doubling_times;
    std::vector<double> x(points.size()), y(points.size());
    for (int k = 0; k < options.bootstrap; ++k) {
      for (size_t i = 0; i < points.size(); ++i) {
        const size_t j = pick(rng);
        x[i] = years[j];
        y[i] = log2_values[j];
      }
      const LineFit resampled = FitLine(x, y);
      if (!resampled.ok || !(resampled.slope > 0)) {
        ++result.failed;
        continue;
      }
      doubling_times.push_back(12.0 / resampled.slope);
    }
    if (doubling_times.empty()) {
      return absl::InternalError("trend fit: every bootstrap resample was degenerate");
    }
    result.has_interval = true;
    result.doubling_time_interval = PercentileInterval(doubling_times, options.level);
    result.resamples = static_cast<int>(doubling_times.size());
    result.level = options.level;
  }
  return result;
}

absl::StatusOr<std::vector<TrendPoint>> ReadTrendCsv(const std::string& path) {
  absl::StatusOr<CsvTable> table = ReadCsvTable(path);
  if (!table.ok()) return table.status();
  absl::StatusOr<int> date_col = table->Column({"date", "year"}, true);
  if (!date_col.ok()) return date_col.status();
  absl::StatusOr<int> value_col = table->Column({"compute", "flops", "value"}, true);
  if (!value_col.ok()) return value_col.status();
  absl::StatusOr<int> id_col = table->Column({"id", "name"}, false);
  if (!id_col.ok()) return id_col.status();
  std::vector<TrendPoint> points;
  for (size_t row = 0; row < table->rows.size(); ++row) {
    TrendPoint point;
    absl::StatusOr<double> year = ParseDecimalYear(table->rows[row][*date_col]);
    if (!year.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": line ", table->line_numbers[row],
                                                     ", column '", table->header[*date_col],
                                                     "': ", year.status().message()));
    }
    absl::StatusOr<double> value = table->Number(row, *value_col, true);
    if (!value.ok()) return value.status();
    point.year = *year;
    point.value = *value;
    point.id = table->RowId(row, *id_col);
    points.push_back(std::move(point));
  }
  return points;
}

}  // namespace scalelaw::fitting
