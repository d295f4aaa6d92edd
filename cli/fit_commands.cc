// `scalelaw fit`, `scalelaw optimal`, `scalelaw predict`: read runs from a
// CSV, fit with scalelaw::fitting, print a table or JSON. Flag parsing and
// formatting only; the science lives in fitting/.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/fit_output.h"
#include "fitting/bootstrap.h"
#include "fitting/chinchilla_fit.h"
#include "fitting/chinchilla_mle.h"
#include "fitting/compute_optimal.h"
#include "fitting/critical_batch_fit.h"
#include "fitting/envelope_fit.h"
#include "fitting/extrapolation_check.h"
#include "fitting/isoflop_fit.h"
#include "fitting/kaplan_fit.h"
#include "fitting/power_law.h"
#include "fitting/provenance.h"
#include "fitting/runs_csv.h"
#include "fitting/trend_fit.h"

namespace scalelaw::cli {
namespace {

using json = nlohmann::ordered_json;

// Flags every fit-backed subcommand shares.
struct FitFlags {
  std::string csv;
  std::vector<std::string> exclude;
  double huber_delta = 1e-3;
  std::string param_count;
  bool json = false;
  int bootstrap = 0;  // resamples; 0 = no bootstrap
  double level = 0.95;
  uint64_t seed = 0;
  // Chinchilla approach 3's objective: "huber" (sum of Huber terms) or
  // "mle" (Huber density with a fitted scale σ; threshold huber_c·σ).
  std::string objective = "huber";
  double huber_c = 1.345;
};

void AddFitFlags(CLI::App* command, FitFlags* flags) {
  command
      ->add_option("--csv", flags->csv,
                   "runs CSV: header with params (or model_size, N), tokens (or "
                   "training_tokens, D), loss; optional flops (or compute), id")
      ->required();
  command->add_option("--exclude", flags->exclude, "run ids to leave out of the fit")
      ->delimiter(',');
  command
      ->add_option("--huber-delta", flags->huber_delta,
                   "delta of the Huber penalty on log-loss residuals")
      ->capture_default_str();
  command->add_option("--param-count", flags->param_count,
                      "which parameter count the params column holds (total, "
                      "non_embedding); printed with the fit");
  command->add_flag("--json", flags->json, "print one JSON object instead of a table");
  command->add_option("--bootstrap", flags->bootstrap,
                      "resample the runs K times and report percentile intervals (chinchilla)");
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

// The options a fit ran with, as recorded in its provenance.
json OptionsJson(const FitFlags& flags) {
  return {{"exclude", flags.exclude},
          {"huber_delta", flags.huber_delta},
          {"param_count", flags.param_count},
          {"bootstrap", flags.bootstrap},
          {"level", flags.level},
          {"seed", flags.seed},
          {"objective", flags.objective},
          {"huber_c", flags.huber_c}};
}

// The fit plus, when --bootstrap asks for one, its bootstrap.
struct ChinchillaFitWithBootstrap {
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

// Bad input (a file, a flag, a value) is exit status 2; anything else 1.
int Fail(const absl::Status& status, int* exit_code) {
  std::cerr << "error: " << status.message() << "\n";
  const bool bad_input = status.code() == absl::StatusCode::kInvalidArgument ||
                         status.code() == absl::StatusCode::kNotFound ||
                         status.code() == absl::StatusCode::kOutOfRange;
  *exit_code = bad_input ? 2 : 1;
  return *exit_code;
}

absl::StatusOr<ChinchillaFitWithBootstrap> FitChinchillaFromCsv(const FitFlags& flags) {
  absl::StatusOr<std::vector<fitting::Observation>> runs = fitting::ReadRunsCsv(flags.csv);
  if (!runs.ok()) return runs.status();
  fitting::ChinchillaFitOptions options;
  options.exclude_ids = flags.exclude;
  options.huber_delta = flags.huber_delta;
  options.param_count = flags.param_count;
  absl::StatusOr<fitting::ChinchillaFitResult> fit = fitting::FitChinchilla(*runs, options);
  if (!fit.ok()) return fit.status();
  ChinchillaFitWithBootstrap out{*std::move(fit), std::nullopt, std::nullopt};
  if (flags.objective == "mle") {
    if (flags.bootstrap > 0) {
      return absl::InvalidArgumentError(
          "--bootstrap with --objective mle: bootstrap intervals are only computed for the "
          "huber objective so far");
    }
    fitting::ChinchillaMleOptions mle_options;
    mle_options.huber_c = flags.huber_c;
    absl::StatusOr<fitting::ChinchillaMleResult> mle =
        fitting::FitChinchillaMle(*runs, out.fit, options, mle_options);
    if (!mle.ok()) return mle.status();
    out.mle = *std::move(mle);
  }
  if (flags.bootstrap > 0) {
    fitting::BootstrapOptions bootstrap_options;
    bootstrap_options.resamples = flags.bootstrap;
    bootstrap_options.level = flags.level;
    bootstrap_options.seed = flags.seed;
    absl::StatusOr<fitting::ChinchillaBootstrap> bootstrap =
        fitting::BootstrapChinchilla(*runs, out.fit, options, bootstrap_options);
    if (!bootstrap.ok()) return bootstrap.status();
    out.bootstrap = *std::move(bootstrap);
  }
  return out;
}

// CLI11 reads doubles through long double, which turns "1e23" into
// 9.999999999999999e22; strtod rounds correctly once.
absl::StatusOr<double> ParsePositive(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value) || value <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": expected a positive number, got '", text, "'"));
  }
  return value;
}

