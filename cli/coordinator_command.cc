// `scalelaw coordinator`: the long-running gRPC coordinator with its SQLite store.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "coordinator/coordinator_server.h"

namespace scalelaw::cli {

void AddCoordinatorCommand(CLI::App& app, int* exit_code) {
  struct Args {
    std::string listen = "127.0.0.1:50051";
    std::string db = "scalelaw.db";
    double lease_timeout_s = 60;
    double heartbeat_interval_s = 5;
    std::string metrics_listen = "127.0.0.1:9464";
    double metrics_retention_s = 900;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = AddSubcommand(
      app, "coordinator", "Run the gRPC coordinator and its SQLite store",
      "Run the coordinator: serves the Coordinator gRPC API, keeps sweeps, trials, leases\n"
      "and metric points in a SQLite store (WAL), and requeues trials whose lease expires.\n"
      "Stops cleanly on SIGINT or SIGTERM; restarting on the same --db resumes every sweep.\n\n"
      "Prometheus metrics are served at http://METRICS-LISTEN/metrics (see\n"
      "deploy/prometheus and deploy/grafana).\n\n"
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
  cmd->callback([args, exit_code] {
    coordinator::CoordinatorOptions options;
    options.listen_address = args->listen;
    options.db_path = args->db;
    options.lease_timeout = std::chrono::milliseconds(std::lround(args->lease_timeout_s * 1000));
    options.heartbeat_interval =
        std::chrono::milliseconds(std::lround(args->heartbeat_interval_s * 1000));
    options.metrics_listen_address = args->metrics_listen;
    options.metrics_retention =
        std::chrono::milliseconds(std::llround(args->metrics_retention_s * 1000));
    auto server = coordinator::CoordinatorServer::Start(options);
    if (!server.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(server.status().message()).c_str());
      *exit_code = 1;
      return;
    }
    std::fprintf(stderr, "coordinator listening on %s (store: %s)\n", (*server)->address().c_str(),
                 args->db.c_str());
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
