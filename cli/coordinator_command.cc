// `scalelaw coordinator`: the long-running gRPC coordinator with its SQLite store.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/worker_binary.h"
#include "coordinator/coordinator_server.h"
#include "coordinator/kubernetes_launcher.h"
#include "coordinator/local_launcher.h"
#include "coordinator/slurm_launcher.h"
#include "common/private_files.h"
#include "common/status_macros.h"
#include "proto/coordinator_tls.h"
#include "proto/coordinator_token.h"

namespace scalelaw::cli {
namespace {

// The coordinator's TLS files and its launched workers', as absolute paths
// (workers run in other directories, or on other machines sharing the
// disk), read once now so a bad file fails at start, naming its flag, rather
// than at the first handshake or launch.
absl::Status ResolveTls(ServerTls tls, ClientTls worker_tls,
                        coordinator::CoordinatorOptions* options) {
  for (std::string* path : {&tls.cert_file, &tls.key_file, &tls.ca_file, &worker_tls.ca_file,
                            &worker_tls.cert_file, &worker_tls.key_file}) {
    if (!path->empty()) *path = std::filesystem::absolute(*path).string();
  }
  if (tls.enabled()) SCALELAW_RETURN_IF_ERROR(ServerCredentials(tls).status());
  if (!tls.enabled() && worker_tls.enabled()) {
    return absl::InvalidArgumentError(
        "--worker-tls-ca, --worker-tls-cert, --worker-tls-key: only with --tls-cert and "
        "--tls-key (a plaintext coordinator gives its workers no TLS)");
  }
  if (worker_tls.cert_file.empty() != worker_tls.key_file.empty()) {
    return absl::InvalidArgumentError(worker_tls.cert_file.empty()
                                          ? "--worker-tls-cert: required with --worker-tls-key"
                                          : "--worker-tls-key: required with --worker-tls-cert");
  }
  if (worker_tls.ca_file.empty()) worker_tls.ca_file = tls.ca_file;
  for (const auto& [path, flag] :
       {std::pair{worker_tls.ca_file, "--worker-tls-ca"},
        std::pair{worker_tls.cert_file, "--worker-tls-cert"},
        std::pair{worker_tls.key_file, "--worker-tls-key"}}) {
    if (!path.empty()) SCALELAW_RETURN_IF_ERROR(ReadPemFile(path, flag).status());
  }
  options->tls = std::move(tls);
  options->worker_tls = std::move(worker_tls);
  return absl::OkStatus();
}

}  // namespace

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
    std::vector<std::string> allow_path_roots;  // empty: any path the validator allows
    bool metrics_require_token = false;
    ServerTls tls;         // --tls-cert, --tls-key, --tls-ca
    ClientTls worker_tls;  // --worker-tls-*, --insecure-token-over-plaintext
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
      "With --tls-cert and --tls-key the gRPC port serves TLS; with --tls-ca as well, only\n"
      "clients presenting a certificate signed by that CA get in (mutual TLS). Launched\n"
      "workers get --tls-ca from --worker-tls-ca (default: --tls-ca) and, for mutual TLS,\n"
      "--worker-tls-cert/--worker-tls-key (Kubernetes: launcher.kubernetes.tls_secret).\n"
      "Clients refuse to send the token without TLS off loopback unless given\n"
      "--insecure-token-over-plaintext; so does this coordinator for its launched workers.\n\n"
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
  cmd->add_option("--allow-path-root", args->allow_path_roots,
                  "Directory under which every sweep's data.corpus and training.checkpoint_dir "
                  "must lie (repeatable; relative spec paths are taken from this coordinator's "
                  "working directory; default: anywhere but system directories)");
  cmd->add_flag("--metrics-require-token", args->metrics_require_token,
                "Answer /metrics only to requests carrying the token (Authorization: Bearer "
                "TOKEN; Prometheus: authorization: {credentials_file: FILE}); 401 otherwise");
  cmd->add_option("--tls-cert", args->tls.cert_file,
                  "PEM certificate (chain) to serve TLS with; its names must cover the address "
                  "clients dial");
  cmd->add_option("--tls-key", args->tls.key_file, "PEM private key of --tls-cert");
  cmd->add_option("--tls-ca", args->tls.ca_file,
                  "PEM CA: require every client to present a certificate it signed (mutual TLS)");
  cmd->add_option("--worker-tls-ca", args->worker_tls.ca_file,
                  "PEM CA launched workers verify this coordinator with (default: --tls-ca)");
  cmd->add_option("--worker-tls-cert", args->worker_tls.cert_file,
                  "PEM client certificate for launched workers (mutual TLS)");
  cmd->add_option("--worker-tls-key", args->worker_tls.key_file,
                  "PEM private key of --worker-tls-cert");
  cmd->add_flag(kInsecureTokenFlag, args->worker_tls.insecure_token_over_plaintext,
                "let launched workers send the token without TLS to a non-loopback address "
                "(trusted networks only)");
  const CLI::App* backup = AddCoordinatorBackupCommand(*cmd, exit_code);
  cmd->callback([args, exit_code, backup] {
    if (backup->parsed()) return;  // `coordinator backup` ran instead
    MakeNewFilesPrivate();  // store, -wal/-shm, job scripts and logs: 0600 (common/)
    coordinator::CoordinatorOptions options;
    if (absl::Status tls = ResolveTls(args->tls, args->worker_tls, &options); !tls.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(tls.message()).c_str());
      *exit_code = 2;
      return;
    }
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
    options.metrics_require_token = args->metrics_require_token;
    for (const std::string& root : args->allow_path_roots) {
      options.allowed_path_roots.push_back(
          std::filesystem::absolute(root).lexically_normal().string());
    }
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
    std::fprintf(stderr, "coordinator listening on %s (store: %s%s%s)\n",
                 (*server)->address().c_str(), args->db.c_str(),
                 options.token.empty() ? "" : "; token required",
                 !options.tls.enabled()  ? ""
                 : options.tls.mutual() ? "; mutual TLS"
                                        : "; TLS");
    if ((*server)->metrics_port() > 0) {
      const std::string& metrics = args->metrics_listen;
      std::fprintf(stderr, "metrics on http://%s:%d/metrics%s\n",
                   metrics.substr(0, metrics.rfind(':')).c_str(), (*server)->metrics_port(),
                   options.metrics_require_token ? " (token required)" : "");
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