json IntervalJson(const fitting::Interval& interval) { return {interval.lo, interval.hi}; }

// Percentile interval of f(law) over the bootstrap's laws.
template <typename F>
fitting::Interval DerivedInterval(const fitting::ChinchillaBootstrap& bootstrap, F f) {
  std::vector<double> values;
  for (const fitting::ChinchillaParams& law : bootstrap.samples) values.push_back(f(law));
  return fitting::PercentileInterval(values, bootstrap.level);
}

json ParamsJson(const fitting::ChinchillaParams& params) {
  return {{"E", params.E},
          {"A", params.A},
          {"B", params.B},
          {"alpha", params.alpha},
          {"beta", params.beta}};
}

json ResidualsJson(const std::vector<std::string>& ids, const std::vector<double>& residuals) {
  json out = json::array();
  for (size_t i = 0; i < ids.size(); ++i) {
    out.push_back({{"id", ids[i]}, {"log_residual", residuals[i]}});
  }
  return out;
}

std::string ExcludedText(const std::vector<std::string>& excluded) {
  return excluded.empty() ? "none" : absl::StrJoin(excluded, ", ");
}

std::string OptimalTable(const std::vector<fitting::ComputeOptimal>& rows) {
  std::string out = absl::StrFormat("%-12s %-12s %-12s %-10s %-10s\n", "compute", "params",
                                    "tokens", "loss", "tokens/param");
  for (const fitting::ComputeOptimal& row : rows) {
    absl::StrAppendFormat(&out, "%-12.4g %-12.4g %-12.4g %-10.5f %-10.2f\n", row.compute,
                          row.params, row.tokens, row.loss, row.tokens_per_param);
  }
  return out;
}

// Runs the extrapolation check when `holdout` > 0 and the fit has enough
// points to spare them; otherwise says why it was skipped.
absl::StatusOr<ExtrapolationReport> RunExtrapolationCheck(const FitFlags& flags,
                                                          const fitting::ChinchillaFitResult& fit,
                                                          int holdout) {
  ExtrapolationReport report;
  report.requested = holdout;
  if (holdout == 0) {
    report.skipped = "disabled (--holdout 0)";
    return report;
  }
  if (!fitting::ExtrapolationCheckApplies(fit.n_points, holdout)) {
    report.skipped = absl::StrCat("too few points: ", fit.n_points, " fitted, holding out ",
                                  holdout, " leaves fewer than 5");
    return report;
  }
  absl::StatusOr<std::vector<fitting::Observation>> runs = fitting::ReadRunsCsv(flags.csv);
  if (!runs.ok()) return runs.status();
  fitting::ChinchillaFitOptions options;
  options.exclude_ids = flags.exclude;
  options.huber_delta = flags.huber_delta;
  options.param_count = flags.param_count;
  absl::StatusOr<fitting::ExtrapolationCheck> check =
      fitting::CheckExtrapolation(*runs, options, holdout);
  if (!check.ok()) return check.status();
  report.check = *std::move(check);
  return report;
}

// One fit, rendered both ways; the caller prints one and adds provenance.
struct FitReport {
  json object;
  std::string table;
};

