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
// "requested", "skipped": reason} when the check did not run; with
// --rollout K also "rollout": {"budgets": K, "n_budgets", "level", "folds":
// [{"rank", "compute", "n_held_out", "n_fitted", "n_sizes", then either
// "skipped": reason or "params", "converged", "objective", "bootstrap":
// {"resamples", "failed"}, "residual_scale", and "runs": [{"id", "params",
// "tokens", "compute", "actual", "predicted", "parameter_interval": [lo,
// hi], "prediction_interval": [lo, hi], "relative_error": (predicted −
// actual) / actual, "inside"}]}], "summary": {"n_predicted", "n_inside",
// "coverage", "median_abs_relative_error", "folds_run", "folds_skipped"}}
// (coverage and the median are null when no fold ran);
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
// "run"}], "dropped": {"edge_minima", "too_few_curves"}, …} (+ "intervals":
// {"a", "b"} with --bootstrap, resampling whole curves).
// `--law isoflop --bootstrap K` adds "intervals": {"a", "b"} and
// "bootstrap": {"resamples", "failed", "level", "unit"}; every bootstrap
// block carries "unit" ("point" or "size"). Inputs read from a sweep (or
// left out by --min-tokens/--exclude-sizes) add "filtered": ["id: reason"].
// Every JSON output of fit, optimal and predict carries "provenance" (see
// ProvenanceJson and SweepProvenanceJson).
//
// The renderers are defined in fit_output.cc; the flags, inputs and fits the
// fit, optimal and predict subcommands share in fit_commands.cc; each
// subcommand in its own file (fit_command.cc, optimal_command.cc,
// predict_command.cc).
#pragma once

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/coordinator_tls.h"
#include "fitting/bootstrap.h"
#include "fitting/chinchilla_fit.h"
#include "fitting/chinchilla_mle.h"
#include "fitting/compute_optimal.h"
#include "fitting/extrapolation_check.h"
#include "fitting/isoflop_fit.h"
#include "fitting/kaplan_fit.h"
#include "fitting/observation.h"
#include "fitting/power_law.h"
#include "fitting/rollout_check.h"

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
nlohmann::ordered_json FitJson(const fitting::IsoflopFitResult& fit,
                               const fitting::IsoflopBootstrap* bootstrap = nullptr);
nlohmann::ordered_json FitJson(const fitting::KaplanFitResult& fit);
nlohmann::ordered_json ExtrapolationJson(const ExtrapolationReport& report);
nlohmann::ordered_json RolloutJson(const fitting::RolloutCheck& check);

// {"input": path, "sha256": of the file, "options", "code_version", "time":
// ISO 8601 UTC}: what every JSON fit output carries as "provenance".
// NotFound when `input` cannot be read.
absl::StatusOr<nlohmann::ordered_json> ProvenanceJson(const std::string& input,
                                                      nlohmann::ordered_json options);

// {"input": "sweep:ID", "source": db path or coordinator address,
// "point_ids": the trial ids fitted, "options", "code_version", "time"}: a
// sweep has no file to hash, so the points themselves are recorded.
nlohmann::ordered_json SweepProvenanceJson(const std::string& sweep_id, const std::string& source,
                                           const std::vector<std::string>& point_ids,
                                           nlohmann::ordered_json options);

// {"compute", "params", "tokens", "loss", "tokens_per_param", "method"}.
nlohmann::ordered_json OptimalJson(const fitting::ComputeOptimal& optimal);

// Human-readable, several lines, ending in a newline.
std::string FitTable(const fitting::ChinchillaFitResult& fit,
                     const fitting::ChinchillaBootstrap* bootstrap = nullptr);
std::string FitTable(const fitting::PowerLawFitResult& fit);
std::string FitTable(const fitting::IsoflopFitResult& fit,
                     const fitting::IsoflopBootstrap* bootstrap = nullptr);
std::string FitTable(const fitting::KaplanFitResult& fit);
std::string ExtrapolationTable(const ExtrapolationReport& report);
std::string RolloutTable(const fitting::RolloutCheck& check);

// Pieces of the above that the subcommands use directly.
nlohmann::ordered_json IntervalJson(const fitting::Interval& interval);
nlohmann::ordered_json ParamsJson(const fitting::ChinchillaParams& params);
nlohmann::ordered_json ResidualsJson(const std::vector<std::string>& ids,
                                     const std::vector<double>& residuals);
