#include "cli/forecast_display.h"

#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "cli/sweep_display.h"
#include "report/report_forecast.h"

namespace scalelaw::cli {
namespace {

bool Inside(const v1::ForecastOutcome& outcome) {
  const v1::FitInterval& interval = outcome.forecast().prediction_interval();
  return outcome.actual_loss() >= interval.lo() && outcome.actual_loss() <= interval.hi();
}

}  // namespace

std::string Rfc3339Ms(int64_t unix_ms) { return report::FormatUnixMs(unix_ms); }

std::string FormatForecasts(const std::vector<v1::ForecastOutcome>& outcomes) {
  if (outcomes.empty()) return "";
  std::string out =
      absl::StrFormat("%-10s %10s %10s %10s %9s %19s %9s %9s %7s\n", "target", "params", "tokens",
                      "C (6ND)", "predicted", "interval", "actual", "rel.err", "inside");
  for (const v1::ForecastOutcome& outcome : outcomes) {
    const v1::Forecast& f = outcome.forecast();
    if (!f.error().empty()) {
      absl::StrAppendFormat(&out, "%-10s no forecast: %s\n", f.target(), f.error());
      continue;
    }
    const std::string interval =
        absl::StrFormat("[%.4f, %.4f]", f.prediction_interval().lo(), f.prediction_interval().hi());
    std::string actual = TrialStateName(outcome.state());
    std::string error = "-", inside = "-";
    if (outcome.has_actual_loss()) {
      actual = absl::StrFormat("%.4f", outcome.actual_loss());
      error = absl::StrFormat("%+.2f%%", 100 * outcome.rel_error());
      inside = Inside(outcome) ? "yes" : "no";
    }
    absl::StrAppendFormat(&out, "%-10s %10.4g %10.4g %10.3g %9.4f %19s %9s %9s %7s\n", f.target(),
                          f.params(), f.tokens(), f.compute(), f.predicted_loss(), interval, actual,
                          error, inside);
  }
  const v1::Forecast& first = outcomes.front().forecast();
  absl::StrAppendFormat(&out,
                        "%.0f%% prediction intervals (parameter bootstrap of %u resamples and "
                        "the fit's residual scatter); fitted on %u ladder points at %s\n",
                        100 * first.level(), first.fit().bootstrap_resamples(),
                        first.fit().n_points(), Rfc3339Ms(first.fitted_ms()));
  return out;
}

nlohmann::ordered_json ForecastsJson(const std::vector<v1::ForecastOutcome>& outcomes) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const v1::ForecastOutcome& outcome : outcomes) {
    const v1::Forecast& f = outcome.forecast();
    nlohmann::ordered_json row;
    row["target"] = f.target();
    row["trial_id"] = f.trial_id();
    row["params"] = f.params();
    row["tokens"] = f.tokens();
    row["compute"] = f.compute();
    if (f.error().empty()) {
      row["predicted_loss"] = f.predicted_loss();
      row["interval"] = {f.prediction_interval().lo(), f.prediction_interval().hi()};
      row["parameter_interval"] = {f.parameter_interval().lo(), f.parameter_interval().hi()};
    } else {
      row["predicted_loss"] = nullptr;
      row["interval"] = nullptr;
      row["parameter_interval"] = nullptr;
      row["error"] = f.error();
    }
    row["level"] = f.level();
    row["residual_scale"] = f.residual_scale();
    row["actual_loss"] = outcome.has_actual_loss() ? nlohmann::ordered_json(outcome.actual_loss())
                                                   : nlohmann::ordered_json(nullptr);
    row["rel_error"] = outcome.has_rel_error() ? nlohmann::ordered_json(outcome.rel_error())
                                               : nlohmann::ordered_json(nullptr);
    row["inside"] = outcome.has_rel_error() ? nlohmann::ordered_json(Inside(outcome))
                                            : nlohmann::ordered_json(nullptr);
    row["state"] = TrialStateName(outcome.state());
    row["fitted_at"] = Rfc3339Ms(f.fitted_ms());
    row["first_target_lease_at"] =
        outcome.first_target_lease_ms() > 0
            ? nlohmann::ordered_json(Rfc3339Ms(outcome.first_target_lease_ms()))
            : nlohmann::ordered_json(nullptr);
    if (f.params_opt() > 0) {
      row["params_opt"] = f.params_opt();
      row["tokens_opt"] = f.tokens_opt();
    }
    row["fit"] = {{"E", f.fit().params().count("E") ? f.fit().params().at("E") : 0.0},
                  {"A", f.fit().params().count("A") ? f.fit().params().at("A") : 0.0},
                  {"B", f.fit().params().count("B") ? f.fit().params().at("B") : 0.0},
                  {"alpha", f.fit().params().count("alpha") ? f.fit().params().at("alpha") : 0.0},
                  {"beta", f.fit().params().count("beta") ? f.fit().params().at("beta") : 0.0},
                  {"n_points", f.fit().n_points()},
                  {"point_ids", std::vector<std::string>(f.fit().point_ids().begin(),
                                                         f.fit().point_ids().end())},
                  {"objective", f.fit().objective()}};
    row["options"] = f.options();
    row["code_version"] = f.code_version();
    list.push_back(std::move(row));
  }
  return {{"forecasts", std::move(list)}};
}

}  // namespace scalelaw::cli