// Overlays the MLE on approach 3's JSON: "params" become the MLE's, the
// Huber fit that started it moves to "huber_params".
void AddMle(const fitting::ChinchillaFitResult& fit, const fitting::ChinchillaMleResult& mle,
            json* out) {
  (*out)["objective_kind"] = "mle";
  (*out)["huber_params"] = ParamsJson(fit.params);
  (*out)["params"] = ParamsJson(mle.params);
  (*out)["sigma"] = mle.sigma;
  (*out)["huber_c"] = mle.huber_c;
  (*out)["negative_log_likelihood"] = mle.negative_log_likelihood;
  (*out)["mle_termination"] = mle.termination;
  (*out)["mle_converged"] = mle.converged;
  (*out)["residuals"] = ResidualsJson(mle.residual_ids, mle.residuals);
}

std::string MleTable(const fitting::ChinchillaMleResult& mle) {
  const fitting::ChinchillaParams& p = mle.params;
  std::string out = absl::StrFormat(
      "maximum likelihood (Huber density, c = %g sigma): E = %.6g, A = %.6g, B = %.6g, "
      "alpha = %.6g, beta = %.6g\n",
      mle.huber_c, p.E, p.A, p.B, p.alpha, p.beta);
  absl::StrAppendFormat(&out,
                        "  sigma       %.6g (residual scale of log loss; 95%% of new runs within "
                        "x/ %.4f of the law)\n",
                        mle.sigma,
                        std::exp(fitting::HuberDensityHalfWidth(mle.huber_c, 0.95) * mle.sigma));
  absl::StrAppendFormat(&out, "  -log lik.   %.12g\n", mle.negative_log_likelihood);
  absl::StrAppendFormat(&out, "  solver      %s after %d iterations\n", mle.termination,
                        mle.iterations);
  return out;
}

absl::StatusOr<FitReport> ChinchillaReport(const FitFlags& flags, int holdout) {
  absl::StatusOr<ChinchillaFitWithBootstrap> fit = FitChinchillaFromCsv(flags);
  if (!fit.ok()) return fit.status();
  absl::StatusOr<ExtrapolationReport> extrapolation =
      RunExtrapolationCheck(flags, fit->fit, holdout);
  if (!extrapolation.ok()) return extrapolation.status();
  FitReport report;
  report.object = FitJson(fit->fit, fit->bootstrap_or_null());
  report.table = FitTable(fit->fit, fit->bootstrap_or_null());
  if (fit->mle.has_value()) {
    AddMle(fit->fit, *fit->mle, &report.object);
    report.table += MleTable(*fit->mle);
  }
  report.object["extrapolation"] = ExtrapolationJson(*extrapolation);
  report.table += ExtrapolationTable(*extrapolation);
  return report;
}

absl::StatusOr<FitReport> KaplanReport(const FitFlags& flags) {
  absl::StatusOr<std::vector<fitting::Observation>> runs = fitting::ReadRunsCsv(flags.csv);
  if (!runs.ok()) return runs.status();
  fitting::KaplanFitOptions options;
  options.exclude_ids = flags.exclude;
  options.huber_delta = flags.huber_delta;
  options.param_count = flags.param_count;
  absl::StatusOr<fitting::KaplanFitResult> fit = fitting::FitKaplan(*runs, options);
  if (!fit.ok()) return fit.status();
  return FitReport{FitJson(*fit), FitTable(*fit)};
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
  absl::StatusOr<std::vector<fitting::Observation>> runs = fitting::ReadRunsCsv(flags.csv);
  if (!runs.ok()) return runs.status();
  fitting::IsoflopFitOptions options;
  options.exclude_ids = flags.exclude;
  absl::StatusOr<fitting::IsoflopFitResult> fit = fitting::FitIsoflop(*runs, options);
  if (!fit.ok()) return fit.status();
  return FitReport{FitJson(*fit), FitTable(*fit)};
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
  absl::StatusOr<std::vector<fitting::Observation>> runs = fitting::ReadRunsCsv(flags.csv);
  if (!runs.ok()) return runs.status();
  fitting::PowerLawFitOptions options;
  options.axis = *axis;
  options.exclude_ids = flags.exclude;
  options.huber_delta = flags.huber_delta;
  options.param_count = flags.param_count;
  absl::StatusOr<fitting::PowerLawFitResult> fit = fitting::FitPowerLaw(*runs, options);
  if (!fit.ok()) return fit.status();
  return FitReport{FitJson(*fit), FitTable(*fit)};
}

void AddFitCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<FitFlags>();
  auto law = std::make_shared<std::string>("chinchilla");
  auto x_axis = std::make_shared<std::string>("params");
  auto holdout = std::make_shared<int>(2);
  auto flop_values = std::make_shared<int>(40);
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
      "  scalelaw fit --csv runs.csv --law power --x compute\n"
      "  scalelaw fit --csv isoflop_runs.csv --law isoflop --json\n"
      "  scalelaw fit --csv runs.csv --bootstrap 200 --level 0.9 --seed 1\n"
      "  scalelaw fit --csv runs.csv --holdout 3          # extrapolation check on 3 runs\n"
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
  command
      ->add_option("--flop-values", *flop_values,
                   "envelope: log-spaced FLOP values at which the lowest-loss size is taken")
      ->check(CLI::Range(3, 100000))
      ->capture_default_str();
  command->add_option("--x", *x_axis, "x of the power law")
      ->check(CLI::IsMember({"params", "tokens", "compute"}))
      ->capture_default_str();
  command->callback([flags, law, x_axis, holdout, flop_values, exit_code] {
    if (flags->bootstrap > 0 && *law != "chinchilla" && *law != "trend") {
      return (void)Fail(absl::InvalidArgumentError(absl::StrCat("--bootstrap: --law ", *law,
                                                                " has no bootstrap intervals yet "
                                                                "(chinchilla and trend do)")),
                        exit_code);
    }
    if (flags->objective != "huber" && *law != "chinchilla") {
      return (void)Fail(absl::InvalidArgumentError("--objective mle: only --law chinchilla"),
                        exit_code);
    }
    json options = OptionsJson(*flags);
    options["law"] = *law;
    absl::StatusOr<FitReport> report = absl::UnknownError("unreachable");
    if (*law == "chinchilla") {
      options["holdout"] = *holdout;
      report = ChinchillaReport(*flags, *holdout);
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
    if (!report.ok()) return (void)Fail(report.status(), exit_code);
    if (!flags->json) {
      std::cout << report->table;
      return;
    }
    absl::StatusOr<json> provenance = ProvenanceJson(flags->csv, std::move(options));
    if (!provenance.ok()) return (void)Fail(provenance.status(), exit_code);
    report->object["provenance"] = *std::move(provenance);
    std::cout << report->object.dump(2) << "\n";
  });
}

void AddOptimalCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<FitFlags>();
  auto budgets = std::make_shared<std::vector<std::string>>();
  auto extra_flops = std::make_shared<double>(0);
  CLI::App* command = app.add_subcommand(
      "optimal",
      "Fit Chinchilla approach 3 to the runs, then give the compute-optimal model "
      "size, tokens and loss for each FLOP budget (C = 6*N*D in closed form, or numerically "
      "with --extra-flops-per-token).");
  command->footer(
      "Examples:\n"
      "  scalelaw optimal --compute 1e21 --csv runs.csv\n"
      "  scalelaw optimal --compute 1e19,1e21,5.76e23 --csv runs.csv --json\n"
      "  scalelaw optimal --compute 1e21 --csv runs.csv --extra-flops-per-token 1.5e9");
  command->add_option("--compute", *budgets, "training FLOP budgets, comma-separated")
      ->delimiter(',')
      ->required();
  command->add_option("--extra-flops-per-token", *extra_flops,
                      "training FLOPs per token beyond 6*N, e.g. the attention term "
                      "6*n_layer*n_ctx*d_model; when set, the optimum is found numerically");
  AddFitFlags(command, flags.get());
  AddObjectiveFlags(command, flags.get());
  command->callback([flags, budgets, extra_flops, exit_code] {
    if (!(*extra_flops >= 0)) {
      return (void)Fail(
          absl::InvalidArgumentError(absl::StrCat(
              "--extra-flops-per-token: expected a non-negative number, got ", *extra_flops)),
          exit_code);
    }
    std::vector<double> computes;
    for (const std::string& text : *budgets) {
      const absl::StatusOr<double> compute = ParsePositive("--compute", text);
      if (!compute.ok()) return (void)Fail(compute.status(), exit_code);
      computes.push_back(*compute);
    }
    const absl::StatusOr<ChinchillaFitWithBootstrap> fit = FitChinchillaFromCsv(*flags);
    if (!fit.ok()) return (void)Fail(fit.status(), exit_code);
    std::vector<fitting::ComputeOptimal> rows;
    for (double budget : computes) {
      const absl::StatusOr<fitting::ComputeOptimal> optimal =
          *extra_flops > 0
              ? fitting::OptimalAllocationNumeric(
                    fit->law(), budget,
                    [extra = *extra_flops](double params) { return 6 * params + extra; })
              : fitting::OptimalAllocation(fit->law(), budget);
      if (!optimal.ok()) return (void)Fail(optimal.status(), exit_code);
      rows.push_back(*optimal);
    }
    if (flags->json) {
      json options = OptionsJson(*flags);
      options["compute"] = computes;
      options["extra_flops_per_token"] = *extra_flops;
      absl::StatusOr<json> provenance = ProvenanceJson(flags->csv, std::move(options));
      if (!provenance.ok()) return (void)Fail(provenance.status(), exit_code);
      json out = json::array();
      for (const fitting::ComputeOptimal& row : rows) {
        json item = OptimalJson(row);
        if (fit->mle.has_value()) item["sigma"] = fit->mle->sigma;
        if (fit->bootstrap.has_value()) {
          // Each resampled law allocates the budget its own way.
          const auto at = [&](auto field) {
            return IntervalJson(DerivedInterval(*fit->bootstrap, [&](const auto& law) {
              return field(*fitting::OptimalAllocation(law, row.compute));
            }));
          };
          item["intervals"] = {
              {"params", at([](const fitting::ComputeOptimal& o) { return o.params; })},
              {"tokens", at([](const fitting::ComputeOptimal& o) { return o.tokens; })},
              {"loss", at([](const fitting::ComputeOptimal& o) { return o.loss; })}};
        }
        item["provenance"] = *provenance;
        out.push_back(item);
      }
      std::cout << (rows.size() == 1 ? out[0] : out).dump(2) << "\n";
      return;
    }
    std::cout << FitTable(fit->fit, fit->bootstrap_or_null())
              << (fit->mle.has_value() ? MleTable(*fit->mle) : std::string())
              << (*extra_flops > 0
                      ? absl::StrFormat(
                            "\ncompute-optimal allocation (C = (6*N + %g)*D, numeric)\n",
                            *extra_flops)
                      : std::string("\ncompute-optimal allocation (C = 6*N*D, closed form)\n"))
              << OptimalTable(rows);
  });
}

void AddPredictCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<FitFlags>();
  auto params_text = std::make_shared<std::string>();
  auto tokens_text = std::make_shared<std::string>();
  CLI::App* command = app.add_subcommand(
      "predict",
      "Fit Chinchilla approach 3 to the runs, then predict the loss of a model of "
      "N parameters trained on D tokens.");
  command->footer(
      "Examples:\n"
      "  scalelaw predict --params 7e9 --tokens 1.4e12 --csv runs.csv\n"
      "  scalelaw predict --params 7e9 --tokens 1.4e12 --csv runs.csv --json");
  command->add_option("--params", *params_text, "model parameters N")->required();
  command->add_option("--tokens", *tokens_text, "training tokens D")->required();
  AddFitFlags(command, flags.get());
  AddObjectiveFlags(command, flags.get());
  command->callback([flags, params_text, tokens_text, exit_code] {
    const absl::StatusOr<double> params = ParsePositive("--params", *params_text);
    if (!params.ok()) return (void)Fail(params.status(), exit_code);
    const absl::StatusOr<double> tokens = ParsePositive("--tokens", *tokens_text);
    if (!tokens.ok()) return (void)Fail(tokens.status(), exit_code);
    const absl::StatusOr<ChinchillaFitWithBootstrap> fit = FitChinchillaFromCsv(*flags);
    if (!fit.ok()) return (void)Fail(fit.status(), exit_code);
    const double loss = fit->law().Loss(*params, *tokens);
    // With the MLE, the spread of a new run around the law (not the law's
    // own uncertainty, which is the bootstrap's).
    std::optional<fitting::Interval> prediction;
    if (fit->mle.has_value())
      prediction = fit->mle->PredictionInterval(*params, *tokens, flags->level);
    std::optional<fitting::Interval> interval;
    if (fit->bootstrap.has_value()) {
      interval = DerivedInterval(*fit->bootstrap, [&](const fitting::ChinchillaParams& law) {
        return law.Loss(*params, *tokens);
      });
    }
    if (flags->json) {
      json out = {{"params", *params}, {"tokens", *tokens}, {"loss", loss}};
      if (interval.has_value()) out["intervals"] = {{"loss", IntervalJson(*interval)}};
      if (prediction.has_value()) {
        out["sigma"] = fit->mle->sigma;
        out["prediction_interval"] = {{"loss", IntervalJson(*prediction)}, {"level", flags->level}};
      }
      json options = OptionsJson(*flags);
      options["params"] = *params;
      options["tokens"] = *tokens;
      absl::StatusOr<json> provenance = ProvenanceJson(flags->csv, std::move(options));
      if (!provenance.ok()) return (void)Fail(provenance.status(), exit_code);
      out["provenance"] = *std::move(provenance);
      std::cout << out.dump(2) << "\n";
      return;
    }
    std::cout << FitTable(fit->fit, fit->bootstrap_or_null())
              << (fit->mle.has_value() ? MleTable(*fit->mle) : std::string())
              << absl::StrFormat("\npredicted loss at N = %.4g, D = %.4g: %.5f", *params, *tokens,
                                 loss);
    if (interval.has_value()) {
      std::cout << absl::StrFormat(" [%.5f, %.5f]", interval->lo, interval->hi);
    }
    if (prediction.has_value()) {
      std::cout << absl::StrFormat("; %g%% of new runs within [%.5f, %.5f] (sigma = %.4g)",
                                   100 * flags->level, prediction->lo, prediction->hi,
                                   fit->mle->sigma);
    }
    std::cout << "\n";
  });
}

}  // namespace

