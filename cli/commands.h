// Subcommand registration for the `scalelaw` binary. Each Add*Commands adds
// its subcommands to `app`; a subcommand's callback stores its process exit
// status in *exit_code (0 on success). Errors are printed to stderr, naming
// the input, the field and what was expected.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "proto/coordinator_tls.h"

namespace scalelaw::cli {

// Adds a subcommand whose one-line `summary` shows in the parent's list and
// whose `details` (what it does, with an example) show in its own --help.
inline CLI::App* AddSubcommand(CLI::App& parent, const std::string& name,
                               const std::string& summary, const std::string& details) {
  CLI::App* cmd = parent.add_subcommand(name, summary);
  cmd->footer("\n" + details);
  return cmd;
}

void AddRunCommand(CLI::App& app, int* exit_code);          // run_command.cc
void AddCoordinatorCommand(CLI::App& app, int* exit_code);  // coordinator_command.cc
// `coordinator backup`; the coordinator's own callback must not run with it.
CLI::App* AddCoordinatorBackupCommand(CLI::App& coordinator,
                                      int* exit_code);  // coordinator_backup_command.cc
void AddSweepCommands(CLI::App& app, int* exit_code);       // sweep_commands.cc
// Flags of the `sweep` group that its subcommands share (set by the time a
// subcommand's callback runs).
struct SweepGroupFlags {
  std::string coordinator;  // host:port
  std::string token_file;   // empty: $SCALELAW_TOKEN_FILE / $SCALELAW_TOKEN
  ClientTls tls;            // --tls-ca, --tls-cert, --tls-key (proto/coordinator_tls.h)
  // Whether --coordinator was given (not only defaulted), so a subcommand
  // that also takes --db can refuse the two together.
  const CLI::Option* coordinator_option = nullptr;
  bool CoordinatorGiven() const {
    return coordinator_option != nullptr && coordinator_option->count() > 0;
  }
};
void AddSweepPlanCommand(CLI::App& sweep, int* exit_code);  // sweep_plan_command.cc
void AddSweepExportCommand(CLI::App& sweep, std::shared_ptr<const SweepGroupFlags> group,
                           int* exit_code);  // sweep_export_command.cc
void AddSweepForecastCommand(CLI::App& sweep, std::shared_ptr<const SweepGroupFlags> group,
                             int* exit_code);  // sweep_forecast_command.cc
void AddSweepCriticalBatchCommand(CLI::App& sweep, std::shared_ptr<const SweepGroupFlags> group,
                                  int* exit_code);  // sweep_critical_batch_command.cc
void AddWorkerCommand(CLI::App& app, int* exit_code);       // worker_command.cc
void AddFitCommands(CLI::App& app, int* exit_code);     // fit_commands.cc: fit, optimal, predict
void AddCompareCommand(CLI::App& app, int* exit_code);  // compare_command.cc: compare
void AddReportCommand(CLI::App& app, int* exit_code);   // report_command.cc: report
void AddTrainCommand(CLI::App& app,
                     int* exit_code);  // train_command.cc: train (execs scalelaw-worker train)
void AddModelCommand(CLI::App& app, int* exit_code);  // model_command.cc: model shapes
void AddDataCommand(CLI::App& app, int* exit_code);   // data_command.cc: data prepare

}  // namespace scalelaw::cli
