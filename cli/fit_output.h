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
// Defined in fit_commands.cc.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "fitting/bootstrap.h"
#include "fitting/chinchilla_fit.h"
#include "fitting/compute_optimal.h"
#include "fitting/isoflop_fit.h"
#include "fitting/power_law.h"

namespace scalelaw::cli {

nlohmann::ordered_json FitJson(const fitting::ChinchillaFitResult& fit,
                               const fitting::ChinchillaBootstrap* bootstrap = nullptr);
nlohmann::ordered_json FitJson(const fitting::PowerLawFitResult& fit);
nlohmann::ordered_json FitJson(const fitting::IsoflopFitResult& fit);

// {"compute", "params", "tokens", "loss", "tokens_per_param", "method"}.
nlohmann::ordered_json OptimalJson(const fitting::ComputeOptimal& optimal);

// Human-readable, several lines, ending in a newline.
std::string FitTable(const fitting::ChinchillaFitResult& fit,
                     const fitting::ChinchillaBootstrap* bootstrap = nullptr);
std::string FitTable(const fitting::PowerLawFitResult& fit);
std::string FitTable(const fitting::IsoflopFitResult& fit);

}  // namespace scalelaw::cli
