#include "coordinator/coordinator_server.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/limits.h"
#include "common/status_macros.h"
#include "coordinator/coordinator_service.h"
#include "coordinator/forecaster.h"
#include "coordinator/launchers.h"
#include "coordinator/listener_guard.h"
#include "coordinator/metrics.h"
#include "coordinator/metrics_http_server.h"
#include "coordinator/rpc_metrics_interceptor.h"
#include "coordinator/store.h"
#include "coordinator/wal_checkpointer.h"
#include "coordinator/trial_scheduler.h"

namespace scalelaw::coordinator {
namespace {

// How long running RPCs (e.g. open metric streams) get to finish at shutdown
// before they are cancelled.
constexpr auto kShutdownGrace = std::chrono::seconds(2);
// A connection that has not sent HTTP/2 SETTINGS by then is closed (gRPC's
// default is 120 s), so idle sockets do not pile up (listener_guard.h).
constexpr int kHandshakeTimeoutMs = 10000;

// What launched workers dial: `address` with a wildcard host replaced by this
// machine's name.
std::string AdvertisedAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  const std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  if (host != "0.0.0.0" && host != "[::]" && host != "::" && !host.empty()) return address;
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return address;
  return absl::StrCat(name, address.substr(colon == std::string::npos ? address.size() : colon));
}

}  // namespace

CoordinatorServer::CoordinatorServer(const CoordinatorOptions& options) : options_(options) {}

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    const CoordinatorOptions& options) {
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's
  // deadlock detector on: every lock gRPC takes then updates a global lock
  // graph (~2% of the coordinator's CPU under load, behind one more lock).
  // Release builds of gRPC run without it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (options.db_path.empty()) {
    return absl::InvalidArgumentError("db_path: must name the coordinator's SQLite file");
  }
  if (options.lease_timeout.count() <= 0 || options.heartbeat_interval.count() <= 0 ||
      options.expiry_scan_interval.count() <= 0) {
    return absl::InvalidArgumentError(
        "lease_timeout, heartbeat_interval and expiry_scan_interval: must be > 0");
  }
  if (options.heartbeat_interval >= options.lease_timeout) {
    return absl::InvalidArgumentError(absl::StrCat(
        "heartbeat_interval: must be shorter than lease_timeout (", options.lease_timeout.count(),
        " ms), got ", options.heartbeat_interval.count(), " ms"));
  }
  if (options.metrics_retention.count() < 0) {
    return absl::InvalidArgumentError("metrics_retention: must be >= 0");
  }
  if (options.metrics_require_token && options.token.empty()) {
    return absl::InvalidArgumentError(
        "metrics_require_token (--metrics-require-token): the coordinator has no token to "
        "require (give --token-file)");
  }
  std::unique_ptr<CoordinatorServer> server(new CoordinatorServer(options));
  SCALELAW_ASSIGN_OR_RETURN(server->store_, Store::Open(options.db_path));
  SCALELAW_ASSIGN_OR_RETURN(server->checkpointer_,
                            WalCheckpointer::Start(server->store_.get(), options.db_path));
  if (!options.metrics_listen_address.empty()) {
    MetricsOptions metrics_options;
    metrics_options.retention = options.metrics_retention;
    metrics_options.worker_timeout = options.lease_timeout;
#ifdef SCALELAW_VERSION
    metrics_options.version = SCALELAW_VERSION;
#endif
    server->metrics_ = std::make_unique<CoordinatorMetrics>(&server->clock_, metrics_options);
    server->store_->set_observer(server->metrics_.get());
  }
  SchedulerOptions scheduler_options;
  scheduler_options.lease_timeout = options.lease_timeout;
  scheduler_options.allowed_path_roots = options.allowed_path_roots;
  scheduler_options.retry_after = std::min<std::chrono::milliseconds>(
      options.heartbeat_interval, std::chrono::milliseconds(1000));
  server->scheduler_ = std::make_unique<TrialScheduler>(server->store_.get(), &server->clock_,
                                                        scheduler_options, server->metrics_.get());
  SCALELAW_RETURN_IF_ERROR(server->scheduler_->RenewLiveLeases());
  if (server->metrics_) SCALELAW_RETURN_IF_ERROR(server->metrics_->Seed(*server->store_));
  ServiceOptions service_options;
  service_options.heartbeat_interval = options.heartbeat_interval;
  service_options.observer = server->metrics_.get();
  service_options.token = options.token;
  service_options.clock = &server->clock_;
  if (!options.launchers.empty()) {
    // port_ is set while the server is built, before any RPC is served.
    server->launchers_ =
        std::make_unique<Launchers>(server->store_.get(), &server->clock_, [s = server.get()] {
          return s->options_.advertise_address.empty() ? AdvertisedAddress(s->address())
                                                       : s->options_.advertise_address;
        });
    server->launchers_->set_token(!options.token.empty(), options.token_file);
    server->launchers_->set_tls(options.tls.enabled(), options.tls.mutual(), options.worker_tls);
    for (const std::shared_ptr<Launcher>& launcher : options.launchers) {
      server->launchers_->Add(launcher);
    }
    service_options.launchers = server->launchers_.get();
  }
  server->forecaster_ = std::make_unique<Forecaster>(server->store_.get(), &server->clock_,
                                                     ForecastOptions{}, server->metrics_.get());
  server->service_ = std::make_unique<CoordinatorService>(
      server->store_.get(), server->scheduler_.get(), service_options);

  server->credentials_ = grpc::InsecureServerCredentials();
  if (options.tls.enabled()) {
    SCALELAW_ASSIGN_OR_RETURN(server->credentials_, ServerCredentials(options.tls));
  } else if (!options.token.empty() && !IsLoopbackAddress(options.listen_address)) {
    spdlog::warn(
        "INSECURE: the coordinator requires a token but serves plaintext gRPC on {}, off "
        "loopback: the token would cross the network in clear text. Start it with --tls-cert "
        "and --tls-key (clients refuse to send the token otherwise unless told {})",
        options.listen_address, kInsecureTokenFlag);
  }
  if (server->metrics_) {
    SCALELAW_ASSIGN_OR_RETURN(
        server->metrics_http_,
        MetricsHttpServer::Start(
            server->io_, options.metrics_listen_address,
            [metrics = server->metrics_.get()] { return metrics->Scrape(); },
            options.metrics_require_token ? options.token : std::string()));
  }
  const uint64_t open_files = RaiseOpenFileLimit();
  if (open_files != 0 && open_files < 4096) {
    spdlog::warn("the open-file limit is {} (ulimit -n): each connection takes one", open_files);
  }
  WatchAcceptFailures();
  server->accept_failures_seen_ = AcceptFailures();
  SCALELAW_RETURN_IF_ERROR(server->StartGrpc(options.listen_address));

  server->ScheduleExpiryScan();
  server->io_thread_ = std::thread([s = server.get()] { s->io_.run(); });
  return server;
}

