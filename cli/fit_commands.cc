// What `scalelaw fit`, `optimal` and `predict` share: their flags, reading
// runs from a CSV or a sweep, the filters, and the Chinchilla fit with its
// bootstrap. Flag parsing and wiring only; the science lives in fitting/.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/coordinator_client.h"
#include "cli/fit_output.h"
#include "cli/sweep_source.h"
#include "common/limits.h"
#include "coordinator/sweep_fit.h"
#include "fitting/bootstrap.h"
#include "fitting/chinchilla_fit.h"
#include "fitting/chinchilla_mle.h"
#include "fitting/runs_csv.h"
#include "fitting/runs_json.h"

namespace scalelaw::cli {

using json = nlohmann::ordered_json;

void AddFitFlags(CLI::App* command, FitFlags* flags) {
  command->add_option("--csv", flags->csv,
                      "runs CSV: header with params (or model_size, N), tokens (or "
                      "training_tokens, D), loss; optional flops (or compute), id");
  command->add_option("--sweep", flags->sweep,
                      "fit a sweep's ended trials instead of a CSV (with --db or --coordinator)");
  command->add_option("--db", flags->db, "with --sweep: the coordinator's store (SQLite file)");
  command->add_option("--coordinator", flags->coordinator,
                      "with --sweep: read the trials from this coordinator (default "
                      "$SCALELAW_COORDINATOR or 127.0.0.1:50051 when --db is not given)");
  AddCoordinatorTlsFlags(*command, &flags->tls);
  command
      ->add_option("--min-tokens", flags->min_tokens,
                   "leave out runs trained on fewer tokens (listed with the reason)")
      ->check(CLI::NonNegativeNumber);
  command->add_flag("--drop-diverged,!--keep-diverged", flags->drop_diverged,
                    "with --sweep: leave out DIVERGED trials (default), or fit those that "
                    "reported a finite loss");
  command
      ->add_option("--exclude-sizes", flags->exclude_sizes,
                   "model sizes (parameters) to leave out; a run within 5% of one is dropped")
      ->delimiter(',');
  command->add_option("--exclude", flags->exclude, "run ids to leave out of the fit")
      ->delimiter(',');
  command
      ->add_option("--huber-delta", flags->huber_delta,
                   "delta of the Huber penalty on log-loss residuals")
      ->capture_default_str();
  command->add_option("--param-count", flags->param_count,
                      "which parameter count N is: for a CSV, a label printed with the fit "
                      "(total, non_embedding); for --sweep, which count to fit (default total)");
  command->add_flag("--json", flags->json, "print one JSON object instead of a table");
  command
      ->add_option("--bootstrap", flags->bootstrap,
                   "resample the runs K times and report percentile intervals (chinchilla, "
                   "isoflop, trend)")
      ->check(CLI::Range(0, static_cast<int>(limits::kMaxBootstrapResamples)));
  command
      ->add_option("--bootstrap-by", flags->bootstrap_by,
                   "chinchilla: resample single runs (point) or whole model sizes (size, a "
                   "cluster bootstrap: runs of one size share their errors)")
      ->check(CLI::IsMember({"point", "size"}))
      ->capture_default_str();
  command->add_option("--level", flags->level, "confidence level of bootstrap intervals")
      ->capture_default_str();
  command->add_option("--seed", flags->seed, "seed of the bootstrap's resampling")
      ->capture_default_str();
}

void AddObjectiveFlags(CLI::App* command, FitFlags* flags) {
  command
      ->add_option("--objective", flags->objective,
                   "chinchilla objective: huber (sum of Huber terms, the paper's) or mle "
                   "(maximum likelihood under a Huber density with a fitted residual scale "
                   "sigma, which gives prediction intervals)")
      ->check(CLI::IsMember({"huber", "mle"}))
      ->capture_default_str();
  command
      ->add_option("--huber-c", flags->huber_c,
                   "with --objective mle: where the density turns from Gaussian to "
                   "exponential, in units of sigma")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

json OptionsJson(const FitFlags& flags) {
  json options = {{"exclude", flags.exclude},
                  {"huber_delta", flags.huber_delta},
                  {"param_count", flags.param_count},
                  {"bootstrap", flags.bootstrap},
                  {"bootstrap_by", flags.bootstrap_by},
                  {"level", flags.level},
                  {"seed", flags.seed},
                  {"objective", flags.objective},
                  {"huber_c", flags.huber_c},
                  {"min_tokens", flags.min_tokens},
                  {"exclude_sizes", flags.exclude_sizes}};
  if (!flags.sweep.empty()) options["drop_diverged"] = flags.drop_diverged;
  return options;
}

int FailFit(const absl::Status& status, int* exit_code) {
  std::cerr << "error: " << status.message() << "\n";
  const bool bad_input = status.code() == absl::StatusCode::kInvalidArgument ||
                         status.code() == absl::StatusCode::kNotFound ||
                         status.code() == absl::StatusCode::kOutOfRange;
  *exit_code = bad_input ? 2 : 1;
  return *exit_code;
}

absl::StatusOr<double> ParsePositive(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value) || value <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": expected a positive number, got '", text, "'"));
  }
  return value;
}

namespace {

absl::StatusOr<std::vector<v1::Trial>> ReadTrials(const FitFlags& flags) {
  // The trials come from the store or the coordinator; the fit runs here, so
  // every law, filter and bootstrap option works the same with both.
  absl::StatusOr<SweepData> data =
      LoadSweep(flags.sweep, SweepSource{flags.db, flags.coordinator, "", flags.tls}, false);
  if (!data.ok()) return data.status();
  return std::move(data->trials);
}

}  // namespace

