// `scalelaw fit`: fits one law to runs (a CSV or a sweep) and prints a table
// or JSON, with bootstrap intervals, the extrapolation check, the rollout
// (leave-future-out validation) and provenance.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "cli/fit_output.h"
#include "fitting/bootstrap.h"
#include "fitting/critical_batch_fit.h"
#include "fitting/envelope_fit.h"
#include "fitting/extrapolation_check.h"
#include "fitting/isoflop_fit.h"
#include "fitting/kaplan_fit.h"
#include "fitting/power_law.h"
#include "fitting/rollout_check.h"
#include "fitting/runs_csv.h"
#include "fitting/trend_fit.h"

namespace scalelaw::cli {
namespace {

using json = nlohmann::ordered_json;

// Runs the extrapolation check when `holdout` > 0 and the fit has enough
// points to spare them; otherwise says why it was skipped.
absl::StatusOr<ExtrapolationReport> RunExtrapolationCheck(const ChinchillaFitWithBootstrap& fit,
                                                          int holdout) {
  ExtrapolationReport report;
  report.requested = holdout;
  if (holdout == 0) {
    report.skipped = "disabled (--holdout 0)";
    return report;
  }
  if (!fitting::ExtrapolationCheckApplies(fit.fit.n_points, holdout)) {
    report.skipped = absl::StrCat("too few points: ", fit.fit.n_points, " fitted, holding out ",
                                  holdout, " leaves fewer than 5");
    return report;
  }
  absl::StatusOr<fitting::ExtrapolationCheck> check =
      fitting::CheckExtrapolation(fit.input.runs, fit.options, holdout);
  if (!check.ok()) return check.status();
  report.check = *std::move(check);
  return report;
}

// What --rollout asks for; budgets = 0 means no rollout.
struct RolloutRequest {
  int budgets = 0;
  int resamples = 100;  // per fold: --bootstrap when given
  double level = 0.9;   // --level when given
};

// Runs the rollout on the runs and fit options of the full fit, so its folds
// see the same filters, exclusions, param count and Huber delta.
absl::StatusOr<fitting::RolloutCheck> RunRollout(const FitFlags& flags,
                                                 const ChinchillaFitWithBootstrap& fit,
                                                 const RolloutRequest& request) {
  fitting::RolloutOptions options;
  options.budgets = request.budgets;
  options.fit = fit.options;
  options.bootstrap.resamples = request.resamples;
  options.bootstrap.level = request.level;
  options.bootstrap.seed = flags.seed;
  absl::StatusOr<fitting::ResampleUnit> unit = fitting::ParseResampleUnit(flags.bootstrap_by);
  if (!unit.ok()) return unit.status();
  options.bootstrap.unit = *unit;
  absl::StatusOr<fitting::RolloutCheck> check = fitting::CheckRollout(fit.input.runs, options);
  if (!check.ok()) {
    // The full fit has already accepted the runs and exclusions, so what is
    // left to go wrong is the rollout's own request.
    return absl::Status(check.status().code(),
                        absl::StrCat("--rollout ", request.budgets, ": ",
                                     absl::StripPrefix(check.status().message(), "rollout: ")));
  }
  return check;
}

// One fit, rendered both ways; the caller prints one and adds provenance.
struct FitReport {
  json object;
  std::string table;
  RunsInput input;  // empty for the laws that read their own CSV format
};

absl::StatusOr<FitReport> ChinchillaReport(const FitFlags& flags, int holdout,
                                           const RolloutRequest& rollout) {
  absl::StatusOr<ChinchillaFitWithBootstrap> fit = FitChinchillaFromFlags(flags);
  if (!fit.ok()) return fit.status();
  absl::StatusOr<ExtrapolationReport> extrapolation = RunExtrapolationCheck(*fit, holdout);
  if (!extrapolation.ok()) return extrapolation.status();
  std::optional<fitting::RolloutCheck> rollout_check;
  if (rollout.budgets > 0) {
    absl::StatusOr<fitting::RolloutCheck> check = RunRollout(flags, *fit, rollout);
    if (!check.ok()) return check.status();
    rollout_check = *std::move(check);
  }
  FitReport report;
  report.object = FitJson(fit->fit, fit->bootstrap_or_null());
  report.table = FitTable(fit->fit, fit->bootstrap_or_null());
  if (fit->mle.has_value()) {
    AddMle(fit->fit, *fit->mle, &report.object);
    report.table += MleTable(*fit->mle);
  }
  report.object["extrapolation"] = ExtrapolationJson(*extrapolation);
  report.table += ExtrapolationTable(*extrapolation);
  if (rollout_check.has_value()) {
    report.object["rollout"] = RolloutJson(*rollout_check);
    report.table += RolloutTable(*rollout_check);
  }
  report.input = std::move(fit->input);
  return report;
}

absl::StatusOr<FitReport> KaplanReport(const FitFlags& flags) {
  absl::StatusOr<RunsInput> input = LoadRuns(flags);
  if (!input.ok()) return input.status();
  const std::vector<fitting::Observation>* runs = &input->runs;
  fitting::KaplanFitOptions options;
  options.exclude_ids = flags.exclude;
  options.huber_delta = flags.huber_delta;
  options.param_count = flags.param_count;
  absl::StatusOr<fitting::KaplanFitResult> fit = fitting::FitKaplan(*runs, options);
  if (!fit.ok()) return fit.status();
  return FitReport{FitJson(*fit), FitTable(*fit), *std::move(input)};
}

absl::StatusOr<FitReport> CriticalBatchReport(const FitFlags& flags) {
  absl::StatusOr<std::vector<fitting::NoiseScalePoint>> points =
      fitting::ReadNoiseScaleCsv(flags.csv);
  if (!points.ok()) return points.status();
  fitting::CriticalBatchFitOptions options;
  options.exclude_ids = flags.exclude;
  options.huber_delta = flags.huber_delta;
  absl::StatusOr<fitting::CriticalBatchFitResult> fit = fitting::FitCriticalBatch(*points, options);
  if (!fit.ok()) return fit.status();
  const fitting::CriticalBatchParams& p = fit->params;
  FitReport report;
  report.object = {{"law", "bcrit"},
                   {"params", {{"B_star", p.B_star}, {"alpha_B", p.alpha_B}}},
                   {"n_points", fit->n_points},
                   {"objective", fit->objective},
                   {"termination", fit->termination},
                   {"converged", fit->converged},
                   {"iterations", fit->iterations},
                   {"huber_delta", fit->huber_delta},
                   {"excluded", fit->excluded_ids},
                   {"residuals", ResidualsJson(fit->residual_ids, fit->residuals)}};
  report.table =
      "critical batch size (Kaplan et al. 2020): B_crit(L) = B_star / L^(1/alpha_B), "
      "fitted to noise scales\n";
  absl::StrAppendFormat(&report.table, "  points      %d (excluded: %s)\n", fit->n_points,
                        ExcludedText(fit->excluded_ids));
  absl::StrAppendFormat(&report.table, "  B_star      %.6g tokens\n", p.B_star);
  absl::StrAppendFormat(&report.table, "  alpha_B     %.6g\n", p.alpha_B);
  absl::StrAppendFormat(&report.table,
                        "  objective   %.12g (sum of Huber, delta = %g, log residuals)\n",
                        fit->objective, fit->huber_delta);
  absl::StrAppendFormat(&report.table, "  solver      %s after %d iterations\n", fit->termination,
                        fit->iterations);
  return report;
}

absl::StatusOr<FitReport> TrendReport(const FitFlags& flags) {
  absl::StatusOr<std::vector<fitting::TrendPoint>> points = fitting::ReadTrendCsv(flags.csv);
  if (!points.ok()) return points.status();
  fitting::TrendFitOptions options;
  options.bootstrap = flags.bootstrap;
  options.level = flags.level;
  options.seed = flags.seed;
  absl::StatusOr<fitting::TrendFitResult> fit = fitting::FitTrend(*points, options);
  if (!fit.ok()) return fit.status();
  FitReport report;
  report.object = {{"law", "trend"},
                   {"params",
                    {{"doubling_time_months", fit->doubling_time_months},
                     {"doublings_per_year", fit->slope},
                     {"intercept_log2", fit->intercept}}},
                   {"growth_per_year", fit->growth_per_year},
                   {"r_squared", fit->r_squared},
                   {"n_points", fit->n_points},
                   {"first_year", fit->first_year},
                   {"last_year", fit->last_year}};
  report.table =
      "exponential trend: log2(compute) = intercept + doublings_per_year * year (least "
      "squares)\n";
  absl::StrAppendFormat(&report.table, "  points      %d, %.2f to %.2f\n", fit->n_points,
                        fit->first_year, fit->last_year);
  absl::StrAppendFormat(&report.table, "  doubling    every %.4g months",
                        fit->doubling_time_months);
  if (fit->has_interval) {
    report.object["intervals"] = {
        {"doubling_time_months", IntervalJson(fit->doubling_time_interval)}};
    report.object["bootstrap"] = {
        {"resamples", fit->resamples}, {"failed", fit->failed}, {"level", fit->level}};
    absl::StrAppendFormat(&report.table, " [%.4g, %.4g] (%g%% bootstrap, %d resamples)",
                          fit->doubling_time_interval.lo, fit->doubling_time_interval.hi,
                          100 * fit->level, fit->resamples);
  }
  absl::StrAppendFormat(&report.table, "\n  growth      x%.4g per year, R^2 = %.4f\n",
                        fit->growth_per_year, fit->r_squared);
  return report;
}

absl::StatusOr<FitReport> IsoflopReport(const FitFlags& flags) {
  absl::StatusOr<RunsInput> input = LoadRuns(flags);
  if (!input.ok()) return input.status();
  fitting::IsoflopFitOptions options;
  options.exclude_ids = flags.exclude;
  absl::StatusOr<fitting::IsoflopFitResult> fit = fitting::FitIsoflop(input->runs, options);
  if (!fit.ok()) return fit.status();
  std::optional<fitting::IsoflopBootstrap> bootstrap;
  if (flags.bootstrap > 0) {
    // Runs are resampled within their budget, so each resample keeps the
    // design; whole sizes cannot be, a profile needs 3 of them.
    if (flags.bootstrap_by != "point") {
      return absl::InvalidArgumentError(
          "--bootstrap-by size: --law isoflop resamples runs within each budget");
    }
    fitting::BootstrapOptions bootstrap_options;
    bootstrap_options.resamples = flags.bootstrap;
    bootstrap_options.level = flags.level;
    bootstrap_options.seed = flags.seed;
    absl::StatusOr<fitting::IsoflopBootstrap> boot =
        fitting::BootstrapIsoflop(input->runs, options, bootstrap_options);
    if (!boot.ok()) return boot.status();
    bootstrap = *std::move(boot);
  }
  const fitting::IsoflopBootstrap* boot = bootstrap.has_value() ? &*bootstrap : nullptr;
  return FitReport{FitJson(*fit, boot), FitTable(*fit, boot), *std::move(input)};
}

absl::StatusOr<FitReport> EnvelopeReport(const FitFlags& flags, int flop_values) {
  if (!flags.exclude.empty()) {
    return absl::InvalidArgumentError("--exclude: --law envelope takes whole curves as given");
  }
  absl::StatusOr<std::vector<fitting::CurvePoint>> points = fitting::ReadCurvesCsv(flags.csv);
  if (!points.ok()) return points.status();
  fitting::EnvelopeFitOptions options;
  options.n_flop_values = flop_values;
  absl::StatusOr<fitting::EnvelopeFitResult> fit = fitting::FitEnvelope(*points, options);
  if (!fit.ok()) return fit.status();
  std::optional<fitting::EnvelopeBootstrap> bootstrap;
  if (flags.bootstrap > 0) {
    fitting::BootstrapOptions bootstrap_options;
    bootstrap_options.resamples = flags.bootstrap;
    bootstrap_options.level = flags.level;
    bootstrap_options.seed = flags.seed;
    absl::StatusOr<fitting::EnvelopeBootstrap> boot =
        fitting::BootstrapEnvelope(*points, options, bootstrap_options);
    if (!boot.ok()) return boot.status();
    bootstrap = *std::move(boot);
  }
  json envelope = json::array();
  for (const fitting::EnvelopePoint& point : fit->envelope) {
    envelope.push_back({{"compute", point.compute},
                        {"params", point.params},
                        {"tokens", point.tokens},
                        {"loss", point.loss},
                        {"run", point.run}});
  }
  FitReport report;
  report.object = {
      {"law", "envelope"},
      {"params", {{"a", fit->a}, {"b", fit->b}}},
      {"coefficients", {{"params", fit->params_coefficient}, {"tokens", fit->tokens_coefficient}}},
      {"envelope", envelope},
      {"n_curves", fit->n_curves},
      {"n_points", fit->n_points},
      {"n_flop_values", fit->n_flop_values},
      {"dropped",
       {{"edge_minima", fit->n_dropped_edge}, {"too_few_curves", fit->n_too_few_curves}}}};
  report.table =
      "Chinchilla approach 1 (Hoffmann et al. 2022): lowest-loss size per FLOP value across "
      "training curves\n";
  absl::StrAppendFormat(&report.table, "  curves      %d (%d points)\n", fit->n_curves,
                        fit->n_points);
  absl::StrAppendFormat(&report.table, "  N_opt = %.4g * C^%.4f\n", fit->params_coefficient,
                        fit->a);
  absl::StrAppendFormat(&report.table, "  D_opt = %.4g * C^%.4f\n", fit->tokens_coefficient,
                        fit->b);
  if (bootstrap.has_value()) {
    report.object["intervals"] = {{"a", IntervalJson(bootstrap->a)},
                                  {"b", IntervalJson(bootstrap->b)}};
    report.object["bootstrap"] = {{"resamples", bootstrap->resamples},
                                  {"failed", bootstrap->failed},
                                  {"level", bootstrap->level},
                                  {"unit", "curve"}};
    absl::StrAppendFormat(&report.table,
                          "  %g%% bootstrap (%d resamples of whole curves, %d failed): a in "
                          "[%.4f, %.4f], b in [%.4f, %.4f]\n",
                          100 * bootstrap->level, bootstrap->resamples, bootstrap->failed,
                          bootstrap->a.lo, bootstrap->a.hi, bootstrap->b.lo, bootstrap->b.hi);
  }
  absl::StrAppendFormat(&report.table,
                        "  FLOP values %zu of %d used (%d won by the smallest or largest size, %d "
                        "reached by too few curves)\n",
                        fit->envelope.size(), fit->n_flop_values, fit->n_dropped_edge,
                        fit->n_too_few_curves);
  return report;
}

absl::StatusOr<FitReport> PowerLawReport(const FitFlags& flags, const std::string& x_axis) {
  absl::StatusOr<fitting::PowerLawAxis> axis = fitting::ParsePowerLawAxis(x_axis);
  if (!axis.ok()) return axis.status();
  absl::StatusOr<RunsInput> input = LoadRuns(flags);
  if (!input.ok()) return input.status();
  const std::vector<fitting::Observation>* runs = &input->runs;
  fitting::PowerLawFitOptions options;
  options.axis = *axis;
  options.exclude_ids = flags.exclude;
  options.huber_delta = flags.huber_delta;
  options.param_count = flags.param_count;
  absl::StatusOr<fitting::PowerLawFitResult> fit = fitting::FitPowerLaw(*runs, options);
  if (!fit.ok()) return fit.status();
  return FitReport{FitJson(*fit), FitTable(*fit), *std::move(input)};
}

// Reads --rollout and the flags it borrows. Given --rollout must be at least
// 1 (leaving it out is how to skip it), and each fold needs a bootstrap, so
// an explicit --bootstrap must give it at least 2 resamples.
absl::StatusOr<RolloutRequest> ParseRolloutRequest(const CLI::App& command,
                                                   const CLI::Option& rollout_option,
                                                   const FitFlags& flags, const std::string& law,
                                                   int budgets) {
  RolloutRequest request;
  if (rollout_option.count() == 0) return request;
  if (budgets < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--rollout: expected how many of the largest compute budgets to hold out, at least 1, "
        "got ",
        budgets, " (leave the flag out to skip the rollout)"));
  }
  if (law != "chinchilla") {
    return absl::InvalidArgumentError(
        absl::StrCat("--rollout: only --law chinchilla, not --law ", law));
  }
  if (flags.objective != "huber") {
    return absl::InvalidArgumentError(
        "--rollout: its prediction intervals come from the huber fit's bootstrap, not from "
        "--objective mle");
  }
  request.budgets = budgets;
  if (command.get_option("--bootstrap")->count() > 0) {
    if (flags.bootstrap < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("--bootstrap: --rollout bootstraps every fold and needs at least 2 "
                       "resamples, got ",
                       flags.bootstrap));
    }
    request.resamples = flags.bootstrap;
  }
  if (command.get_option("--level")->count() > 0) {
    if (!(flags.level > 0 && flags.level < 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--level: expected a level strictly between 0 and 1, got ", flags.level));
    }
    request.level = flags.level;
  }
  return request;
}

}  // namespace

void AddFitCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<FitFlags>();
  auto law = std::make_shared<std::string>("chinchilla");
  auto x_axis = std::make_shared<std::string>("params");
  auto holdout = std::make_shared<int>(2);
  auto flop_values = std::make_shared<int>(40);
  auto rollout = std::make_shared<int>(0);
  CLI::App* command = app.add_subcommand(
      "fit",
      "Fit a scaling law to finished runs: Chinchilla approach 3, L(N, D) = E + A/N^alpha "
      "+ B/D^beta (Huber on log residuals, 4,500 starts, with an extrapolation check); a "
      "power law L(x) = E + A*x^-alpha; Chinchilla approach 2 (IsoFLOP parabolas) or 1 "
      "(training-curve envelope) giving N_opt ~ C^a, D_opt ~ C^b; the Kaplan L(N, D); the "
      "critical batch size B_crit(L); or a doubling-time trend.");
  command->footer(
      "Examples:\n"
      "  scalelaw fit --csv runs.csv\n"
      "  scalelaw fit --csv runs.csv --law chinchilla --exclude r3,r7 --json\n"
      "  scalelaw fit --sweep SWEEP_ID --db state.db --min-tokens 1e8 --exclude-sizes 1e7\n"
      "  scalelaw fit --sweep SWEEP_ID --coordinator 127.0.0.1:50051 --law isoflop\n"
      "  scalelaw fit --csv runs.csv --bootstrap 1000 --bootstrap-by size\n"
      "  scalelaw fit --csv isoflop_runs.csv --law isoflop --bootstrap 500 --json\n"
      "  scalelaw fit --csv runs.csv --law power --x compute\n"
      "  scalelaw fit --csv isoflop_runs.csv --law isoflop --json\n"
      "  scalelaw fit --csv runs.csv --bootstrap 200 --level 0.9 --seed 1\n"
      "  scalelaw fit --csv runs.csv --holdout 3          # extrapolation check on 3 runs\n"
      "  scalelaw fit --csv runs.csv --rollout 3          # predict each of the 3 largest "
      "budgets from the smaller ones\n"
      "  scalelaw fit --csv runs.csv --objective mle      # adds the residual scale sigma\n"
      "  scalelaw fit --csv runs.csv --law kaplan\n"
      "  scalelaw fit --csv curves.csv --law envelope     # params,tokens,loss[,flops],run\n"
      "  scalelaw fit --csv noise.csv --law bcrit         # loss,noise_scale\n"
      "  scalelaw fit --csv compute.csv --law trend --bootstrap 1000   # date,compute");
  AddFitFlags(command, flags.get());
  AddObjectiveFlags(command, flags.get());
  command
      ->add_option("--law", *law,
                   "law to fit: chinchilla (approach 3), power, isoflop (approach 2), envelope "
                   "(approach 1, from training curves: params, tokens, loss, optional flops "
                   "and run), kaplan, "
                   "bcrit (critical batch size from columns loss, noise_scale), trend "
                   "(doubling time from columns date, compute)")
      ->check(
          CLI::IsMember({"chinchilla", "power", "isoflop", "envelope", "kaplan", "bcrit", "trend"}))
      ->capture_default_str();
  command
      ->add_option("--holdout", *holdout,
                   "extrapolation check (chinchilla): refit without the K largest-compute "
                   "runs and report the relative error of predicting them; 0 disables")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  CLI::Option* rollout_option = command->add_option(
      "--rollout", *rollout,
      "leave-future-out validation (chinchilla): for each of the K largest compute budgets "
      "(runs within 1% of one compute are one budget), fit only the smaller budgets, "
      "bootstrap (--bootstrap resamples, default 100; --level, default 0.9) and predict "
      "its runs with prediction intervals; reports relative errors and coverage");
  command
      ->add_option("--flop-values", *flop_values,
                   "envelope: log-spaced FLOP values at which the lowest-loss size is taken")
      ->check(CLI::Range(3, 100000))
      ->capture_default_str();
  command->add_option("--x", *x_axis, "x of the power law")
      ->check(CLI::IsMember({"params", "tokens", "compute"}))
      ->capture_default_str();
  command->callback([command, rollout_option, flags, law, x_axis, holdout, flop_values, rollout,
                     exit_code] {
    absl::StatusOr<RolloutRequest> rollout_request =
        ParseRolloutRequest(*command, *rollout_option, *flags, *law, *rollout);
    if (!rollout_request.ok()) return (void)FailFit(rollout_request.status(), exit_code);
    if (flags->bootstrap > 0 && *law != "chinchilla" && *law != "trend" && *law != "isoflop" &&
        *law != "envelope") {
      return (void)FailFit(
          absl::InvalidArgumentError(absl::StrCat("--bootstrap: --law ", *law,
                                                  " has no bootstrap intervals yet (chinchilla, "
                                                  "isoflop, envelope and trend do)")),
          exit_code);
    }
    if (flags->bootstrap_by != "point" && *law != "chinchilla") {
      return (void)FailFit(absl::InvalidArgumentError(absl::StrCat(
                               "--bootstrap-by size: only --law chinchilla (isoflop resamples "
                               "within budgets, envelope whole curves)")),
                           exit_code);
    }
    const bool own_format = *law == "envelope" || *law == "bcrit" || *law == "trend";
    if (own_format && (flags->csv.empty() || !flags->sweep.empty())) {
      return (void)FailFit(
          absl::InvalidArgumentError(
              absl::StrCat("--law ", *law, " reads its own CSV format: give --csv, not --sweep")),
          exit_code);
    }
    if (own_format && (flags->min_tokens > 0 || !flags->exclude_sizes.empty())) {
      return (void)FailFit(absl::InvalidArgumentError(absl::StrCat(
                               "--min-tokens/--exclude-sizes: not defined for --law ", *law)),
                           exit_code);
    }
    if (flags->objective != "huber" && *law != "chinchilla") {
      return (void)FailFit(absl::InvalidArgumentError("--objective mle: only --law chinchilla"),
                           exit_code);
    }
    json options = OptionsJson(*flags);
    options["law"] = *law;
    absl::StatusOr<FitReport> report = absl::UnknownError("unreachable");
    if (*law == "chinchilla") {
      options["holdout"] = *holdout;
      if (rollout_request->budgets > 0) {
        options["rollout"] = {{"budgets", rollout_request->budgets},
                              {"resamples", rollout_request->resamples},
                              {"level", rollout_request->level}};
      }
      report = ChinchillaReport(*flags, *holdout, *rollout_request);
    } else if (*law == "kaplan") {
      report = KaplanReport(*flags);
    } else if (*law == "bcrit") {
      report = CriticalBatchReport(*flags);
    } else if (*law == "trend") {
      report = TrendReport(*flags);
    } else if (*law == "isoflop") {
      report = IsoflopReport(*flags);
    } else if (*law == "envelope") {
      options["flop_values"] = *flop_values;
      report = EnvelopeReport(*flags, *flop_values);
    } else {
      options["x"] = *x_axis;
      report = PowerLawReport(*flags, *x_axis);
    }
    if (!report.ok()) return (void)FailFit(report.status(), exit_code);
    if (!report->input.filtered.empty()) {
      report->object["filtered"] = report->input.filtered;
      report->table += absl::StrCat("left out by filters: ", report->input.filtered.size(), "\n");
      for (const std::string& reason : report->input.filtered) {
        report->table += absl::StrCat("  ", reason, "\n");
      }
    }
    if (!flags->json) {
      std::cout << report->table;
      return;
    }
    absl::StatusOr<json> provenance =
        InputProvenanceJson(*flags, report->input, std::move(options));
    if (!provenance.ok()) return (void)FailFit(provenance.status(), exit_code);
    report->object["provenance"] = *std::move(provenance);
    std::cout << report->object.dump(2) << "\n";
  });
}

}  // namespace scalelaw::cli
