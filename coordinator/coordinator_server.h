// A running coordinator: the store, the trial scheduler, the gRPC service on
// `listen_address`, and an Asio io_context thread whose steady_timer scans
// for expired leases every expiry_scan_interval.
//
// Reopening an existing store keeps its LEASED and RUNNING trials leased:
// each gets a fresh lease_timeout, so workers that outlived the restart can
// heartbeat; leases of workers that are gone expire normally.
//
//   auto server = CoordinatorServer::Start({.db_path = "sweeps.db"});
//   if (!server.ok()) ...;
//   std::cout << (*server)->address();   // "127.0.0.1:43117"
//   (*server)->Wait();                   // until Shutdown() from elsewhere
//
// With `metrics_listen_address` set, the same io_context thread serves
// Prometheus metrics (CoordinatorMetrics) at http://HOST:PORT/metrics.
//
// With `launchers`, a submitted sweep's workers are started by the launcher
// its spec names (launcher.kind) and its recorded jobs are cancelled with it
// (coordinator/launchers.h).
//
// Each scan also starts, on a thread of its own, the forecasts of sweeps
// whose ladder has ended (coordinator/forecaster.h); a restarted coordinator
// forecasts what its predecessor had not.
//
// Thread safety: Shutdown() and Wait() may be called from any thread;
// Shutdown is idempotent and also runs in the destructor.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/clock.h"
#include "coordinator/launcher.h"
#include "proto/coordinator_tls.h"

namespace grpc {
class Server;
class ServerCredentials;
}

namespace scalelaw::coordinator {

class CoordinatorMetrics;
class CoordinatorService;
class Forecaster;
class Launchers;
class MetricsHttpServer;
class Store;
class TrialScheduler;
class WalCheckpointer;

struct CoordinatorOptions {
  // host:port; port 0 picks a free one (see port()).
  std::string listen_address = "127.0.0.1:0";
  // SQLite file, created when missing. Required.
  std::string db_path;
  std::chrono::milliseconds lease_timeout{30000};
  std::chrono::milliseconds heartbeat_interval{5000};
  std::chrono::milliseconds expiry_scan_interval{1000};
  // host:port for the Prometheus /metrics endpoint; port 0 picks a free one
  // (see metrics_port()). Empty: no metrics are kept or served.
  std::string metrics_listen_address;
  // How long the series of a finished sweep stay on /metrics.
  std::chrono::milliseconds metrics_retention = std::chrono::minutes(15);
  // /metrics names sweeps, trials and workers: with this set it answers only
  // requests carrying `token` as "Authorization: Bearer <token>" (401
  // otherwise). INVALID_ARGUMENT from Start without a token.
  bool metrics_require_token = false;
  // When not empty, every submitted sweep's data.corpus and
  // training.checkpoint_dir must lie under one of these absolute directories
  // (relative spec paths taken from the coordinator's working directory;
  // sweeps/safe_path.h). Empty: any path the spec validator allows.
  std::vector<std::string> allowed_path_roots;
  // Launchers for sweeps' workers, one per launcher.kind. Empty: the
  // coordinator starts no workers (`scalelaw run` starts its own).
  std::vector<std::shared_ptr<Launcher>> launchers;
  // host:port that launched workers dial when a spec leaves
  // launcher.coordinator_address empty. Empty: the bound listen address, with
  // a wildcard host (0.0.0.0, [::]) replaced by this machine's hostname.
  std::string advertise_address;
  // Every RPC must carry this token (proto/coordinator_token.h); empty: none.
  std::string token;
  // The file the token came from, if any: launched workers are pointed at it
  // (--token-file), so it must be readable where they run. Empty: workers
  // take $SCALELAW_TOKEN from the environment they inherit.
  std::string token_file;
  // TLS for the gRPC port (proto/coordinator_tls.h): off when empty; mutual
  // (client certificates required) with tls.ca_file. With a token, no TLS
  // and a non-loopback listen address, Start warns loudly: the clients, who
  // would send the token, refuse such a channel themselves unless told
  // --insecure-token-over-plaintext.
  ServerTls tls;
  // What launched workers dial the coordinator with (absolute paths visible
  // where they run): the CA that verifies this server, and for mutual TLS
  // their client certificate and key; insecure_token_over_plaintext is passed
  // on to them. Launches a worker could not connect with are refused.
  ClientTls worker_tls;
};

class CoordinatorServer {
 public:
  // Opens the store and starts serving. INVALID_ARGUMENT for bad options,
  // UNAVAILABLE when the address cannot be bound, or the store's error.
  static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(
      const CoordinatorOptions& options);

  ~CoordinatorServer();
  CoordinatorServer(const CoordinatorServer&) = delete;
  CoordinatorServer& operator=(const CoordinatorServer&) = delete;

  // The bound port, and "host:port" for clients.
  int port() const { return port_; }
  std::string address() const;
  // The bound metrics port; 0 when metrics are off.
  int metrics_port() const;

  // Stops accepting RPCs, cancels those still running after a short grace,
  // stops the lease scan. Idempotent.
  void Shutdown();
  // Blocks until Shutdown() has completed.
  void Wait();

  // For in-process use (e.g. `scalelaw run`, tests). Valid until destruction.
  Store& store() { return *store_; }
  TrialScheduler& scheduler() { return *scheduler_; }
  // Null when metrics are off.
  CoordinatorMetrics* metrics() { return metrics_.get(); }

 private:
  explicit CoordinatorServer(const CoordinatorOptions& options);
  void ScheduleExpiryScan();
  // Builds and starts server_ on `listen_address` with credentials_.
  absl::Status StartGrpc(const std::string& listen_address);
  // gRPC stops listening after a failed accept (listener_guard.h): the lease
  // scan sees AcceptFailures() move and has this rebuild the server on the
  // same port, on listener_pool_. A failed rebuild is tried again next scan.
  void RestartGrpc();

  const CoordinatorOptions options_;
  SystemClock clock_;
  // Declared before what reports to it, so it outlives them.
  std::unique_ptr<CoordinatorMetrics> metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<WalCheckpointer> checkpointer_;  // destroyed before store_
  std::unique_ptr<TrialScheduler> scheduler_;
  std::unique_ptr<Launchers> launchers_;  // null without options.launchers
  std::unique_ptr<CoordinatorService> service_;
  std::unique_ptr<Forecaster> forecaster_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  std::unique_ptr<grpc::Server> server_;  // replaced under mu_ by RestartGrpc
  int port_ = 0;
  uint64_t accept_failures_seen_ = 0;  // listener_pool_ only, after Start
  std::atomic<bool> restarting_{false};
  boost::asio::thread_pool listener_pool_{1};

  boost::asio::io_context io_;
  boost::asio::steady_timer expiry_timer_{io_};
  std::unique_ptr<MetricsHttpServer> metrics_http_;  // on io_; destroyed before it
  std::thread io_thread_;
  // Forecast fits take seconds: they run here, off the io_context thread,
  // one at a time (forecast_busy_), started by the lease scan.
  boost::asio::thread_pool forecast_pool_{1};
  std::atomic<bool> forecast_busy_{false};

  std::mutex mu_;
  std::condition_variable shut_down_cv_;
  bool shutting_down_ = false;
  bool shut_down_ = false;
};

}  // namespace scalelaw::coordinator
