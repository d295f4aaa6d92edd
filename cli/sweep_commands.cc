// `scalelaw sweep submit|status|list|cancel|resume`: talk to a running coordinator.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/coordinator_client.h"
#include "cli/forecast_display.h"
#include "cli/sweep_display.h"
#include "sweeps/spec_parser.h"

namespace scalelaw::cli {
namespace {

using Stub = v1::Coordinator::Stub;

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "error: %s\n", std::string(status.message()).c_str());
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

void AddSubmit(CLI::App& sweep, std::shared_ptr<const SweepGroupFlags> group, int* exit_code) {
  auto spec_path = std::make_shared<std::string>();
  CLI::App* cmd = AddSubcommand(
      sweep, "submit", "Submit a sweep spec to a coordinator and print its id",
      "Validate a sweep spec, submit it to the coordinator and print the sweep id. Returns\n"
      "at once. With `launcher: {kind: slurm}` in the spec the coordinator submits the\n"
      "workers' job array (sbatch) before answering; otherwise start workers with\n"
      "`scalelaw worker` to run the trials.\n\n"
      "Example: scalelaw sweep submit sweeps/quickstart.yaml --coordinator 127.0.0.1:50051");
  cmd->add_option("spec", *spec_path, "Sweep spec (YAML)")->required()->check(CLI::ExistingFile);
  cmd->callback([spec_path, group, exit_code] {
    auto spec = sweeps::LoadSweepSpec(*spec_path);
    if (!spec.ok()) {
      *exit_code = Fail(spec.status());
      return;
    }
    std::ifstream in(*spec_path);
    std::stringstream text;
    text << in.rdbuf();
    v1::SubmitSweepRequest request;
    *request.mutable_spec() = *spec;
    request.set_spec_yaml(text.str());
    v1::SubmitSweepResponse response;
    CoordinatorClient client(group->coordinator, group->token_file, group->tls);
    if (absl::Status s = client.Call(&Stub::SubmitSweep, request, &response); !s.ok()) {
      *exit_code = Fail(s);
      return;
    }
    std::printf("%s\n", response.sweep_id().c_str());
    std::fprintf(stderr, "submitted %u trials\n", response.n_trials());
    std::fprintf(stderr, "%s", FormatLauncherJobs(response.jobs()).c_str());
  });
}

void AddStatus(CLI::App& sweep, std::shared_ptr<const SweepGroupFlags> group, int* exit_code) {
  struct Args {
    std::string sweep_id;
    bool watch = false;
    double interval = 5;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = AddSubcommand(
      sweep, "status", "Show a sweep's progress and trials (--watch to follow)",
      "Show a sweep's trial counts per state and its token progress; --watch refreshes\n"
      "until the sweep ends.\n\nExample: scalelaw sweep status quickstart-1 --watch");
  cmd->add_option("sweep_id", args->sweep_id, "Sweep id (from `sweep submit`)")->required();
  cmd->add_flag("--watch,-w", args->watch, "Refresh until the sweep ends");
  cmd->add_option("--interval", args->interval, "Seconds between refreshes")
      ->check(CLI::PositiveNumber);
  cmd->callback([args, group, exit_code] {
    CoordinatorClient client(group->coordinator, group->token_file, group->tls);
    while (true) {
      v1::GetSweepRequest request;
      request.set_sweep_id(args->sweep_id);
      v1::Sweep sweep;
      if (absl::Status s = client.Call(&Stub::GetSweep, request, &sweep); !s.ok()) {
        *exit_code = Fail(s);
        return;
      }
      v1::ListTrialsRequest trials_request;
      trials_request.set_sweep_id(args->sweep_id);
      v1::ListTrialsResponse trials;
      if (absl::Status s = client.Call(&Stub::ListTrials, trials_request, &trials); !s.ok()) {
        *exit_code = Fail(s);
        return;
      }
      std::printf("%s\n%s", FormatSweepStatus(sweep).c_str(), FormatTrialTable(trials).c_str());
      if (sweep.spec().has_forecast()) {
        v1::GetForecastsRequest forecasts_request;
        forecasts_request.set_sweep_id(args->sweep_id);
        v1::GetForecastsResponse forecasts;
        if (absl::Status s = client.Call(&Stub::GetForecasts, forecasts_request, &forecasts);
            !s.ok()) {
          *exit_code = Fail(s);
          return;
        }
        const std::string table = FormatForecasts(
            {forecasts.forecasts().begin(), forecasts.forecasts().end()});
        std::printf("\nforecasts%s\n%s", table.empty() ? ": not yet (the ladder is running)" : "",
                    table.c_str());
      }
      std::fflush(stdout);
      if (!args->watch || sweep.state() != v1::SWEEP_STATE_RUNNING) return;
      std::this_thread::sleep_for(std::chrono::duration<double>(args->interval));
      std::printf("\n");
    }
  });
}

void AddList(CLI::App& sweep, std::shared_ptr<const SweepGroupFlags> group, int* exit_code) {
  CLI::App* cmd = AddSubcommand(sweep, "list", "List the coordinator's sweeps",
                                "List the coordinator's sweeps.\n\nExample: scalelaw sweep list");
  cmd->callback([group, exit_code] {
    CoordinatorClient client(group->coordinator, group->token_file, group->tls);
    v1::ListSweepsResponse response;
    if (absl::Status s = client.Call(&Stub::ListSweeps, v1::ListSweepsRequest(), &response);
        !s.ok()) {
      *exit_code = Fail(s);
      return;
    }
    for (const v1::Sweep& sweep : response.sweeps()) {
      std::printf("%s", FormatSweepStatus(sweep).c_str());
    }
  });
}

void AddCancel(CLI::App& sweep, std::shared_ptr<const SweepGroupFlags> group, int* exit_code) {
  auto sweep_id = std::make_shared<std::string>();
  CLI::App* cmd = AddSubcommand(
      sweep, "cancel", "Cancel a sweep's unended trials",
      "Cancel a sweep: its unended trials become CANCELLED and their workers stop at the\n"
      "next heartbeat; the coordinator also cancels the jobs it launched for the sweep\n"
      "(scancel for Slurm).\n\nExample: scalelaw sweep cancel quickstart-1");
  cmd->add_option("sweep_id", *sweep_id, "Sweep id")->required();
  cmd->callback([sweep_id, group, exit_code] {
    CoordinatorClient client(group->coordinator, group->token_file, group->tls);
    v1::CancelSweepRequest request;
    request.set_sweep_id(*sweep_id);
    v1::CancelSweepResponse response;
    if (absl::Status s = client.Call(&Stub::CancelSweep, request, &response); !s.ok()) {
      *exit_code = Fail(s);
      return;
    }
    std::printf("cancelled %u trials of %s\n", response.cancelled_trials(), sweep_id->c_str());
  });
}

void AddResume(CLI::App& sweep, std::shared_ptr<const SweepGroupFlags> group, int* exit_code) {
  auto sweep_id = std::make_shared<std::string>();
  CLI::App* cmd = AddSubcommand(
      sweep, "resume", "Requeue a sweep's FAILED and CANCELLED trials",
      "Resume a sweep: its FAILED and CANCELLED trials go back to PENDING with a fresh\n"
      "max_attempts (DIVERGED trials are results and stay), and a trial with a checkpoint\n"
      "continues from it. When PENDING trials are left and no trial is leased (the\n"
      "sweep's workers are gone), the coordinator launches workers again (a new Slurm\n"
      "array or Kubernetes Job, sized to the trials left); otherwise the workers it has\n"
      "pick the trials up. Resuming a sweep whose jobs died retries its launch.\n\n"
      "Example: scalelaw sweep resume quickstart-1");
  cmd->add_option("sweep_id", *sweep_id, "Sweep id")->required();
  cmd->callback([sweep_id, group, exit_code] {
    CoordinatorClient client(group->coordinator, group->token_file, group->tls);
    v1::ResumeSweepRequest request;
    request.set_sweep_id(*sweep_id);
    v1::ResumeSweepResponse response;
    if (absl::Status s = client.Call(&Stub::ResumeSweep, request, &response); !s.ok()) {
      *exit_code = Fail(s);
      return;
    }
    std::printf("requeued %u trials of %s\n", response.requeued_trials(), sweep_id->c_str());
    std::printf("%s", FormatLauncherJobs(response.jobs()).c_str());
  });
}

}  // namespace

void AddSweepCommands(CLI::App& app, int* exit_code) {
  auto group = std::make_shared<SweepGroupFlags>();
  group->coordinator = DefaultCoordinatorAddress();
  CLI::App* sweep = AddSubcommand(
      app, "sweep", "Submit, follow and cancel sweeps on a running coordinator",
      "Submit and follow sweeps on a running coordinator (see `scalelaw coordinator`).\n\n"
      "Example: scalelaw sweep submit sweeps/quickstart.yaml && scalelaw sweep list");
  sweep->require_subcommand(1);
  group->coordinator_option =
      sweep
      ->add_option("--coordinator,-c", group->coordinator,
                   "Coordinator address host:port (default $SCALELAW_COORDINATOR or "
                   "127.0.0.1:50051)")
      ->capture_default_str();
  sweep->add_option("--token-file", group->token_file,
                    "File holding the coordinator token (default: $SCALELAW_TOKEN_FILE, else "
                    "$SCALELAW_TOKEN)");
  AddCoordinatorTlsFlags(*sweep, &group->tls);
  AddSweepPlanCommand(*sweep, exit_code);
  AddSweepExportCommand(*sweep, group, exit_code);
  AddSweepCriticalBatchCommand(*sweep, group, exit_code);
  AddSweepForecastCommand(*sweep, group, exit_code);
  AddSubmit(*sweep, group, exit_code);
  AddStatus(*sweep, group, exit_code);
  AddList(*sweep, group, exit_code);
  AddCancel(*sweep, group, exit_code);
  AddResume(*sweep, group, exit_code);
  // `scalelaw sweep status ID --coordinator ADDR` works as well as putting
  // --coordinator (or --token-file, --tls-ca, ...) before the subcommand.
  for (CLI::App* sub : sweep->get_subcommands({})) sub->fallthrough();
}

}  // namespace scalelaw::cli
