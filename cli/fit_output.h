// How a fit reads on the terminal and in JSON. `scalelaw fit --json` prints
// FitJson(...).dump(2); `scalelaw run` writes the same object to DIR/fit.json,
// so both share one schema:
//   {"law": "chinchilla", "params": {"E", "A", "B", "alpha", "beta"},
//    "n_points", "objective", "termination", "converged", "iterations",
//    "param_count", "huber_delta", "n_starts", "n_starts_converged",
//    "best_start": {"index", "theta": [a, b, e, alpha, beta]},
//    "excluded": [ids], "residuals": [{"id", "log_residual"}]}
// plus, with a bootstrap, "intervals": {"E": [lo, hi], "A", "B", "alpha",
// "beta"} and "bootstrap": {"resamples", "failed", "level"};
// for --law power "params": {"E", "A", "alpha"} with "x": "params" etc.;
// for --law isoflop {"law": "isoflop", "params": {"a", "b"}, "coefficients":
// {"params", "tokens"}, "budgets": [{"compute", "params_opt", "tokens_opt",
// "loss_opt", "n_points", "interior"}], "skipped_budgets", "n_points",
// "excluded"}.
// `--law chinchilla` adds "extrapolation": {"held_out": k, "points": [{"id",
// "compute", "actual", "predicted", "relative_error"}], "max_relative_error",
// "refit_params", "refit_objective", "refit_converged"}, or {"held_out": 0,
// "requested", "skipped": reason} when the check did not run;
// --law kaplan "params": {"N_c", "D_c", "alpha_N", "alpha_D"};
// --objective mle (chinchilla): "params" are the maximum-likelihood law's,
// plus "objective_kind": "mle", "sigma", "huber_c", "negative_log_likelihood",
// "huber_params" (the approach-3 fit it started from), "mle_converged";
// --law bcrit {"law": "bcrit", "params": {"B_star", "alpha_B"}, "objective",
// "residuals", …}; --law trend {"law": "trend", "params":
// {"doubling_time_months", "doublings_per_year", "intercept_log2"},
// "growth_per_year", "r_squared", …} (+ "intervals": {"doubling_time_months"}
// with --bootstrap); --law envelope {"law": "envelope", "params": {"a", "b"},
// "coefficients", "envelope": [{"compute", "params", "tokens", "loss",
// "run"}], "dropped": {"edge_minima", "too_few_curves"}, …}.
// Every JSON output of fit, optimal and predict carries "provenance" (see
// ProvenanceJson).
// Defined in fit_commands.cc.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "fitting/bootstrap.h"
#include "fitting/chinchilla_fit.h"
#include "fitting/compute_optimal.h"
#include "fitting/extrapolation_check.h"
#include "fitting/isoflop_fit.h"
#include "fitting/kaplan_fit.h"
#include "fitting/power_law.h"

namespace scalelaw::cli {

// The extrapolation check as `fit` ran it: the check, or why it was skipped.
struct ExtrapolationReport {
  int requested = 0;  // --holdout
  std::optional<fitting::ExtrapolationCheck> check;
  std::string skipped;  // reason, when check is empty
};

nlohmann::ordered_json FitJson(const fitting::ChinchillaFitResult& fit,
                               const fitting::ChinchillaBootstrap* bootstrap = nullptr);
nlohmann::ordered_json FitJson(const fitting::PowerLawFitResult& fit);
nlohmann::ordered_json FitJson(const fitting::IsoflopFitResult& fit);
nlohmann::ordered_json FitJson(const fitting::KaplanFitResult& fit);
nlohmann::ordered_json ExtrapolationJson(const ExtrapolationReport& report);

// {"input": path, "sha256": of the file, "options", "code_version", "time":
// ISO 8601 UTC}: what every JSON fit output carries as "provenance".
// NotFound when `input` cannot be read.
absl::StatusOr<nlohmann::ordered_json> ProvenanceJson(const std::string& input,
                                                      nlohmann::ordered_json options);

// {"compute", "params", "tokens", "loss", "tokens_per_param", "method"}.
nlohmann::ordered_json OptimalJson(const fitting::ComputeOptimal& optimal);

// Human-readable, several lines, ending in a newline.
std::string FitTable(const fitting::ChinchillaFitResult& fit,
                     const fitting::ChinchillaBootstrap* bootstrap = nullptr);
std::string FitTable(const fitting::PowerLawFitResult& fit);
std::string FitTable(const fitting::IsoflopFitResult& fit);
std::string FitTable(const fitting::KaplanFitResult& fit);
std::string ExtrapolationTable(const ExtrapolationReport& report);

}  // namespace scalelaw::cli