std::string ExcludedText(const std::vector<std::string>& excluded);
std::string OptimalTable(const std::vector<fitting::ComputeOptimal>& rows);
// Overlays the MLE on approach 3's JSON: "params" become the MLE's, the
// Huber fit that started it moves to "huber_params".
void AddMle(const fitting::ChinchillaFitResult& fit, const fitting::ChinchillaMleResult& mle,
            nlohmann::ordered_json* out);
std::string MleTable(const fitting::ChinchillaMleResult& mle);

// ---------------------------------------------------------------------------
// Shared by fit, optimal and predict (fit_commands.cc).

// Flags every fit-backed subcommand shares.
struct FitFlags {
  // Input: a runs CSV, or a sweep in the store (--db) or on a coordinator.
  std::string csv;
  std::string sweep;
  std::string db;
  std::string coordinator;
  ClientTls tls;  // for --coordinator (proto/coordinator_tls.h)
  // Filters: runs left out before fitting, each listed with its reason.
  double min_tokens = 0;
  bool drop_diverged = true;  // sweeps only
  std::vector<std::string> exclude_sizes;
  std::vector<std::string> exclude;
  double huber_delta = 1e-3;
  std::string param_count;
  bool json = false;
  int bootstrap = 0;  // resamples; 0 = no bootstrap
  double level = 0.95;
  uint64_t seed = 0;
  std::string bootstrap_by = "point";  // or "size": resample whole model sizes
  // Chinchilla approach 3's objective: "huber" (sum of Huber terms) or
  // "mle" (Huber density with a fitted scale σ; threshold huber_c·σ).
  std::string objective = "huber";
  double huber_c = 1.345;
};

void AddFitFlags(CLI::App* command, FitFlags* flags);
void AddObjectiveFlags(CLI::App* command, FitFlags* flags);
// The options a fit ran with, as recorded in its provenance.
nlohmann::ordered_json OptionsJson(const FitFlags& flags);

// Prints the error; bad input (a file, a flag, a value) is exit status 2,
// anything else 1. Returns the status it stored in *exit_code.
int FailFit(const absl::Status& status, int* exit_code);

// CLI11 reads doubles through long double, which turns "1e23" into
// 9.999999999999999e22; strtod rounds correctly once.
absl::StatusOr<double> ParsePositive(const std::string& flag, const std::string& text);

// The runs a fit reads, after the filters, and where they came from.
struct RunsInput {
  std::vector<fitting::Observation> runs;
  std::vector<std::string> filtered;  // "id: reason", left out by a filter
};

// Reads --csv, or the trials of --sweep from --db or --coordinator, and
// applies --min-tokens, --exclude-sizes and (sweeps) --drop-diverged.
// InvalidArgument for a missing or conflicting input flag.
absl::StatusOr<RunsInput> LoadRuns(const FitFlags& flags);

// Provenance of the input LoadRuns read: ProvenanceJson for a CSV,
// SweepProvenanceJson for a sweep.
absl::StatusOr<nlohmann::ordered_json> InputProvenanceJson(const FitFlags& flags,
                                                           const RunsInput& input,
                                                           nlohmann::ordered_json options);

// The Chinchilla fit plus, when --bootstrap asks for one, its bootstrap.
struct ChinchillaFitWithBootstrap {
  RunsInput input;
  fitting::ChinchillaFitOptions options;  // as fitted
  fitting::ChinchillaFitResult fit;
  std::optional<fitting::ChinchillaBootstrap> bootstrap;
  // With --objective mle: the maximum-likelihood law, started from `fit`.
  std::optional<fitting::ChinchillaMleResult> mle;

  const fitting::ChinchillaBootstrap* bootstrap_or_null() const {
    return bootstrap.has_value() ? &*bootstrap : nullptr;
  }
  // The law the answers come from: the MLE when one was asked for.
  const fitting::ChinchillaParams& law() const {
    return mle.has_value() ? mle->params : fit.params;
  }
};

absl::StatusOr<ChinchillaFitWithBootstrap> FitChinchillaFromFlags(const FitFlags& flags);

void AddFitCommand(CLI::App& app, int* exit_code);      // fit_command.cc
void AddOptimalCommand(CLI::App& app, int* exit_code);  // optimal_command.cc
void AddPredictCommand(CLI::App& app, int* exit_code);  // predict_command.cc

}  // namespace scalelaw::cli
