// `scalelaw sweep plan SPEC`: the trials a spec expands to, their compute and
// an estimate of their wall time, without a coordinator and without running
// anything.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/sweep_display.h"
#include "common/status_macros.h"
#include "coordinator/store.h"
#include "sweeps/planner.h"
#include "sweeps/spec_parser.h"

namespace scalelaw::cli {
namespace {

struct PlanArgs {
  std::string spec_path;
  bool json = false;
  double flops_per_second = 0;  // configured throughput of one worker
  std::string measured_db;      // or measured: a store of earlier trials
  uint32_t workers = 1;
};

std::string DesignOf(const v1::SweepSpec& spec) {
  if (spec.isoflop().budgets_size() > 0) return "isoflop";
  if (spec.optimizer().schedule() == "wsd") return "wsd";
  return "grid";
}

// Median training FLOP/s of one worker over the succeeded trials of a store:
// tokens/s times FLOPs per token of each.
absl::StatusOr<double> MeasuredFlopsPerSecond(const std::string& db_path) {
  SCALELAW_ASSIGN_OR_RETURN(std::unique_ptr<coordinator::Store> store,
                            coordinator::Store::OpenForReading(db_path));
  SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::Trial> trials,
                            store->ListTrialsInStates({v1::TRIAL_STATE_SUCCEEDED}));
  std::vector<double> rates;
  for (const v1::Trial& trial : trials) {
    const v1::TrialResult& r = trial.result();
    if (r.tokens_per_second() > 0 && r.flops_per_token() > 0) {
      rates.push_back(r.tokens_per_second() * r.flops_per_token());
    }
  }
  if (rates.empty()) {
    return absl::NotFoundError(
        absl::StrCat("--measured-db ", db_path, ": no succeeded trial with a measured throughput"));
  }
  std::nth_element(rates.begin(), rates.begin() + rates.size() / 2, rates.end());
  return rates[rates.size() / 2];
}

nlohmann::ordered_json TrialJson(const v1::TrialSpec& t, double flops_per_second) {
  nlohmann::ordered_json row;
  row["trial_id"] = t.trial_id();
  row["role"] = sweeps::TrialRoleName(t);
  row["n_layer"] = t.shape().n_layer();
  row["d_model"] = t.shape().d_model();
  row["n_head"] = t.shape().n_head();
  row["n_ctx"] = t.shape().n_ctx();
  row["params"] = t.params();
  row["non_embedding_params"] = t.non_embedding_params();
  row["tokens"] = t.tokens();
  row["seed"] = t.seed();
  row["batch_size"] = t.training().batch_size();
  row["lr"] = t.optimizer().lr();
  row["flops"] = t.flops();
  row["cost_flops"] = sweeps::TrialCost(t);
  if (t.budget() > 0) row["budget"] = t.budget();
  if (t.wsd().role() == v1::TRIAL_ROLE_WSD_COOLDOWN) {
    row["branch_of"] = t.wsd().stable_trial_id();
    row["decay_start_tokens"] = t.wsd().decay_start_tokens();
  }
  if (flops_per_second > 0) row["estimated_seconds"] = sweeps::TrialCost(t) / flops_per_second;
  return row;
}

void PrintTable(const v1::SweepSpec& spec, const std::vector<v1::TrialSpec>& trials,
                double flops_per_second, uint32_t workers, double total) {
  std::printf("%-10s %-9s %-12s %10s %10s %6s %10s %10s %-10s %9s\n", "trial", "role",
              "layers x d", "params", "tokens", "batch", "FLOPs", "cost", "budget/of", "est.");
  for (const v1::TrialSpec& t : trials) {
    char shape[32], budget[32] = "";
    std::snprintf(shape, sizeof(shape), "%u x %u", t.shape().n_layer(), t.shape().d_model());
    if (t.budget() > 0) std::snprintf(budget, sizeof(budget), "%.3g", t.budget());
    const std::string& id = t.trial_id();
    if (t.wsd().role() == v1::TRIAL_ROLE_WSD_COOLDOWN) {
      const std::string& of = t.wsd().stable_trial_id();
      std::snprintf(budget, sizeof(budget), "%s", of.substr(of.rfind('-') + 1).c_str());
    }
    const std::string estimate =
        flops_per_second > 0 ? FormatDuration(sweeps::TrialCost(t) / flops_per_second) : "-";
    std::printf("%-10s %-9s %-12s %10.3g %10.3g %6u %10.3g %10.3g %-10s %9s\n",
                id.substr(id.rfind('-') + 1).c_str(), sweeps::TrialRoleName(t), shape,
                static_cast<double>(t.params()), static_cast<double>(t.tokens()),
                t.training().batch_size(), t.flops(),
                sweeps::TrialCost(t), budget, estimate.c_str());
  }
  std::printf("\n%zu trials (%s design), total compute %.3g FLOPs", trials.size(),
              DesignOf(spec).c_str(), total);
  if (flops_per_second > 0) {
    std::printf(", about %s on %u worker%s at %.3g FLOP/s each", 
                FormatDuration(total / flops_per_second / workers).c_str(), workers,
                workers == 1 ? "" : "s", flops_per_second);
  }
  std::printf("\n");
}

int RunPlan(const PlanArgs& args) {
  absl::StatusOr<v1::SweepSpec> spec = sweeps::LoadSweepSpec(args.spec_path);
  if (!spec.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(spec.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<std::vector<v1::TrialSpec>> trials = sweeps::PlanSweep(*spec, spec->name());
  if (!trials.ok()) {
    std::fprintf(stderr, "error: %s: %s\n", args.spec_path.c_str(),
                 std::string(trials.status().message()).c_str());
    return 2;
  }
  double flops_per_second = args.flops_per_second;
  if (!args.measured_db.empty()) {
    absl::StatusOr<double> measured = MeasuredFlopsPerSecond(args.measured_db);
    if (!measured.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(measured.status().message()).c_str());
      return 1;
    }
    flops_per_second = *measured;
  }
  double total = 0;
  for (const v1::TrialSpec& t : *trials) total += sweeps::TrialCost(t);
  if (!args.json) {
    PrintTable(*spec, *trials, flops_per_second, args.workers, total);
    return 0;
  }
  nlohmann::ordered_json out;
  out["sweep"] = spec->name();
  out["design"] = DesignOf(*spec);
  out["trials"] = nlohmann::ordered_json::array();
  for (const v1::TrialSpec& t : *trials) out["trials"].push_back(TrialJson(t, flops_per_second));
  out["total_flops"] = total;
  if (flops_per_second > 0) {
    out["flops_per_second"] = flops_per_second;
    out["workers"] = args.workers;
    out["estimated_seconds"] = total / flops_per_second / args.workers;
  }
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace

void AddSweepPlanCommand(CLI::App& sweep, int* exit_code) {
  auto args = std::make_shared<PlanArgs>();
  CLI::App* cmd = AddSubcommand(
      sweep, "plan", "Print the trials a spec expands to, their compute and wall time",
      "Expand a sweep spec into its trials without running anything: shape, parameters,\n"
      "tokens, FLOPs (6N + attention, per trial), the compute each trial spends (a WSD\n"
      "cooldown branch spends only its cooldown), IsoFLOP budgets and WSD branch parents,\n"
      "and the total. With a throughput (--flops-per-second, or --measured-db: the median\n"
      "of a store's succeeded trials) it estimates wall time per trial and in all.\n"
      "Needs no coordinator.\n\n"
      "Example: scalelaw sweep plan sweeps/examples/isoflop.yaml --json");
  cmd->add_option("spec", args->spec_path, "Sweep spec (YAML)")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--json", args->json,
                "print {\"trials\": [...], \"total_flops\": ...} instead of a table");
  auto* configured = cmd->add_option("--flops-per-second", args->flops_per_second,
                                     "training FLOP/s of one worker, for the time estimate")
                         ->check(CLI::PositiveNumber);
  cmd->add_option("--measured-db", args->measured_db,
                  "coordinator store whose succeeded trials give the FLOP/s")
      ->check(CLI::ExistingFile)
      ->excludes(configured);
  cmd->add_option("--workers", args->workers, "workers running in parallel (default 1)")
      ->check(CLI::Range(1, 100000));
  cmd->callback([args, exit_code] { *exit_code = RunPlan(*args); });
}

}  // namespace scalelaw::cli
