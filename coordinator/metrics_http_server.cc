#include "coordinator/metrics_http_server.h"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"

namespace scalelaw::coordinator {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// A new connection gets kFirstRequestTimeout to send its request, a kept-
// alive one kIdleTimeout between requests (Prometheus scrapes every 15-60 s):
// idle sockets that never ask hold no file descriptor for long.
constexpr auto kFirstRequestTimeout = std::chrono::seconds(10);
constexpr auto kIdleTimeout = std::chrono::seconds(60);
// Connections served at once; more are closed as they are accepted, so a
// flood cannot take every file descriptor the gRPC port needs.
constexpr int kMaxSessions = 128;
// After a failed accept (e.g. EMFILE) the acceptor waits this long before it
// tries again, rather than spinning on the error.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Compares in constant time, so the answer's timing says nothing of how much
// of a guessed token was right.
bool ConstantTimeEquals(beast::string_view a, std::string_view b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    difference |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return difference == 0;
}

// One client connection: read a request, answer it, repeat while kept alive.
// Owned by the shared_ptr its pending handler holds.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<const MetricsHttpServer::RenderFn> render,
          std::shared_ptr<const std::string> authorization, std::shared_ptr<int> sessions)
      : stream_(std::move(socket)),
        render_(std::move(render)),
        authorization_(std::move(authorization)),
        sessions_(std::move(sessions)) {
    ++*sessions_;
  }
  ~Session() { --*sessions_; }

  void Read() {
    request_ = {};
    stream_.expires_after(answered_ ? kIdleTimeout : kFirstRequestTimeout);
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code error, size_t) {
                       if (error) return self->Close();
                       self->Answer();
                     });
  }

 private:
  void Answer() {
    answered_ = true;
    response_ = {};
    response_.version(request_.version());
    response_.keep_alive(request_.keep_alive());
    response_.set(http::field::server, "scalelaw-coordinator");
    const bool get = request_.method() == http::verb::get || request_.method() == http::verb::head;
    const beast::string_view target = request_.target();
    const beast::string_view path = target.substr(0, target.find('?'));
    if (!get) {
      response_.result(http::status::method_not_allowed);
      response_.set(http::field::allow, "GET, HEAD");
      response_.set(http::field::content_type, "text/plain");
      response_.body() = "method not allowed\n";
    } else if (path == "/healthz") {
      response_.result(http::status::ok);
      response_.set(http::field::content_type, "text/plain");
      response_.body() = "ok\n";
    } else if (path != "/metrics") {
      response_.result(http::status::not_found);
      response_.set(http::field::content_type, "text/plain");
      response_.body() = "not found; metrics are at /metrics\n";
    } else if (!authorization_->empty() &&
               !ConstantTimeEquals(request_[http::field::authorization], *authorization_)) {
      response_.result(http::status::unauthorized);
      response_.set(http::field::www_authenticate, "Bearer realm=\"scalelaw\"");
      response_.set(http::field::content_type, "text/plain");
      response_.body() =
          "this coordinator's /metrics requires its token: send Authorization: Bearer TOKEN "
          "(Prometheus: authorization: {credentials_file: FILE} in the scrape config)\n";
    } else {
      response_.result(http::status::ok);
      response_.set(http::field::content_type, kContentType);
      response_.body() = (*render_)();
    }
    response_.prepare_payload();
    if (request_.method() == http::verb::head) response_.body().clear();
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code error, size_t) {
                        if (error || !self->response_.keep_alive()) return self->Close();
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  const std::shared_ptr<const MetricsHttpServer::RenderFn> render_;
  const std::shared_ptr<const std::string> authorization_;
  const std::shared_ptr<int> sessions_;  // open sessions; io_context thread only
  bool answered_ = false;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

}  // namespace

MetricsHttpServer::MetricsHttpServer(boost::asio::io_context& io, RenderFn render,
                                     std::string bearer_token)
    : acceptor_(io),
      retry_timer_(io),
      render_(std::make_shared<const RenderFn>(std::move(render))),
      authorization_(std::make_shared<const std::string>(
          bearer_token.empty() ? std::string() : "Bearer " + bearer_token)) {}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    boost::asio::io_context& io, const std::string& listen_address, RenderFn render,
    std::string bearer_token) {
  const size_t colon = listen_address.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen_address.size()) {
    return absl::InvalidArgumentError(absl::StrCat("metrics listen address '", listen_address,
                                                   "': expected HOST:PORT, e.g. 127.0.0.1:9464"));
  }
  std::string host = listen_address.substr(0, colon);
  const std::string port = listen_address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  beast::error_code error;
  tcp::resolver resolver(io);
  const auto endpoints =
      resolver.resolve(host.empty() ? "0.0.0.0" : host, port,
                       tcp::resolver::passive | tcp::resolver::numeric_service, error);
  if (error || endpoints.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics listen address '", listen_address, "': ", error.message()));
  }
  std::unique_ptr<MetricsHttpServer> server(
      new MetricsHttpServer(io, std::move(render), std::move(bearer_token)));
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  server->acceptor_.open(endpoint.protocol(), error);
  if (!error) server->acceptor_.set_option(boost::asio::socket_base::reuse_address(true), error);
  if (!error) server->acceptor_.bind(endpoint, error);
  if (!error) server->acceptor_.listen(boost::asio::socket_base::max_listen_connections, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on '", listen_address, "': ", error.message()));
  }
  server->port_ = server->acceptor_.local_endpoint().port();
  server->Accept();
  return server;
}

void MetricsHttpServer::Accept() {
  acceptor_.async_accept([this](beast::error_code error, tcp::socket socket) {
    if (error == boost::asio::error::operation_aborted) return;
    if (error) {
      retry_timer_.expires_after(kAcceptRetry);
      retry_timer_.async_wait([this](beast::error_code wait_error) {
        if (!wait_error) Accept();
      });
      return;
    }
    if (*sessions_ < kMaxSessions) {
      std::make_shared<Session>(std::move(socket), render_, authorization_, sessions_)->Read();
    }  // else the socket closes here
    Accept();
  });
}

}  // namespace scalelaw::coordinator
