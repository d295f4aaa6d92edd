// `scalelaw sweep export ID (--db FILE | --coordinator ADDR) --format csv|jsonl`:
// a sweep's measured points as a flat table for pandas and friends, one row
// per evaluation (or per streamed point with --all-points), each row carrying
// its trial's configuration.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "common/status_macros.h"
#include "cli/sweep_source.h"
#include "sweeps/trial_builder.h"

namespace scalelaw::cli {
namespace {

struct ExportArgs {
  std::string sweep_id;
  std::string db;  // empty: the coordinator
  std::string format = "csv";
  std::string out;  // empty: stdout
  bool all_points = false;
};

// Column order of both formats. A missing value is empty in CSV, null in JSON.
const std::vector<std::string> kColumns = {
    "sweep_id", "trial_id", "state", "role", "attempt", "n_layer", "d_model", "n_head", "n_ctx",
    "params", "non_embedding_params", "target_tokens", "seed", "peak_lr", "budget", "step",
    "tokens", "flops", "train_loss", "val_loss", "lr", "noise_scale", "tokens_per_second",
    "wall_seconds"};

nlohmann::ordered_json Row(const v1::Trial& trial, const v1::MetricPoint& point) {
  const v1::TrialSpec& spec = trial.spec();
  nlohmann::ordered_json row;
  row["sweep_id"] = spec.sweep_id();
  row["trial_id"] = spec.trial_id();
  row["state"] = v1::TrialState_Name(trial.state()).substr(std::string("TRIAL_STATE_").size());
  row["role"] = sweeps::TrialRoleName(spec);
  row["attempt"] = trial.attempt();  // the attempt whose stream is exported
  row["n_layer"] = spec.shape().n_layer();
  row["d_model"] = spec.shape().d_model();
  row["n_head"] = spec.shape().n_head();
  row["n_ctx"] = spec.shape().n_ctx();
  row["params"] = spec.params();
  row["non_embedding_params"] = spec.non_embedding_params();
  row["target_tokens"] = spec.tokens();
  row["seed"] = spec.seed();
  row["peak_lr"] = spec.optimizer().lr();
  row["budget"] = spec.budget() > 0 ? nlohmann::ordered_json(spec.budget()) : nullptr;
  row["step"] = point.step();
  row["tokens"] = point.tokens();
  row["flops"] = point.flops();
  auto optional = [&](const char* name, bool has, double value) {
    row[name] = has ? nlohmann::ordered_json(value) : nullptr;
  };
  optional("train_loss", point.has_train_loss(), point.train_loss());
  optional("val_loss", point.has_val_loss(), point.val_loss());
  optional("lr", point.has_lr(), point.lr());
  optional("noise_scale", point.has_noise_scale(), point.noise_scale());
  optional("tokens_per_second", point.has_tokens_per_second(), point.tokens_per_second());
  row["wall_seconds"] = point.wall_seconds();
  return row;
}

std::string CsvCell(const nlohmann::ordered_json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();  // ids and names: no commas
  if (value.is_number_float()) {
    char text[40];
    std::snprintf(text, sizeof(text), "%.17g", value.get<double>());
    return text;
  }
  return value.dump();
}

absl::Status Export(const ExportArgs& args, const SweepSource& source, std::ostream& out) {
  SCALELAW_ASSIGN_OR_RETURN(SweepData data, LoadSweep(args.sweep_id, source, true));
  std::map<std::string, std::vector<const v1::MetricPoint*>> points_of;
  for (const v1::MetricPoint& point : data.metrics) points_of[point.trial_id()].push_back(&point);
  if (args.format == "csv") {
    for (size_t i = 0; i < kColumns.size(); ++i) out << (i ? "," : "") << kColumns[i];
    out << "\n";
  }
  for (const v1::Trial& trial : data.trials) {
    for (const v1::MetricPoint* point : points_of[trial.spec().trial_id()]) {
      if (!args.all_points && !point->has_val_loss()) continue;
      const nlohmann::ordered_json row = Row(trial, *point);
      if (args.format == "jsonl") {
        out << row.dump() << "\n";
        continue;
      }
      for (size_t i = 0; i < kColumns.size(); ++i) {
        out << (i ? "," : "") << CsvCell(row[kColumns[i]]);
      }
      out << "\n";
    }
  }
  return absl::OkStatus();
}

}  // namespace

void AddSweepExportCommand(CLI::App& sweep, std::shared_ptr<const SweepGroupFlags> group,
                           int* exit_code) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = AddSubcommand(
      sweep, "export", "Write a sweep's measured points as CSV or JSON Lines",
      "Write every evaluation of a sweep's trials (--all-points: every streamed point) as\n"
      "CSV or JSON Lines, one row per point with its trial's shape, counts, budget, seed and\n"
      "lr: ready for pandas.read_csv / read_json(lines=True). Reads the coordinator's store\n"
      "with --db (safe while the coordinator runs: the store is in WAL mode), otherwise asks\n"
      "the coordinator (--coordinator, $SCALELAW_COORDINATOR).\n\n"
      "Example: scalelaw sweep export quickstart-1 --db runs/quickstart/state.db "
      "--format csv --out points.csv");
  cmd->add_option("sweep_id", args->sweep_id, "Sweep id")->required();
  cmd->add_option("--db", args->db,
                  "the coordinator's store (SQLite file); without it, ask the coordinator");
  cmd->add_option("--format", args->format, "csv (default) or jsonl")
      ->check(CLI::IsMember({"csv", "jsonl"}));
  cmd->add_option("--out,-o", args->out, "output file (default: standard output)");
  cmd->add_flag("--all-points", args->all_points,
                "every streamed point (training-loss logs too), not only evaluations");
  cmd->callback([args, group, exit_code] {
    std::ofstream file;
    if (!args->out.empty()) {
      file.open(args->out);
      if (!file) {
        std::fprintf(stderr, "error: --out: cannot write '%s'\n", args->out.c_str());
        *exit_code = 1;
        return;
      }
    }
    std::ostream& out = args->out.empty() ? std::cout : file;
    if (absl::Status s = Export(*args, SourceOf(args->db, *group), out); !s.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
      *exit_code = s.code() == absl::StatusCode::kNotFound ? 2 : 1;
      return;
    }
    *exit_code = 0;
  });
}

}  // namespace scalelaw::cli
