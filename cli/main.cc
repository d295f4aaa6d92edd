// The `scalelaw` binary: parses flags and hands each subcommand to the
// libraries. It never links libtorch; training runs in `scalelaw-worker`.
#include <glog/logging.h>
#include <spdlog/sinks/stdout_color_sinks.h>  // stderr_color_mt too
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // Ceres logs through glog; its per-start line-search warnings are noise to a
  // user reading a fit, so only errors reach stderr.
  FLAGS_minloglevel = google::GLOG_ERROR;
  google::InitGoogleLogging(argv[0]);
  // The embedded coordinator's log lines go to stderr, beside the progress
  // lines, so stdout holds only a command's result (tables, JSON).
  spdlog::set_default_logger(spdlog::stderr_color_mt("scalelaw"));
  CLI::App app{
      "scalelaw: scaling-law sweeps. Train a model-size x token grid on workers, fit power\n"
      "laws and Chinchilla frontiers, and predict the compute-optimal model for a budget.\n\n"
      "Example: scalelaw run sweeps/quickstart.yaml --out runs/quickstart"};
  app.require_subcommand(1);
  app.set_version_flag("--version", SCALELAW_VERSION);
  int exit_code = 0;
  scalelaw::cli::AddRunCommand(app, &exit_code);
  scalelaw::cli::AddCoordinatorCommand(app, &exit_code);
  scalelaw::cli::AddSweepCommands(app, &exit_code);
  scalelaw::cli::AddWorkerCommand(app, &exit_code);
  scalelaw::cli::AddFitCommands(app, &exit_code);
  scalelaw::cli::AddCompareCommand(app, &exit_code);
  scalelaw::cli::AddReportCommand(app, &exit_code);
  scalelaw::cli::AddTrainCommand(app, &exit_code);
  scalelaw::cli::AddModelCommand(app, &exit_code);
  scalelaw::cli::AddDataCommand(app, &exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