json FitJson(const fitting::ChinchillaFitResult& fit,
             const fitting::ChinchillaBootstrap* bootstrap) {
  json out = {
      {"law", "chinchilla"},
      {"params", ParamsJson(fit.params)},
      {"n_points", fit.n_points},
      {"objective", fit.objective},
      {"termination", fit.termination},
      {"converged", fit.converged},
      {"iterations", fit.iterations},
      {"param_count", fit.param_count},
      {"huber_delta", fit.huber_delta},
      {"n_starts", fit.n_starts},
      {"n_starts_converged", fit.n_starts_converged},
      {"best_start",
       {{"index", fit.best_start_index},
        {"theta", std::vector<double>(fit.best_start.begin(), fit.best_start.end())}}},
      {"excluded", fit.excluded_ids},
      {"residuals", ResidualsJson(fit.residual_ids, fit.residuals)},
  };
  if (bootstrap != nullptr) {
    out["intervals"] = {{"E", IntervalJson(bootstrap->E)},
                        {"A", IntervalJson(bootstrap->A)},
                        {"B", IntervalJson(bootstrap->B)},
                        {"alpha", IntervalJson(bootstrap->alpha)},
                        {"beta", IntervalJson(bootstrap->beta)}};
    out["bootstrap"] = {{"resamples", bootstrap->resamples},
                        {"failed", bootstrap->failed},
                        {"level", bootstrap->level}};
  }
  return out;
}

json FitJson(const fitting::PowerLawFitResult& fit) {
  return {
      {"law", "power"},
      {"x", fitting::PowerLawAxisName(fit.axis)},
      {"params", {{"E", fit.params.E}, {"A", fit.params.A}, {"alpha", fit.params.alpha}}},
      {"n_points", fit.n_points},
      {"objective", fit.objective},
      {"termination", fit.termination},
      {"converged", fit.converged},
      {"iterations", fit.iterations},
      {"param_count", fit.param_count},
      {"huber_delta", fit.huber_delta},
      {"excluded", fit.excluded_ids},
      {"residuals", ResidualsJson(fit.residual_ids, fit.residuals)},
  };
}

json OptimalJson(const fitting::ComputeOptimal& optimal) {
  return {{"compute", optimal.compute},
          {"params", optimal.params},
          {"tokens", optimal.tokens},
          {"loss", optimal.loss},
          {"tokens_per_param", optimal.tokens_per_param},
          {"method", optimal.method}};
}

std::string FitTable(const fitting::ChinchillaFitResult& fit,
                     const fitting::ChinchillaBootstrap* bootstrap) {
  const fitting::ChinchillaParams& p = fit.params;
  std::string out =
      "Chinchilla approach 3 (Hoffmann et al. 2022): L(N, D) = E + A/N^alpha + B/D^beta\n";
  absl::StrAppendFormat(&out, "  points      %d (excluded: %s)\n", fit.n_points,
                        ExcludedText(fit.excluded_ids));
  absl::StrAppendFormat(&out, "  param count %s\n",
                        fit.param_count.empty() ? "as given in the CSV" : fit.param_count);
  const auto row = [&](const char* name, double value, const fitting::Interval* interval) {
    absl::StrAppendFormat(&out, "  %-11s %-12.6g", name, value);
    if (interval != nullptr)
      absl::StrAppendFormat(&out, " [%.6g, %.6g]", interval->lo, interval->hi);
    out += "\n";
  };
  const bool b = bootstrap != nullptr;
  if (b) {
    absl::StrAppendFormat(&out, "  %-11s %-12s  %g%% bootstrap interval (%d resamples)\n", "", "",
                          100 * bootstrap->level, bootstrap->resamples);
  }
  row("E", p.E, b ? &bootstrap->E : nullptr);
  row("A", p.A, b ? &bootstrap->A : nullptr);
  row("B", p.B, b ? &bootstrap->B : nullptr);
  row("alpha", p.alpha, b ? &bootstrap->alpha : nullptr);
  row("beta", p.beta, b ? &bootstrap->beta : nullptr);
  absl::StrAppendFormat(&out, "  N_opt ~ C^%.4f, D_opt ~ C^%.4f\n", p.beta / (p.alpha + p.beta),
                        p.alpha / (p.alpha + p.beta));
  absl::StrAppendFormat(&out, "  objective   %.12g (sum of Huber, delta = %g, log residuals)\n",
                        fit.objective, fit.huber_delta);
  absl::StrAppendFormat(&out,
                        "  solver      %s after %d iterations; start %d of %d won, %d of %d "
                        "starts converged\n",
                        fit.termination, fit.iterations, fit.best_start_index, fit.n_starts,
                        fit.n_starts_converged, fit.n_starts);
  return out;
}

