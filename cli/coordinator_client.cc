#include "cli/coordinator_client.h"

#include <cstdlib>

#include "proto/coordinator_token.h"

namespace scalelaw::cli {

std::string DefaultCoordinatorAddress() {
  const char* env = std::getenv("SCALELAW_COORDINATOR");
  return env != nullptr && *env != '\0' ? env : "127.0.0.1:50051";
}

void AddCoordinatorTlsFlags(CLI::App& app, ClientTls* tls) {
  app.add_option("--tls-ca", tls->ca_file,
                 "PEM CA that verifies a TLS coordinator's certificate (turns TLS on)");
  app.add_option("--tls-cert", tls->cert_file,
                 "PEM client certificate, for a coordinator that requires one (mutual TLS)");
  app.add_option("--tls-key", tls->key_file, "PEM private key of --tls-cert");
  app.add_flag(kInsecureTokenFlag, tls->insecure_token_over_plaintext,
               "send the token without TLS to a non-loopback coordinator (trusted networks "
               "only; refused otherwise)");
}

CoordinatorClient::CoordinatorClient(std::string address, const std::string& token_file,
                                     const ClientTls& tls)
    : address_(std::move(address)), token_(LoadCoordinatorToken(token_file)) {
  channel_ = ConnectCoordinator(address_, token_.ok() ? *token_ : std::string(), tls);
  // A refused channel makes every Call fail; the stub is never used then.
  stub_ = v1::Coordinator::NewStub(channel_.ok() ? *channel_ : CoordinatorChannel(address_, ""));
}

absl::Status CoordinatorClient::ToStatus(const grpc::Status& status) const {
  if (status.ok()) return absl::OkStatus();
  const std::string message = status.error_code() == grpc::StatusCode::UNAVAILABLE
                                  ? "coordinator at " + address_ +
                                        " is not reachable (start one with `scalelaw "
                                        "coordinator`): " +
                                        status.error_message()
                                  : status.error_message();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), message);
}

}  // namespace scalelaw::cli