absl::Status CoordinatorServer::StartGrpc(const std::string& listen_address) {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen_address, credentials_, &port);
  builder.RegisterService(service_.get());
  builder.SetMaxReceiveMessageSize(limits::kMaxReceiveMessageBytes);  // common/limits.h
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, kHandshakeTimeoutMs);
  if (metrics_) {
    builder.experimental().SetInterceptorCreators(MakeRpcMetricsInterceptors(metrics_.get()));
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on '", listen_address, "' (in use or malformed?",
        options_.tls.enabled() ? " or --tls-cert/--tls-key not a matching certificate and key?"
                               : "",
        ")"));
  }
  std::lock_guard lock(mu_);
  server_ = std::move(server);
  port_ = port;
  return absl::OkStatus();
}

void CoordinatorServer::RestartGrpc() {
  const uint64_t failures = AcceptFailures();
  std::unique_ptr<grpc::Server> old;
  {
    std::lock_guard lock(mu_);
    if (shutting_down_) return;
    old = std::move(server_);
  }
  spdlog::error(
      "the gRPC port {} stopped accepting connections (accept failed: too many open files?); "
      "restarting it, and workers reconnect",
      port_);
  if (old) old->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  old.reset();
  const absl::Status started = StartGrpc(address());
  if (!started.ok()) {
    spdlog::error("restarting the gRPC port failed, trying again in {} ms: {}",
                  options_.expiry_scan_interval.count(), started.ToString());
    return;
  }
  accept_failures_seen_ = failures;
  spdlog::info("the gRPC port {} accepts connections again", port_);
}

CoordinatorServer::~CoordinatorServer() { Shutdown(); }

int CoordinatorServer::metrics_port() const { return metrics_http_ ? metrics_http_->port() : 0; }

std::string CoordinatorServer::address() const {
  const std::string& listen = options_.listen_address;
  const size_t colon = listen.rfind(':');
  return absl::StrCat(colon == std::string::npos ? listen : listen.substr(0, colon), ":", port_);
}

void CoordinatorServer::ScheduleExpiryScan() {
  expiry_timer_.expires_after(options_.expiry_scan_interval);
  expiry_timer_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;  // cancelled at shutdown
    absl::StatusOr<int> expired = scheduler_->ExpireLeases();
    if (!expired.ok()) {
      spdlog::error("lease expiry scan failed: {}", expired.status().ToString());
    } else if (*expired > 0) {
      spdlog::warn("{} lease(s) expired", *expired);
    }
    if (metrics_) metrics_->Refresh();  // retention applies between scrapes too
    if (AcceptFailures() != accept_failures_seen_ && !restarting_.exchange(true)) {
      boost::asio::post(listener_pool_, [this] {
        RestartGrpc();
        restarting_ = false;
      });
    }
    if (!forecast_busy_.exchange(true)) {
      boost::asio::post(forecast_pool_, [this] {
        absl::StatusOr<int> forecast = forecaster_->ForecastReadySweeps();
        if (!forecast.ok()) {
          spdlog::error("forecast failed: {}", forecast.status().ToString());
        } else if (*forecast > 0) {
          spdlog::info("stored the forecasts of {} sweep(s)", *forecast);
        }
        forecast_busy_ = false;
      });
    }
    ScheduleExpiryScan();
  });
}

void CoordinatorServer::Shutdown() {
  {
    std::unique_lock lock(mu_);
    if (shutting_down_) {
      shut_down_cv_.wait(lock, [this] { return shut_down_; });
      return;
    }
    shutting_down_ = true;
  }
  listener_pool_.join();  // a restart of the gRPC port is finished
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  io_.stop();
  if (io_thread_.joinable()) io_thread_.join();
  forecast_pool_.join();  // a forecast being fitted is finished and stored
  {
    std::lock_guard lock(mu_);
    shut_down_ = true;
  }
  shut_down_cv_.notify_all();
}

void CoordinatorServer::Wait() {
  std::unique_lock lock(mu_);
  shut_down_cv_.wait(lock, [this] { return shut_down_; });
}

}  // namespace scalelaw::coordinator
