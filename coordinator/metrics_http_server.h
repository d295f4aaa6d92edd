// Serves GET /metrics over HTTP/1.1 with Boost.Beast on a caller's
// io_context (the coordinator's own Asio thread), the body coming from a
// render function (CoordinatorMetrics::Scrape).
//
// Why not prometheus-cpp's civetweb Exposer: in a process that also loads
// Ceres/glog (the coordinator links fitting/), civetweb's small fixed worker
// stacks overflowed on the first scrape (DESIGN.md, platform facts). Beast
// runs on the io_context thread, which has a normal stack, needs no extra
// threads, and lets each scrape refresh time-dependent gauges first.
//
//   auto http = MetricsHttpServer::Start(io, "127.0.0.1:9464", [&] { return m.Scrape(); });
//
// With a bearer token, /metrics answers only requests carrying
// "Authorization: Bearer <token>" (compared in constant time) and 401 with
// "WWW-Authenticate: Bearer" otherwise: the series name sweeps, trials and
// workers. Prometheus sends it with `authorization: {credentials_file: FILE}`
// in the scrape config. GET /healthz answers "ok" to anyone (it names
// nothing), for liveness probes. Other paths answer 404; methods other than
// GET and HEAD answer 405.
// Connections are kept alive (Prometheus reuses them) and closed after 60 s
// of idleness, or 10 s when no request came at all; at most 128 are served
// at once (more are closed on accept), and a failed accept (EMFILE) is
// retried after 100 ms, so an idle-connection flood neither spins the
// io_context nor outlives itself.
//
// Lifetime and threads: the render function runs on the io_context's thread.
// Stop the io_context (and join its thread) before destroying the server;
// connections still open then are closed when the io_context is destroyed.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace scalelaw::coordinator {

class MetricsHttpServer {
 public:
  using RenderFn = std::function<std::string()>;

  // Binds `listen_address` ("host:port"; port 0 picks a free one) and starts
  // accepting on `io`; `bearer_token` empty: /metrics is open to anyone who
  // can connect. INVALID_ARGUMENT for a malformed address, UNAVAILABLE when
  // it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      boost::asio::io_context& io, const std::string& listen_address, RenderFn render,
      std::string bearer_token = "");

  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  int port() const { return port_; }

 private:
  MetricsHttpServer(boost::asio::io_context& io, RenderFn render, std::string bearer_token);
  void Accept();

  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  std::shared_ptr<int> sessions_ = std::make_shared<int>(0);
  const std::shared_ptr<const RenderFn> render_;
  // "Bearer <token>", or empty when /metrics is open.
  const std::shared_ptr<const std::string> authorization_;
  int port_ = 0;
};

}  // namespace scalelaw::coordinator