std::string FitTable(const fitting::PowerLawFitResult& fit) {
  const char* x = fitting::PowerLawAxisName(fit.axis);
  std::string out = absl::StrFormat("power law with offset: L(%s) = E + A*%s^-alpha\n", x, x);
  absl::StrAppendFormat(&out, "  points      %d (excluded: %s)\n", fit.n_points,
                        ExcludedText(fit.excluded_ids));
  absl::StrAppendFormat(&out, "  E           %.6g\n", fit.params.E);
  absl::StrAppendFormat(&out, "  A           %.6g\n", fit.params.A);
  absl::StrAppendFormat(&out, "  alpha       %.6g\n", fit.params.alpha);
  absl::StrAppendFormat(&out, "  objective   %.12g (sum of Huber, delta = %g, log residuals)\n",
                        fit.objective, fit.huber_delta);
  absl::StrAppendFormat(&out, "  solver      %s after %d iterations\n", fit.termination,
                        fit.iterations);
  return out;
}

json FitJson(const fitting::IsoflopFitResult& fit) {
  json budgets = json::array();
  for (const fitting::IsoflopBudget& budget : fit.budgets) {
    budgets.push_back({{"compute", budget.compute},
                       {"params_opt", budget.params_opt},
                       {"tokens_opt", budget.tokens_opt},
                       {"loss_opt", budget.loss_opt},
                       {"n_points", budget.n_points},
                       {"interior", budget.interior}});
  }
  return {
      {"law", "isoflop"},
      {"params", {{"a", fit.a}, {"b", fit.b}}},
      {"coefficients", {{"params", fit.params_coefficient}, {"tokens", fit.tokens_coefficient}}},
      {"budgets", budgets},
      {"skipped_budgets", fit.skipped_budgets},
      {"n_points", fit.n_points},
      {"excluded", fit.excluded_ids}};
}

std::string FitTable(const fitting::IsoflopFitResult& fit) {
  std::string out =
      "Chinchilla approach 2 (Hoffmann et al. 2022): IsoFLOP parabolas in log N per budget\n";
  absl::StrAppendFormat(&out, "  points      %d (excluded: %s)\n", fit.n_points,
                        ExcludedText(fit.excluded_ids));
  absl::StrAppendFormat(&out, "  N_opt = %.4g * C^%.4f\n", fit.params_coefficient, fit.a);
  absl::StrAppendFormat(&out, "  D_opt = %.4g * C^%.4f\n", fit.tokens_coefficient, fit.b);
  absl::StrAppendFormat(&out, "  %-12s %-6s %-12s %-12s %-10s\n", "compute", "runs", "params_opt",
                        "tokens_opt", "loss_opt");
  for (const fitting::IsoflopBudget& budget : fit.budgets) {
    absl::StrAppendFormat(&out, "  %-12.4g %-6d %-12.4g %-12.4g %-10.5f%s\n", budget.compute,
                          budget.n_points, budget.params_opt, budget.tokens_opt, budget.loss_opt,
                          budget.interior ? "" : "  (vertex outside the sampled sizes)");
  }
  if (!fit.skipped_budgets.empty()) {
    absl::StrAppendFormat(&out, "  skipped %d budget(s) with < 3 sizes or no minimum\n",
                          fit.skipped_budgets.size());
  }
  return out;
}

absl::StatusOr<json> ProvenanceJson(const std::string& input, json options) {
  absl::StatusOr<std::string> sha256 = fitting::Sha256OfFile(input);
  if (!sha256.ok()) return sha256.status();
  return json{{"input", input},
              {"sha256", *sha256},
              {"options", std::move(options)},
              {"code_version", fitting::CodeVersion()},
              {"time", fitting::Iso8601Utc(std::chrono::system_clock::now())}};
}

