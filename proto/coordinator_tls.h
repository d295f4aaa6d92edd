// TLS for the coordinator's gRPC channel, and the rule that the coordinator
// token never crosses a network in clear text.
//
// Server: --tls-cert and --tls-key (PEM) turn TLS on; --tls-ca as well makes
// it mutual: every client must present a certificate signed by that CA.
// Client: --tls-ca (the roots that verify the coordinator's certificate) turns
// TLS on; --tls-cert and --tls-key add the client's certificate, for a
// coordinator that requires one. The certificate's names must cover the host
// the client dials (e.g. SAN IP:127.0.0.1 for "127.0.0.1:50051").
//
// A client with a token refuses a plaintext channel to anything but loopback
// (127.0.0.0/8, ::1, localhost, a unix socket) unless told
// --insecure-token-over-plaintext, since anyone on the path could read the
// token and then act as any worker.
//
//   ClientTls tls;
//   tls.ca_file = "ca.pem";
//   auto channel = ConnectCoordinator("10.0.0.5:50051", token, tls);  // StatusOr
//   ServerTls server_tls;  // cert_file, key_file [, ca_file]
//   auto credentials = ServerCredentials(server_tls);
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace scalelaw {

inline constexpr char kInsecureTokenFlag[] = "--insecure-token-over-plaintext";

// A client's TLS files (PEM paths). TLS is on when the CA or a certificate
// is given.
struct ClientTls {
  std::string ca_file;    // --tls-ca; empty with a cert: gRPC's default roots
  std::string cert_file;  // --tls-cert: this client's certificate (chain), for mutual TLS
  std::string key_file;   // --tls-key: its private key
  // --insecure-token-over-plaintext: allow a token over a plaintext channel
  // to a non-loopback address (warned about on stderr).
  bool insecure_token_over_plaintext = false;

  bool enabled() const { return !ca_file.empty() || !cert_file.empty() || !key_file.empty(); }
};

// The coordinator's TLS files (PEM paths). TLS is on when any is given.
struct ServerTls {
  std::string cert_file;  // --tls-cert: the server's certificate (chain)
  std::string key_file;   // --tls-key: its private key
  std::string ca_file;    // --tls-ca: require client certificates signed by this CA

  bool enabled() const { return !cert_file.empty() || !key_file.empty() || !ca_file.empty(); }
  bool mutual() const { return !ca_file.empty(); }
};

// The text of the PEM file `path`. INVALID_ARGUMENT naming `flag` when it is
// missing, unreadable, empty or not PEM.
absl::StatusOr<std::string> ReadPemFile(const std::string& path, const std::string& flag);

// TLS credentials for `tls` (which must be enabled()). INVALID_ARGUMENT
// naming the flag for a missing or unreadable file, or a certificate without
// its key (or a key without its certificate).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(const ClientTls& tls);

// TLS server credentials for `tls` (which must be enabled()); errors as
// ClientCredentials', and --tls-cert/--tls-key are both required.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const ServerTls& tls);

// Whether the gRPC target `address` ("host:port", "[::1]:port",
// "dns:///host:port", "ipv4:...", "unix:...") names this machine's loopback:
// 127.0.0.0/8, ::1, ::ffff:127.x, "localhost" or a unix socket. Other names
// are not resolved, so they count as remote.
bool IsLoopbackAddress(std::string_view address);

// OK unless a client with a token would send it over a plaintext channel to
// a non-loopback `address`: FAILED_PRECONDITION then, saying to use
// --tls-ca, unless tls.insecure_token_over_plaintext (a warning is printed).
absl::Status CheckTokenTransport(const std::string& address, bool has_token, const ClientTls& tls);

// A channel to the coordinator at `address` carrying `token` (see
// CoordinatorChannel), over TLS when tls.enabled(). Errors from
// ClientCredentials and CheckTokenTransport.
absl::StatusOr<std::shared_ptr<grpc::Channel>> ConnectCoordinator(const std::string& address,
                                                                  const std::string& token,
                                                                  const ClientTls& tls);

}  // namespace scalelaw
