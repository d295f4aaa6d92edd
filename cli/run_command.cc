// `scalelaw run SPEC`: the whole loop on one machine. An embedded coordinator
// (store in DIR/state.db), local worker processes, a Chinchilla fit of the
// finished trials (DIR/fit.json) and the compute-optimal answer for budgets
// beyond the sweep.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "cli/coordinator_client.h"
#include "cli/forecast_display.h"
#include "cli/sweep_display.h"
#include "cli/worker_binary.h"
#include "common/private_files.h"
#include "common/status_macros.h"
#include "coordinator/coordinator_server.h"
#include "coordinator/local_launcher.h"
#include "sweeps/spec_parser.h"

namespace scalelaw::cli {
namespace {

using Stub = v1::Coordinator::Stub;

struct RunArgs {
  std::string spec_path;
  std::string out_dir;
  int workers = 2;
  uint32_t threads = 0;  // 0: the spec's training.threads
  std::vector<double> budgets;
  double lease_timeout_s = 30;
  std::string metrics_listen;  // empty: no /metrics
};

// Exit codes: 0 every trial ended and the fit succeeded; 1 runtime failure;
// 2 bad input; 3 the sweep ended but could not be fitted.
constexpr int kRuntimeError = 1;
constexpr int kBadInput = 2;
constexpr int kFitFailed = 3;

// The final fit's bootstrap: enough resamples for 90% intervals in seconds.
constexpr uint32_t kFitResamples = 200;
constexpr double kFitLevel = 0.9;

int Report(const absl::Status& status, int code) {
  std::fprintf(stderr, "error: %s\n", std::string(status.message()).c_str());
  return code;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Reuses a sweep of the same name and spec already in the store, so running
// the same command again resumes (or just refits) instead of starting over.
absl::StatusOr<std::string> SubmitOrResume(CoordinatorClient& client, const v1::SweepSpec& spec,
                                           const std::string& yaml) {
  v1::ListSweepsResponse existing;
  if (absl::Status s = client.Call(&Stub::ListSweeps, v1::ListSweepsRequest(), &existing);
      !s.ok()) {
    return s;
  }
  for (const v1::Sweep& sweep : existing.sweeps()) {
    if (sweep.spec().SerializeAsString() == spec.SerializeAsString() &&
        sweep.state() != v1::SWEEP_STATE_CANCELLED) {
      std::fprintf(stderr, "resuming sweep %s from the store\n", sweep.sweep_id().c_str());
      return sweep.sweep_id();
    }
  }
  v1::SubmitSweepRequest request;
  *request.mutable_spec() = spec;
  request.set_spec_yaml(yaml);
  v1::SubmitSweepResponse response;
  if (absl::Status s = client.Call(&Stub::SubmitSweep, request, &response); !s.ok()) return s;
  std::fprintf(stderr, "submitted sweep %s: %u trials\n", response.sweep_id().c_str(),
               response.n_trials());
  return response.sweep_id();
}

absl::StatusOr<v1::Sweep> GetSweep(CoordinatorClient& client, const std::string& sweep_id) {
  v1::GetSweepRequest request;
  request.set_sweep_id(sweep_id);
  v1::Sweep sweep;
  if (absl::Status s = client.Call(&Stub::GetSweep, request, &sweep); !s.ok()) return s;
  return sweep;
}

std::string ProgressLine(const v1::Sweep& sweep, double elapsed_s) {
  std::string counts;
  for (const v1::StateCount& count : sweep.counts()) {
    if (count.count() == 0) continue;
    counts += absl::StrFormat("%s%s %u", counts.empty() ? "" : ", ", TrialStateName(count.state()),
                              count.count());
  }
  const double fraction =
      sweep.tokens_total() > 0 ? double(sweep.tokens_done()) / double(sweep.tokens_total()) : 0;
  return absl::StrFormat("[%5.0fs] %5.1f%% of %.3g tokens | %s", elapsed_s, 100 * fraction,
                         double(sweep.tokens_total()), counts);
}

// Runs local workers until every trial of the sweep has ended.
absl::Status TrainSweep(CoordinatorClient& client, const std::string& address,
                        const std::string& sweep_id, const RunArgs& args,
                        const v1::SweepSpec& spec) {
  SCALELAW_ASSIGN_OR_RETURN(v1::Sweep sweep, GetSweep(client, sweep_id));
  if (sweep.state() != v1::SWEEP_STATE_RUNNING) return absl::OkStatus();

  coordinator::LocalLauncherOptions options;
  options.worker_binary = WorkerBinaryPath();
  options.coordinator_address = address;
  options.sweep_id = sweep_id;
  options.num_workers = args.workers;
  options.threads = args.threads > 0 ? args.threads : spec.training().threads();
  options.log_dir = std::filesystem::path(args.out_dir) / "logs";
  SCALELAW_ASSIGN_OR_RETURN(auto launcher, coordinator::LocalLauncher::Launch(options));
  std::fprintf(stderr, "started %d local workers (logs in %s)\n", launcher->size(),
               options.log_dir.c_str());

  const auto start = std::chrono::steady_clock::now();
  const bool tty = ::isatty(STDERR_FILENO);
  auto last_line = start - std::chrono::hours(1);
  while (true) {
    SCALELAW_ASSIGN_OR_RETURN(sweep, GetSweep(client, sweep_id));
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - start).count();
    if (tty) {
      std::fprintf(stderr, "\r%s\033[K", ProgressLine(sweep, elapsed).c_str());
    } else if (now - last_line > std::chrono::seconds(15)) {
      std::fprintf(stderr, "%s\n", ProgressLine(sweep, elapsed).c_str());
      last_line = now;
    }
    if (sweep.state() != v1::SWEEP_STATE_RUNNING) break;
    const auto exits = launcher->Poll();
    const bool all_gone =
        std::all_of(exits.begin(), exits.end(), [](const auto& exit) { return exit.has_value(); });
    if (all_gone) {
      return absl::InternalError(absl::StrFormat(
          "every worker exited before sweep %s ended (see %s); run the same command again "
          "to resume from the store",
          sweep_id, options.log_dir.string()));
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (tty) std::fprintf(stderr, "\n");
  // Workers exit by themselves once no work is left; give them a moment.
  (void)launcher->WaitAll(std::chrono::seconds(30));
  return absl::OkStatus();
}

// Budgets 10x, 100x and 1000x the sweep's largest trial, unless given.
std::vector<double> DefaultBudgets(const v1::ListTrialsResponse& trials) {
  double largest = 0;
  for (const v1::Trial& trial : trials.trials()) largest = std::max(largest, trial.spec().flops());
  return {10 * largest, 100 * largest, 1000 * largest};
}

void PrintFit(const v1::FitResult& fit) {
  std::printf(
      "\nChinchilla fit (approach 3, %s parameters, %u points): L(N, D) = E + A/N^alpha + "
      "B/D^beta\n",
      fit.param_count().empty() ? "total" : fit.param_count().c_str(), fit.n_points());
  std::printf("  E = %.4f  A = %.4g  B = %.4g  alpha = %.4f  beta = %.4f\n", fit.params().at("E"),
              fit.params().at("A"), fit.params().at("B"), fit.params().at("alpha"),
              fit.params().at("beta"));
  if (fit.intervals_size() > 0) {
    const auto interval = [&](const char* name) {
      const v1::FitInterval& i = fit.intervals().at(name);
      return absl::StrFormat("%s [%.4g, %.4g]", name, i.lo(), i.hi());
    };
    std::printf("  %.0f%% bootstrap intervals (%u resamples by point): %s  %s  %s  %s  %s\n",
                100 * kFitLevel, fit.bootstrap_resamples(), interval("E").c_str(),
                interval("A").c_str(), interval("B").c_str(), interval("alpha").c_str(),
                interval("beta").c_str());
  }
  std::printf("  objective (sum of Huber terms) = %.6g, optimiser: %s\n", fit.objective(),
              fit.termination().c_str());
  for (const std::string& excluded : fit.excluded())
    std::printf("  left out: %s\n", excluded.c_str());
  std::printf("\nCompute-optimal allocation (C = 6 N D, closed form):\n");
  std::printf("  %12s %12s %12s %12s %10s\n", "C (FLOPs)", "N_opt", "D_opt", "tokens/param",
              "L_opt");
  for (const v1::OptimalPoint& point : fit.optimal()) {
    std::printf("  %12.3g %12.4g %12.4g %12.3g %10.4f\n", point.compute(), point.params(),
                point.tokens(), point.tokens() / point.params(), point.loss());
  }
}

int Run(const RunArgs& args) {
  auto spec = sweeps::LoadSweepSpec(args.spec_path);
  if (!spec.ok()) return Report(spec.status(), kBadInput);
  // Checkpoints live beside the store so a resumed run continues its trials
  // from their newest checkpoint (set before submit so a rerun matches).
  if (spec->training().checkpoint_dir().empty()) {
    spec->mutable_training()->set_checkpoint_dir(
        std::filesystem::absolute(std::filesystem::path(args.out_dir) / "checkpoints").string());
  }
  std::error_code error;
  std::filesystem::create_directories(args.out_dir, error);
  if (error) {
    return Report(absl::InvalidArgumentError("--out " + args.out_dir + ": " + error.message()),
                  kBadInput);
  }

  coordinator::CoordinatorOptions options;
  options.db_path = (std::filesystem::path(args.out_dir) / "state.db").string();
  options.lease_timeout = std::chrono::milliseconds(std::lround(args.lease_timeout_s * 1000));
  options.heartbeat_interval = std::chrono::milliseconds(2000);
  options.metrics_listen_address = args.metrics_listen;
  auto server = coordinator::CoordinatorServer::Start(options);
  if (!server.ok()) return Report(server.status(), kRuntimeError);
  if ((*server)->metrics_port() > 0) {
    std::fprintf(stderr, "metrics on http://%s:%d/metrics\n",
                 args.metrics_listen.substr(0, args.metrics_listen.rfind(':')).c_str(),
                 (*server)->metrics_port());
  }
  CoordinatorClient client((*server)->address());

  auto sweep_id = SubmitOrResume(client, *spec, ReadFile(args.spec_path));
  if (!sweep_id.ok()) return Report(sweep_id.status(), kBadInput);
  if (absl::Status s = TrainSweep(client, (*server)->address(), *sweep_id, args, *spec); !s.ok()) {
    return Report(s, kRuntimeError);
  }

  v1::ListTrialsRequest list;
  list.set_sweep_id(*sweep_id);
  v1::ListTrialsResponse trials;
  if (absl::Status s = client.Call(&Stub::ListTrials, list, &trials); !s.ok()) {
    return Report(s, kRuntimeError);
  }
  std::printf("%s", FormatTrialTable(trials).c_str());

  v1::GetFitRequest fit_request;
  fit_request.set_sweep_id(*sweep_id);
  fit_request.set_law("chinchilla");
  fit_request.set_bootstrap(kFitResamples);
  fit_request.set_level(kFitLevel);
  for (double budget : args.budgets.empty() ? DefaultBudgets(trials) : args.budgets) {
    fit_request.add_compute_budgets(budget);
  }
  v1::FitResult fit;
  if (absl::Status s = client.Call(&Stub::GetFit, fit_request, &fit, std::chrono::seconds(600));
      !s.ok()) {
    return Report(s, kFitFailed);
  }
  const std::string fit_path = (std::filesystem::path(args.out_dir) / "fit.json").string();
  std::ofstream(fit_path) << FitResultJson(fit) << "\n";
  PrintFit(fit);
  if (spec->has_forecast()) {
    v1::GetForecastsRequest forecasts_request;
    forecasts_request.set_sweep_id(*sweep_id);
    v1::GetForecastsResponse forecasts;
    if (absl::Status s = client.Call(&Stub::GetForecasts, forecasts_request, &forecasts); !s.ok()) {
      return Report(s, kRuntimeError);
    }
    std::printf("\nPre-registered forecasts (fitted on the ladder before any target ran):\n%s",
                FormatForecasts({forecasts.forecasts().begin(), forecasts.forecasts().end()}).c_str());
  }
  std::printf("\nstore: %s\nfit:   %s\n", options.db_path.c_str(), fit_path.c_str());
  return 0;
}

}  // namespace

void AddRunCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = AddSubcommand(
      app, "run", "Run a sweep end to end on this machine and print the compute-optimal answer",
      "Run a sweep end to end on this machine: an embedded coordinator (store in\n"
      "DIR/state.db), local worker processes, a Chinchilla fit of the results (DIR/fit.json)\n"
      "and the compute-optimal model size, token count and loss for larger budgets.\n"
      "Running it again with the same spec and --out resumes from the store.\n\n"
      "Example: scalelaw run sweeps/quickstart.yaml --out runs/quickstart --workers 2");
  cmd->add_option("spec", args->spec_path, "Sweep spec (YAML)")->required();
  cmd->add_option("--out,-o", args->out_dir, "Output directory (state.db, fit.json, logs/)")
      ->required();
  cmd->add_option("--workers,-w", args->workers, "Local worker processes")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--threads", args->threads,
                  "Threads per worker (default: the spec's training.threads)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--budgets", args->budgets,
                  "Compute budgets in FLOPs for the optimal table (default: 10x, 100x, 1000x the "
                  "largest trial)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  cmd->add_option("--lease-timeout-s", args->lease_timeout_s,
                  "Seconds without a heartbeat before a trial is requeued")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--metrics-listen", args->metrics_listen,
                  "Serve Prometheus /metrics of the embedded coordinator on host:port "
                  "(default: off)");
  cmd->callback([args, exit_code] {
    MakeNewFilesPrivate();  // the store, logs and checkpoints under --out
    *exit_code = Run(*args);
  });
}

}  // namespace scalelaw::cli
