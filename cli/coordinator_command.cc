// `scalelaw coordinator`: the long-running gRPC coordinator with its SQLite store.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "cli/worker_binary.h"
#include "coordinator/coordinator_server.h"
#include "coordinator/kubernetes_launcher.h"
#include "coordinator/local_launcher.h"
#include "coordinator/slurm_launcher.h"
#include "proto/coordinator_token.h"

namespace scalelaw::cli {

void AddCoordinatorCommand(CLI::App& app, int* exit_code) {
  struct Args {
    std::string listen = "127.0.0.1:50051";
    std::string db = "scalelaw.db";
    double lease_timeout_s = 60;
    double heartbeat_interval_s = 5;
    std::string metrics_listen = "127.0.0.1:9464";
    double metrics_retention_s = 900;
    std::string jobs_dir;   // empty: <directory of --db>/jobs
    std::string advertise;  // empty: the listen address (wildcard host -> hostname)
    std::string token_file;  // empty: $SCALELAW_TOKEN_FILE, else $SCALELAW_TOKEN, else none
    std::string kubectl = "kubectl";
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = AddSubcommand(
      app, "coordinator", "Run the gRPC coordinator and its SQLite store",
      "Run the coordinator: serves the Coordinator gRPC API, keeps sweeps, trials, leases\n"
      "and metric points in a SQLite store (WAL), and requeues trials whose lease expires.\n"
      "Stops cleanly on SIGINT or SIGTERM; restarting on the same --db resumes every sweep.\n\n"
      "Prometheus metrics are served at http://METRICS-LISTEN/metrics (see\n"
      "deploy/prometheus and deploy/grafana).\n\n"
      "Sweeps whose spec says `launcher: {kind: slurm}` get their workers from the\n"
      "coordinator: on submit it writes JOBS-DIR/SWEEP/workers.sbatch and runs sbatch\n"
      "(run it where sbatch works, e.g. a login node); `sweep cancel` scancels the jobs.\n"
      "`kind: kubernetes` writes JOBS-DIR/kubernetes/SWEEP/job.yaml (an Indexed Job) and\n"
      "applies it with kubectl when kubectl is on PATH; otherwise `sweep submit` tells you\n"
      "to apply it. `kind: local` with `workers: N` starts N worker processes here.\n\n"
      "With a token (--token-file, $SCALELAW_TOKEN_FILE or $SCALELAW_TOKEN) every RPC must\n"
      "carry it; launched workers are given the same file, or inherit $SCALELAW_TOKEN.\n\n"
      "Example: scalelaw coordinator --listen 0.0.0.0:50051 --db /shared/scalelaw.db \\\n"
      "           --metrics-listen 0.0.0.0:9464");
  cmd->add_option("--listen", args->listen, "Address to serve gRPC on (host:port)")
      ->capture_default_str();
  cmd->add_option("--db", args->db, "SQLite store file (created if missing)")
      ->capture_default_str();
  cmd->add_option("--lease-timeout-s", args->lease_timeout_s,
                  "Seconds without a heartbeat before a trial is requeued")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--heartbeat-interval-s", args->heartbeat_interval_s,
                  "Seconds between worker heartbeats (told to workers)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--metrics-listen", args->metrics_listen,
                  "Address to serve Prometheus /metrics on (host:port); empty disables")
      ->capture_default_str();
  cmd->add_option("--metrics-retention-s", args->metrics_retention_s,
                  "Seconds a finished sweep's series stay on /metrics")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--jobs-dir", args->jobs_dir,
                  "Directory for launched workers' batch scripts and logs, visible to the "
                  "compute nodes (default: DIR-OF-DB/jobs)");
  cmd->add_option("--advertise", args->advertise,
                  "host:port launched workers dial when a spec has no "
                  "launcher.coordinator_address (default: the listen address, a wildcard "
                  "host replaced by this machine's name)");
  cmd->add_option("--kubectl", args->kubectl,
                  "kubectl program for kind: kubernetes sweeps (a missing one: manifests are "
                  "written for you to apply)")
      ->capture_default_str();
  cmd->add_option("--token-file", args->token_file,
                  "File holding the token every RPC must carry (default: $SCALELAW_TOKEN_FILE, "
                  "else $SCALELAW_TOKEN; none: no token is asked for)");
  cmd->callback([args, exit_code] {
    coordinator::CoordinatorOptions options;
    const absl::StatusOr<std::string> token = LoadCoordinatorToken(args->token_file);
    if (!token.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(token.status().message()).c_str());
      *exit_code = 2;
      return;
    }
    options.token = *token;
    const char* env_file = std::getenv(kTokenFileEnv);
    const std::string token_file =
        !args->token_file.empty() ? args->token_file : (env_file != nullptr ? env_file : "");
    if (!token_file.empty()) options.token_file = std::filesystem::absolute(token_file).string();
    options.listen_address = args->listen;
    options.db_path = args->db;
    options.lease_timeout = std::chrono::milliseconds(std::lround(args->lease_timeout_s * 1000));
    options.heartbeat_interval =
        std::chrono::milliseconds(std::lround(args->heartbeat_interval_s * 1000));
    options.metrics_listen_address = args->metrics_listen;
    options.metrics_retention =
        std::chrono::milliseconds(std::llround(args->metrics_retention_s * 1000));
    options.advertise_address = args->advertise;
    const std::filesystem::path jobs_dir = std::filesystem::absolute(
        args->jobs_dir.empty() ? std::filesystem::absolute(args->db).parent_path() / "jobs"
                               : std::filesystem::path(args->jobs_dir));
    coordinator::SlurmLauncherOptions slurm;
    std::error_code error;
    slurm.scalelaw_binary = std::filesystem::read_symlink("/proc/self/exe", error).string();
    slurm.job_dir = jobs_dir / "slurm";
    options.launchers.push_back(std::make_shared<coordinator::SlurmLauncher>(slurm));
    options.launchers.push_back(
        std::make_shared<coordinator::LocalSweepLauncher>(WorkerBinaryPath(), jobs_dir / "local"));
    options.launchers.push_back(std::make_shared<coordinator::KubernetesLauncher>(
        coordinator::KubernetesLauncherOptions{.manifest_dir = jobs_dir / "kubernetes",
                                               .kubectl = args->kubectl}));
    auto server = coordinator::CoordinatorServer::Start(options);
    if (!server.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(server.status().message()).c_str());
      *exit_code = 1;
      return;
    }
    std::fprintf(stderr, "coordinator listening on %s (store: %s%s)\n",
                 (*server)->address().c_str(), args->db.c_str(),
                 options.token.empty() ? "" : "; token required");
    if ((*server)->metrics_port() > 0) {
      const std::string& metrics = args->metrics_listen;
      std::fprintf(stderr, "metrics on http://%s:%d/metrics\n",
                   metrics.substr(0, metrics.rfind(':')).c_str(), (*server)->metrics_port());
    }
    boost::asio::io_context io;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&server](const boost::system::error_code& error, int signal) {
      if (error) return;
      std::fprintf(stderr, "coordinator: signal %d, shutting down\n", signal);
      (*server)->Shutdown();
    });
    std::thread signal_thread([&io] { io.run(); });
    (*server)->Wait();
    io.stop();
    signal_thread.join();
  });
}

}  // namespace scalelaw::cli
