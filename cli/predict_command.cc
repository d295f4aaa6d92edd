// `scalelaw predict`: the loss of N parameters trained on D tokens from a
// Chinchilla fit, with bootstrap and (MLE) prediction intervals.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/fit_output.h"
#include "fitting/bootstrap.h"
#include "fitting/compute_optimal.h"
#include "fitting/prediction_interval.h"

namespace scalelaw::cli {

using json = nlohmann::ordered_json;

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
      "  scalelaw predict --params 7e9 --tokens 1.4e12 --csv runs.csv --json\n"
      "  scalelaw predict --params 7e9 --tokens 1.4e12 --csv runs.csv --bootstrap 200  # + "
      "prediction interval");
  command->add_option("--params", *params_text, "model parameters N")->required();
  command->add_option("--tokens", *tokens_text, "training tokens D")->required();
  AddFitFlags(command, flags.get());
  AddObjectiveFlags(command, flags.get());
  command->callback([flags, params_text, tokens_text, exit_code] {
    const absl::StatusOr<double> params = ParsePositive("--params", *params_text);
    if (!params.ok()) return (void)FailFit(params.status(), exit_code);
    const absl::StatusOr<double> tokens = ParsePositive("--tokens", *tokens_text);
    if (!tokens.ok()) return (void)FailFit(tokens.status(), exit_code);
    const absl::StatusOr<ChinchillaFitWithBootstrap> fit = FitChinchillaFromFlags(*flags);
    if (!fit.ok()) return (void)FailFit(fit.status(), exit_code);
    const double loss = fit->law().Loss(*params, *tokens);
    // With the MLE, the spread of a new run around the law (not the law's
    // own uncertainty, which is the bootstrap's).
    std::optional<fitting::Interval> prediction;
    if (fit->mle.has_value())
      prediction = fit->mle->PredictionInterval(*params, *tokens, flags->level);
    std::optional<fitting::Interval> interval;
    // With a bootstrap (never with the MLE, which FitChinchillaFromFlags
    // refuses): where one new run should land, the law's uncertainty plus
    // the fit's residual scatter. `interval` alone is only where the law's
    // mean lies, and narrows to nothing as runs are added.
    std::optional<fitting::LossPrediction> bootstrap_prediction;
    if (fit->bootstrap.has_value()) {
      interval = fitting::DerivedInterval(
          *fit->bootstrap,
          [&](const fitting::ChinchillaParams& law) { return law.Loss(*params, *tokens); });
      bootstrap_prediction = fitting::PredictLoss(fit->fit, *fit->bootstrap, *params, *tokens);
    }
    if (flags->json) {
      json out = {{"params", *params}, {"tokens", *tokens}, {"loss", loss}};
      if (interval.has_value()) out["intervals"] = {{"loss", IntervalJson(*interval)}};
      if (bootstrap_prediction.has_value()) {
        out["prediction_interval"] = IntervalJson(bootstrap_prediction->prediction_interval);
        out["residual_scale"] = bootstrap_prediction->residual_scale;
        out["level"] = bootstrap_prediction->level;
      }
      if (prediction.has_value()) {
        out["sigma"] = fit->mle->sigma;
        out["prediction_interval"] = {{"loss", IntervalJson(*prediction)}, {"level", flags->level}};
      }
      json options = OptionsJson(*flags);
      options["params"] = *params;
      options["tokens"] = *tokens;
      absl::StatusOr<json> provenance = InputProvenanceJson(*flags, fit->input, std::move(options));
      if (!provenance.ok()) return (void)FailFit(provenance.status(), exit_code);
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
    if (bootstrap_prediction.has_value()) {
      const fitting::LossPrediction& p = *bootstrap_prediction;
      std::cout << absl::StrFormat(
          "%g%% intervals: parameter [%.5f, %.5f] (the law's uncertainty alone); prediction "
          "[%.5f, %.5f] (law uncertainty plus the fit's residual scatter, residual scale "
          "%.4g in log loss: where one new run should land)\n",
          100 * p.level, p.parameter_interval.lo, p.parameter_interval.hi, p.prediction_interval.lo,
          p.prediction_interval.hi, p.residual_scale);
    }
  });
}

}  // namespace scalelaw::cli