json ExtrapolationJson(const ExtrapolationReport& report) {
  if (!report.check.has_value()) {
    return {{"held_out", 0}, {"requested", report.requested}, {"skipped", report.skipped}};
  }
  const fitting::ExtrapolationCheck& check = *report.check;
  json points = json::array();
  for (const fitting::ExtrapolationPoint& point : check.points) {
    points.push_back({{"id", point.id},
                      {"compute", point.compute},
                      {"actual", point.actual},
                      {"predicted", point.predicted},
                      {"relative_error", point.relative_error}});
  }
  return {{"held_out", check.held_out},
          {"points", points},
          {"max_relative_error", check.max_relative_error},
          {"refit_params", ParamsJson(check.refit.params)},
          {"refit_objective", check.refit.objective},
          {"refit_converged", check.refit.converged}};
}

std::string ExtrapolationTable(const ExtrapolationReport& report) {
  if (!report.check.has_value()) {
    return absl::StrCat("extrapolation check: skipped, ", report.skipped, "\n");
  }
  const fitting::ExtrapolationCheck& check = *report.check;
  std::string out = absl::StrFormat(
      "extrapolation check: refit without the %d largest-compute runs (alpha = %.4f, beta = "
      "%.4f), then predict them\n",
      check.held_out, check.refit.params.alpha, check.refit.params.beta);
  absl::StrAppendFormat(&out, "  %-16s %-12s %-10s %-10s %-10s\n", "id", "compute", "actual",
                        "predicted", "rel. error");
  for (const fitting::ExtrapolationPoint& point : check.points) {
    absl::StrAppendFormat(&out, "  %-16s %-12.4g %-10.5f %-10.5f %-10.4f\n", point.id,
                          point.compute, point.actual, point.predicted, point.relative_error);
  }
  absl::StrAppendFormat(&out, "  max relative error %.4f\n", check.max_relative_error);
  return out;
}

json FitJson(const fitting::KaplanFitResult& fit) {
  return {
      {"law", "kaplan"},
      {"params",
       {{"N_c", fit.params.N_c},
        {"D_c", fit.params.D_c},
        {"alpha_N", fit.params.alpha_N},
        {"alpha_D", fit.params.alpha_D}}},
      {"n_points", fit.n_points},
      {"objective", fit.objective},
      {"termination", fit.termination},
      {"converged", fit.converged},
      {"iterations", fit.iterations},
      {"param_count", fit.param_count},
      {"huber_delta", fit.huber_delta},
      {"n_starts", fit.n_starts},
      {"n_starts_converged", fit.n_starts_converged},
      {"best_start", {{"index", fit.best_start_index}}},
      {"excluded", fit.excluded_ids},
      {"residuals", ResidualsJson(fit.residual_ids, fit.residuals)},
  };
}

std::string FitTable(const fitting::KaplanFitResult& fit) {
  std::string out = "Kaplan et al. 2020: L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D\n";
  absl::StrAppendFormat(&out, "  points      %d (excluded: %s)\n", fit.n_points,
                        ExcludedText(fit.excluded_ids));
  absl::StrAppendFormat(&out, "  param count %s\n",
                        fit.param_count.empty() ? "as given in the CSV" : fit.param_count);
  absl::StrAppendFormat(&out, "  N_c         %.6g\n", fit.params.N_c);
  absl::StrAppendFormat(&out, "  D_c         %.6g\n", fit.params.D_c);
  absl::StrAppendFormat(&out, "  alpha_N     %.6g\n", fit.params.alpha_N);
  absl::StrAppendFormat(&out, "  alpha_D     %.6g\n", fit.params.alpha_D);
  absl::StrAppendFormat(&out, "  objective   %.12g (sum of Huber, delta = %g, log residuals)\n",
                        fit.objective, fit.huber_delta);
  absl::StrAppendFormat(&out,
                        "  solver      %s after %d iterations; start %d of %d won, %d of %d "
                        "starts converged\n",
                        fit.termination, fit.iterations, fit.best_start_index, fit.n_starts,
                        fit.n_starts_converged, fit.n_starts);
  return out;
}

void AddFitCommands(CLI::App& app, int* exit_code) {
  AddFitCommand(app, exit_code);
  AddOptimalCommand(app, exit_code);
  AddPredictCommand(app, exit_code);
}

}  // namespace scalelaw::cli