absl::StatusOr<RunsInput> LoadRuns(const FitFlags& flags) {
  if (flags.csv.empty() == flags.sweep.empty()) {
    return absl::InvalidArgumentError("input: give exactly one of --csv FILE or --sweep ID");
  }
  if (flags.sweep.empty() && (!flags.db.empty() || !flags.coordinator.empty())) {
    return absl::InvalidArgumentError("--db and --coordinator go with --sweep, not --csv");
  }
  if (!flags.db.empty() && !flags.coordinator.empty()) {
    return absl::InvalidArgumentError("--sweep: give --db or --coordinator, not both");
  }
  std::vector<double> sizes;
  for (const std::string& text : flags.exclude_sizes) {
    absl::StatusOr<double> size = ParsePositive("--exclude-sizes", text);
    if (!size.ok()) return size.status();
    sizes.push_back(*size);
  }
  RunsInput input;
  if (!flags.sweep.empty()) {
    absl::StatusOr<std::vector<v1::Trial>> trials = ReadTrials(flags);
    if (!trials.ok()) return trials.status();
    coordinator::TrialFilter filter;
    filter.min_tokens = flags.min_tokens;
    filter.drop_diverged = flags.drop_diverged;
    filter.exclude_sizes = sizes;
    if (!flags.param_count.empty()) filter.param_count = flags.param_count;
    absl::StatusOr<coordinator::SweepObservations> points =
        coordinator::ObservationsFromTrials(*trials, filter);
    if (!points.ok()) return points.status();
    input.runs = std::move(points->observations);
    input.filtered = std::move(points->excluded);
    return input;
  }
  absl::StatusOr<std::vector<fitting::Observation>> runs = fitting::ReadRuns(flags.csv);
  if (!runs.ok()) return runs.status();
  // The same rules as coordinator::ObservationsFromTrials, on CSV rows.
  for (fitting::Observation& run : *runs) {
    if (run.tokens < flags.min_tokens) {
      input.filtered.push_back(absl::StrCat(run.id, ": too few tokens (", run.tokens,
                                            " < min_tokens ", flags.min_tokens, ")"));
      continue;
    }
    bool excluded = false;
    for (double size : sizes) {
      if (coordinator::MatchesExcludedSize(run.params, size)) {
        input.filtered.push_back(
            absl::StrCat(run.id, ": size excluded by filter (", size, " parameters)"));
        excluded = true;
        break;
      }
    }
    if (!excluded) input.runs.push_back(std::move(run));
  }
  return input;
}

absl::StatusOr<json> InputProvenanceJson(const FitFlags& flags, const RunsInput& input,
                                         json options) {
  if (flags.sweep.empty()) return ProvenanceJson(flags.csv, std::move(options));
  std::vector<std::string> ids;
  for (const fitting::Observation& run : input.runs) ids.push_back(run.id);
  return SweepProvenanceJson(
      flags.sweep,
      !flags.db.empty()
          ? absl::StrCat("db:", flags.db)
          : absl::StrCat("coordinator:", flags.coordinator.empty() ? DefaultCoordinatorAddress()
                                                                   : flags.coordinator),
      ids, std::move(options));
}

absl::StatusOr<ChinchillaFitWithBootstrap> FitChinchillaFromFlags(const FitFlags& flags) {
  absl::StatusOr<RunsInput> input = LoadRuns(flags);
  if (!input.ok()) return input.status();
  ChinchillaFitWithBootstrap out;
  out.input = *std::move(input);
  out.options.exclude_ids = flags.exclude;
  out.options.huber_delta = flags.huber_delta;
  out.options.param_count =
      flags.param_count.empty() && !flags.sweep.empty() ? "total" : flags.param_count;
  absl::StatusOr<fitting::ChinchillaFitResult> fit =
      fitting::FitChinchilla(out.input.runs, out.options);
  if (!fit.ok()) return fit.status();
  out.fit = *std::move(fit);
  if (flags.objective == "mle") {
    if (flags.bootstrap > 0) {
      return absl::InvalidArgumentError(
          "--bootstrap with --objective mle: bootstrap intervals are only computed for the "
          "huber objective so far");
    }
    fitting::ChinchillaMleOptions mle_options;
    mle_options.huber_c = flags.huber_c;
    absl::StatusOr<fitting::ChinchillaMleResult> mle =
        fitting::FitChinchillaMle(out.input.runs, out.fit, out.options, mle_options);
    if (!mle.ok()) return mle.status();
    out.mle = *std::move(mle);
  }
  if (flags.bootstrap > 0) {
    fitting::BootstrapOptions bootstrap_options;
    bootstrap_options.resamples = flags.bootstrap;
    bootstrap_options.level = flags.level;
    bootstrap_options.seed = flags.seed;
    absl::StatusOr<fitting::ResampleUnit> unit = fitting::ParseResampleUnit(flags.bootstrap_by);
    if (!unit.ok()) return unit.status();
    bootstrap_options.unit = *unit;
    absl::StatusOr<fitting::ChinchillaBootstrap> bootstrap =
        fitting::BootstrapChinchilla(out.input.runs, out.fit, out.options, bootstrap_options);
    if (!bootstrap.ok()) return bootstrap.status();
    out.bootstrap = *std::move(bootstrap);
  }
  return out;
}

void AddFitCommands(CLI::App& app, int* exit_code) {
  AddFitCommand(app, exit_code);
  AddOptimalCommand(app, exit_code);
  AddPredictCommand(app, exit_code);
}

}  // namespace scalelaw::cli
