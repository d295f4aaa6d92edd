// `scalelaw fit`, `scalelaw optimal`, `scalelaw predict`: read runs from a
// CSV, fit with scalelaw::fitting, print a table or JSON. Flag parsing and
// formatting only; the science lives in fitting/.
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
#include "fitting/compute_optimal.h"
#include "fitting/isoflop_fit.h"
#include "fitting/power_law.h"
#include "fitting/runs_csv.h"

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

// The fit plus, when --bootstrap asks for one, its bootstrap.
struct ChinchillaFitWithBootstrap {
  fitting::ChinchillaFitResult fit;
  std::optional<fitting::ChinchillaBootstrap> bootstrap;

  const fitting::ChinchillaBootstrap* bootstrap_or_null() const {
    return bootstrap.has_value() ? &*bootstrap : nullptr;
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
  ChinchillaFitWithBootstrap out{*std::move(fit), std::nullopt};
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

void AddFitCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<FitFlags>();
  auto law = std::make_shared<std::string>("chinchilla");
  auto x_axis = std::make_shared<std::string>("params");
  CLI::App* command = app.add_subcommand(
      "fit",
      "Fit a scaling law to finished runs: Chinchilla approach 3, L(N, D) = E + A/N^alpha "
      "+ B/D^beta (Huber on log residuals, 4,500 starts); a power law L(x) = E + "
      "A*x^-alpha; or Chinchilla approach 2, IsoFLOP parabolas per budget giving "
      "N_opt ~ C^a, D_opt ~ C^b.");
  command->footer(
      "Examples:\n"
      "  scalelaw fit --csv runs.csv\n"
      "  scalelaw fit --csv runs.csv --law chinchilla --exclude r3,r7 --json\n"
      "  scalelaw fit --csv runs.csv --law power --x compute\n"
      "  scalelaw fit --csv isoflop_runs.csv --law isoflop --json\n"
      "  scalelaw fit --csv runs.csv --bootstrap 200 --level 0.9 --seed 1");
  AddFitFlags(command, flags.get());
  command->add_option("--law", *law, "law to fit")
      ->check(CLI::IsMember({"chinchilla", "power", "isoflop"}))
      ->capture_default_str();
  command->add_option("--x", *x_axis, "x of the power law")
      ->check(CLI::IsMember({"params", "tokens", "compute"}))
      ->capture_default_str();
  command->callback([flags, law, x_axis, exit_code] {
    if (*law == "chinchilla") {
      const absl::StatusOr<ChinchillaFitWithBootstrap> fit = FitChinchillaFromCsv(*flags);
      if (!fit.ok()) return (void)Fail(fit.status(), exit_code);
      std::cout << (flags->json ? FitJson(fit->fit, fit->bootstrap_or_null()).dump(2) + "\n"
                                : FitTable(fit->fit, fit->bootstrap_or_null()));
      return;
    }
    if (flags->bootstrap > 0) {
      return (void)Fail(absl::InvalidArgumentError(
                            "--bootstrap: only --law chinchilla has bootstrap intervals so far"),
                        exit_code);
    }
    if (*law == "isoflop") {
      const absl::StatusOr<std::vector<fitting::Observation>> runs =
          fitting::ReadRunsCsv(flags->csv);
      if (!runs.ok()) return (void)Fail(runs.status(), exit_code);
      fitting::IsoflopFitOptions options;
      options.exclude_ids = flags->exclude;
      const absl::StatusOr<fitting::IsoflopFitResult> fit = fitting::FitIsoflop(*runs, options);
      if (!fit.ok()) return (void)Fail(fit.status(), exit_code);
      std::cout << (flags->json ? FitJson(*fit).dump(2) + "\n" : FitTable(*fit));
      return;
    }
    const absl::StatusOr<fitting::PowerLawAxis> axis = fitting::ParsePowerLawAxis(*x_axis);
    if (!axis.ok()) return (void)Fail(axis.status(), exit_code);
    const absl::StatusOr<std::vector<fitting::Observation>> runs = fitting::ReadRunsCsv(flags->csv);
    if (!runs.ok()) return (void)Fail(runs.status(), exit_code);
    fitting::PowerLawFitOptions options;
    options.axis = *axis;
    options.exclude_ids = flags->exclude;
    options.huber_delta = flags->huber_delta;
    options.param_count = flags->param_count;
    const absl::StatusOr<fitting::PowerLawFitResult> fit = fitting::FitPowerLaw(*runs, options);
    if (!fit.ok()) return (void)Fail(fit.status(), exit_code);
    std::cout << (flags->json ? FitJson(*fit).dump(2) + "\n" : FitTable(*fit));
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
                    fit->fit.params, budget,
                    [extra = *extra_flops](double params) { return 6 * params + extra; })
              : fitting::OptimalAllocation(fit->fit.params, budget);
      if (!optimal.ok()) return (void)Fail(optimal.status(), exit_code);
      rows.push_back(*optimal);
    }
    if (flags->json) {
      json out = json::array();
      for (const fitting::ComputeOptimal& row : rows) {
        json item = OptimalJson(row);
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
        out.push_back(item);
      }
      std::cout << (rows.size() == 1 ? out[0] : out).dump(2) << "\n";
      return;
    }
    std::cout << FitTable(fit->fit, fit->bootstrap_or_null())
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
  command->callback([flags, params_text, tokens_text, exit_code] {
    const absl::StatusOr<double> params = ParsePositive("--params", *params_text);
    if (!params.ok()) return (void)Fail(params.status(), exit_code);
    const absl::StatusOr<double> tokens = ParsePositive("--tokens", *tokens_text);
    if (!tokens.ok()) return (void)Fail(tokens.status(), exit_code);
    const absl::StatusOr<ChinchillaFitWithBootstrap> fit = FitChinchillaFromCsv(*flags);
    if (!fit.ok()) return (void)Fail(fit.status(), exit_code);
    const double loss = fit->fit.params.Loss(*params, *tokens);
    std::optional<fitting::Interval> interval;
    if (fit->bootstrap.has_value()) {
      interval = DerivedInterval(*fit->bootstrap, [&](const fitting::ChinchillaParams& law) {
        return law.Loss(*params, *tokens);
      });
    }
    if (flags->json) {
      json out = {{"params", *params}, {"tokens", *tokens}, {"loss", loss}};
      if (interval.has_value()) out["intervals"] = {{"loss", IntervalJson(*interval)}};
      std::cout << out.dump(2) << "\n";
      return;
    }
    std::cout << FitTable(fit->fit, fit->bootstrap_or_null())
              << absl::StrFormat("\npredicted loss at N = %.4g, D = %.4g: %.5f", *params, *tokens,
                                 loss);
    if (interval.has_value()) {
      std::cout << absl::StrFormat(" [%.5f, %.5f]", interval->lo, interval->hi);
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

void AddFitCommands(CLI::App& app, int* exit_code) {
  AddFitCommand(app, exit_code);
  AddOptimalCommand(app, exit_code);
  AddPredictCommand(app, exit_code);
}

}  // namespace scalelaw::cli
