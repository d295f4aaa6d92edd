// `scalelaw sweep critical-batch ID`: the critical batch size measured per
// model size in a (pilot) sweep — the median final gradient noise scale
// B_simple of its succeeded trials — printed as the `training.batch_rule`
// block a follow-up sweep spec takes (sweeps/trial_builder.h, BatchSizeFor).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "cli/sweep_source.h"

namespace scalelaw::cli {
namespace {

struct SizeBatch {
  uint64_t params = 0;
  std::vector<double> noise_scales;  // sequences, one per succeeded trial
  std::vector<double> losses;
};

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Succeeded trials with a measured noise scale, by size. A WSD stable run
// never cooled down, so its final noise scale is not that of a finished run.
std::vector<SizeBatch> BySize(const SweepData& data) {
  std::map<uint64_t, SizeBatch> sizes;
  for (const v1::Trial& trial : data.trials) {
    const v1::TrialResult& result = trial.result();
    if (trial.state() != v1::TRIAL_STATE_SUCCEEDED || !(result.noise_scale() > 0) ||
        !std::isfinite(result.noise_scale()) ||
        trial.spec().wsd().role() == v1::TRIAL_ROLE_WSD_STABLE) {
      continue;
    }
    SizeBatch& size = sizes[result.params()];
    size.params = result.params();
    size.noise_scales.push_back(result.noise_scale());
    size.losses.push_back(result.final_val_loss());
  }
  std::vector<SizeBatch> out;
  for (auto& [params, size] : sizes) out.push_back(std::move(size));
  return out;
}

}  // namespace

void AddSweepCriticalBatchCommand(CLI::App& sweep, std::shared_ptr<const SweepGroupFlags> group,
                                  int* exit_code) {
  struct Args {
    std::string sweep_id;
    std::string db;  // empty: the coordinator
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = AddSubcommand(
      sweep, "critical-batch", "Print a sweep's measured critical batch size per model size",
      "Print the critical batch size measured at each model size of a (pilot) sweep: the\n"
      "median final gradient noise scale B_simple (sequences) of its succeeded trials, and\n"
      "the `training.batch_rule` block that makes a follow-up sweep train each size at that\n"
      "batch (a power law in N through these points; see sweeps/examples/batch_rule.yaml).\n"
      "Reads --db, or asks the coordinator.\n\n"
      "Example: scalelaw sweep critical-batch pilot-1 --db runs/pilot/state.db");
  cmd->add_option("sweep_id", args->sweep_id, "Sweep id")->required();
  cmd->add_option("--db", args->db,
                  "the coordinator's store (SQLite file); without it, ask the coordinator");
  cmd->add_flag("--json", args->json, "print JSON instead of the table and YAML");
  cmd->callback([args, group, exit_code] {
    absl::StatusOr<SweepData> data = LoadSweep(args->sweep_id, SourceOf(args->db, *group), false);
    if (!data.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(data.status().message()).c_str());
      *exit_code = absl::IsNotFound(data.status()) ? 2 : 1;
      return;
    }
    const std::vector<SizeBatch> sizes = BySize(*data);
    if (sizes.empty()) {
      std::fprintf(stderr,
                   "error: %s has no succeeded trial with a measured noise scale (it needs "
                   "training.micro_batches >= 2)\n",
                   data->source.c_str());
      *exit_code = 1;
      return;
    }
    if (args->json) {
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const SizeBatch& size : sizes) {
        out.push_back({{"params", size.params},
                       {"trials", size.noise_scales.size()},
                       {"critical_batch", Median(size.noise_scales)},
                       {"critical_batch_unit", "sequences"},
                       {"final_val_loss", Median(size.losses)}});
      }
      std::printf("%s\n", out.dump().c_str());
      return;
    }
    std::printf("critical batch size per model size, %s\n", data->source.c_str());
    std::printf("%14s %7s %22s %15s\n", "params", "trials", "B_simple (sequences)",
                "final val loss");
    for (const SizeBatch& size : sizes) {
      std::printf("%14llu %7zu %22.4g %15.4f\n", static_cast<unsigned long long>(size.params),
                  size.noise_scales.size(), Median(size.noise_scales), Median(size.losses));
    }
    std::printf("\n# for a follow-up sweep spec:\ntraining:\n  batch_rule:\n    critical_batch:\n");
    for (const SizeBatch& size : sizes) {
      std::printf("      - {params: %llu, batch: %.4g}\n",
                  static_cast<unsigned long long>(size.params), Median(size.noise_scales));
    }
  });
}

}  // namespace scalelaw::cli
