// A thin client for the Coordinator service used by CLI subcommands: one
// generic call with a deadline, turning gRPC errors into absl::Status messages
// that name the coordinator address. Every call carries the coordinator token
// from `token_file`, $SCALELAW_TOKEN_FILE or $SCALELAW_TOKEN when one is set
// (proto/coordinator_token.h), over TLS when `tls` says so
// (proto/coordinator_tls.h); a token is never sent in clear text off loopback.
#pragma once

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/coordinator_tls.h"
#include "scalelaw/v1/coordinator.grpc.pb.h"

namespace scalelaw::cli {

// The address subcommands use when --coordinator is not given:
// $SCALELAW_COORDINATOR, else 127.0.0.1:50051.
std::string DefaultCoordinatorAddress();

// Adds --tls-ca, --tls-cert, --tls-key and --insecure-token-over-plaintext,
// the flags of every command that dials a coordinator, to `app`.
void AddCoordinatorTlsFlags(CLI::App& app, ClientTls* tls);

class CoordinatorClient {
 public:
  explicit CoordinatorClient(std::string address, const std::string& token_file = "",
                             const ClientTls& tls = {});

  // Calls `method` on the stub, e.g. Call(&Stub::GetSweep, request, &reply).
  template <typename Request, typename Response>
  absl::Status Call(grpc::Status (v1::Coordinator::Stub::*method)(grpc::ClientContext*,
                                                                  const Request&, Response*),
                    const Request& request, Response* response,
                    std::chrono::seconds timeout = std::chrono::seconds(30)) {
    if (!token_.ok()) return token_.status();
    if (!channel_.ok()) return channel_.status();
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    return ToStatus((stub_.get()->*method)(&context, request, response));
  }

  const std::string& address() const { return address_; }

 private:
  absl::Status ToStatus(const grpc::Status& status) const;

  std::string address_;
  absl::StatusOr<std::string> token_;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel_;  // a refusal (no TLS, bad files)
  std::unique_ptr<v1::Coordinator::Stub> stub_;
};

}  // namespace scalelaw::cli
