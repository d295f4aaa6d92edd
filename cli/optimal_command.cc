// `scalelaw optimal`: the compute-optimal model size, tokens and loss for
// each FLOP budget from a Chinchilla fit, with bootstrap intervals; or, for a
// target loss, the least compute that reaches it and its allocation.
#include <cmath>
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

namespace scalelaw::cli {

using json = nlohmann::ordered_json;

void AddOptimalCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<FitFlags>();
  auto budgets = std::make_shared<std::vector<std::string>>();
  auto targets = std::make_shared<std::vector<std::string>>();
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
      "  scalelaw optimal --compute 1e21 --csv runs.csv --extra-flops-per-token 1.5e9\n"
      "  scalelaw optimal --target-loss 2.0 --csv runs.csv --bootstrap 200   # least compute");
  command->add_option("--compute", *budgets, "training FLOP budgets, comma-separated")
      ->delimiter(',');
  command
      ->add_option("--target-loss", *targets,
                   "losses to reach, comma-separated: each gives the least compute "
                   "(C = 6*N*D) that reaches it and the allocation there")
      ->delimiter(',');
  command->add_option("--extra-flops-per-token", *extra_flops,
                      "training FLOPs per token beyond 6*N, e.g. the attention term "
                      "6*n_layer*n_ctx*d_model; when set, the optimum is found numerically");
  AddFitFlags(command, flags.get());
  AddObjectiveFlags(command, flags.get());
  command->callback([flags, budgets, targets, extra_flops, exit_code] {
    if (budgets->empty() == targets->empty()) {
      return (void)FailFit(
          absl::InvalidArgumentError("give either --compute (FLOP budgets) or --target-loss"),
          exit_code);
    }
    if (!targets->empty() && *extra_flops > 0) {
      return (void)FailFit(
          absl::InvalidArgumentError("--target-loss: uses C = 6*N*D; drop --extra-flops-per-token"),
          exit_code);
    }
    if (!(*extra_flops >= 0)) {
      return (void)FailFit(
          absl::InvalidArgumentError(absl::StrCat(
              "--extra-flops-per-token: expected a non-negative number, got ", *extra_flops)),
          exit_code);
    }
    std::vector<double> computes;
    for (const std::string& text : *budgets) {
      const absl::StatusOr<double> compute = ParsePositive("--compute", text);
      if (!compute.ok()) return (void)FailFit(compute.status(), exit_code);
      computes.push_back(*compute);
    }
    std::vector<double> target_losses;
    for (const std::string& text : *targets) {
      const absl::StatusOr<double> loss = ParsePositive("--target-loss", text);
      if (!loss.ok()) return (void)FailFit(loss.status(), exit_code);
      target_losses.push_back(*loss);
    }
    const absl::StatusOr<ChinchillaFitWithBootstrap> fit = FitChinchillaFromFlags(*flags);
    if (!fit.ok()) return (void)FailFit(fit.status(), exit_code);
    // A target loss becomes the least budget that reaches it; the rest of the
    // answer is that budget's allocation.
    for (double loss : target_losses) {
      const absl::StatusOr<double> compute = fitting::MinComputeForLoss(fit->law(), loss);
      if (!compute.ok()) return (void)FailFit(compute.status(), exit_code);
      computes.push_back(*compute);
    }
    // Closed form under C = 6·N·D; numeric when C has the attention term.
    const auto allocate = [extra = *extra_flops](const fitting::ChinchillaParams& law,
                                                 double budget) {
      return extra > 0 ? fitting::OptimalAllocationNumeric(
                             law, budget, [extra](double params) { return 6 * params + extra; })
                       : fitting::OptimalAllocation(law, budget);
    };
    std::vector<fitting::ComputeOptimal> rows;
    for (double budget : computes) {
      const absl::StatusOr<fitting::ComputeOptimal> optimal = allocate(fit->law(), budget);
      if (!optimal.ok()) return (void)FailFit(optimal.status(), exit_code);
      rows.push_back(*optimal);
    }
    // Each resampled law allocates each budget its own way, by the same
    // method as the point answer.
    struct RowIntervals {
      fitting::Interval params, tokens, loss, tokens_per_param;
      std::optional<fitting::Interval> compute;  // for a target loss
    };
    std::vector<RowIntervals> intervals;
    if (fit->bootstrap.has_value()) {
      for (const fitting::ComputeOptimal& row : rows) {
        std::vector<absl::StatusOr<fitting::ComputeOptimal>> per_law;
        for (const fitting::ChinchillaParams& law : fit->bootstrap->samples) {
          per_law.push_back(allocate(law, row.compute));
        }
        const auto at = [&](double fitting::ComputeOptimal::*field) {
          size_t k = 0;
          return fitting::DerivedInterval(*fit->bootstrap, [&](const fitting::ChinchillaParams&) {
            const absl::StatusOr<fitting::ComputeOptimal>& o = per_law[k++];
            return o.ok() ? (*o).*field : std::nan("");
          });
        };
        intervals.push_back({at(&fitting::ComputeOptimal::params),
                             at(&fitting::ComputeOptimal::tokens),
                             at(&fitting::ComputeOptimal::loss),
                             at(&fitting::ComputeOptimal::tokens_per_param), std::nullopt});
      }
      // Each resampled law needs its own least compute for the target.
      for (size_t t = 0; t < target_losses.size(); ++t) {
        intervals[intervals.size() - target_losses.size() + t].compute =
            fitting::DerivedInterval(*fit->bootstrap, [&](const fitting::ChinchillaParams& law) {
              const absl::StatusOr<double> c = fitting::MinComputeForLoss(law, target_losses[t]);
              return c.ok() ? *c : std::nan("");
            });
      }
    }
    if (flags->json) {
      json options = OptionsJson(*flags);
      options["compute"] = computes;
      options["target_loss"] = target_losses;
      options["extra_flops_per_token"] = *extra_flops;
      absl::StatusOr<json> provenance = InputProvenanceJson(*flags, fit->input, std::move(options));
      if (!provenance.ok()) return (void)FailFit(provenance.status(), exit_code);
      json out = json::array();
      for (size_t i = 0; i < rows.size(); ++i) {
        json item = OptimalJson(rows[i]);
        const size_t first_target = rows.size() - target_losses.size();
        if (i >= first_target) item["target_loss"] = target_losses[i - first_target];
        if (fit->mle.has_value()) item["sigma"] = fit->mle->sigma;
        if (!intervals.empty()) {
          item["intervals"] = {{"params", IntervalJson(intervals[i].params)},
                               {"tokens", IntervalJson(intervals[i].tokens)},
                               {"loss", IntervalJson(intervals[i].loss)},
                               {"tokens_per_param", IntervalJson(intervals[i].tokens_per_param)}};
          if (intervals[i].compute.has_value()) {
            item["intervals"]["compute"] = IntervalJson(*intervals[i].compute);
          }
          item["level"] = fit->bootstrap->level;
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
    if (!intervals.empty()) {
      std::cout << absl::StrFormat("%g%% bootstrap intervals (%d resamples by %s):\n",
                                   100 * fit->bootstrap->level, fit->bootstrap->resamples,
                                   fitting::ResampleUnitName(fit->bootstrap->unit));
      for (size_t i = 0; i < rows.size(); ++i) {
        const RowIntervals& r = intervals[i];
        std::cout << absl::StrFormat(
            "  C = %-10.4g params [%.4g, %.4g]  tokens [%.4g, %.4g]  loss [%.5f, %.5f]  "
            "tokens/param [%.2f, %.2f]\n",
            rows[i].compute, r.params.lo, r.params.hi, r.tokens.lo, r.tokens.hi, r.loss.lo,
            r.loss.hi, r.tokens_per_param.lo, r.tokens_per_param.hi);
      }
    }
  });
}

}  // namespace scalelaw::cli
