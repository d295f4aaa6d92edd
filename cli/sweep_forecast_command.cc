// `scalelaw sweep forecast ID`: a sweep's pre-registered forecasts (fitted on
// its ladder before any target ran, coordinator/forecaster.h) beside what the
// targets then reached.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/forecast_display.h"
#include "cli/sweep_source.h"

namespace scalelaw::cli {

void AddSweepForecastCommand(CLI::App& sweep, std::shared_ptr<const SweepGroupFlags> group,
                             int* exit_code) {
  struct Args {
    std::string sweep_id;
    std::string db;  // empty: the coordinator
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = AddSubcommand(
      sweep, "forecast", "Show a sweep's pre-registered forecasts against the actual losses",
      "Show the forecasts a sweep with a `forecast:` block stored before its targets ran:\n"
      "each target's predicted final validation loss with its prediction interval, the\n"
      "actual loss once the target has run, the signed relative error (predicted -\n"
      "actual) / actual, and whether the actual fell inside the interval. Reads --db, or\n"
      "asks the coordinator.\n\n"
      "Example: scalelaw sweep forecast quickstart-1 --db runs/quickstart/state.db --json");
  cmd->add_option("sweep_id", args->sweep_id, "Sweep id")->required();
  cmd->add_option("--db", args->db,
                  "the coordinator's store (SQLite file); without it, ask the coordinator");
  cmd->add_flag("--json", args->json, "print one JSON object instead of the table");
  cmd->callback([args, group, exit_code] {
    absl::StatusOr<std::vector<v1::ForecastOutcome>> outcomes =
        LoadForecasts(args->sweep_id, SourceOf(args->db, *group));
    if (!outcomes.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(outcomes.status().message()).c_str());
      *exit_code = absl::IsNotFound(outcomes.status()) ? 2 : 1;
      return;
    }
    if (args->json) {
      std::printf("%s\n", ForecastsJson(*outcomes).dump().c_str());
      return;
    }
    if (outcomes->empty()) {
      std::printf(
          "sweep %s has no stored forecasts (no forecast: block, or its ladder is still "
          "running)\n",
          args->sweep_id.c_str());
      return;
    }
    std::printf("%s", FormatForecasts(*outcomes).c_str());
  });
}

}  // namespace scalelaw::cli
