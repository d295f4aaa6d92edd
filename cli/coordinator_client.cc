#include "cli/coordinator_client.h"

#include <cstdlib>

#include "proto/coordinator_token.h"

namespace scalelaw::cli {

std::string DefaultCoordinatorAddress() {
  const char* env = std::getenv("SCALELAW_COORDINATOR");
  return env != nullptr && *env != '\0' ? env : "127.0.0.1:50051";
}

CoordinatorClient::CoordinatorClient(std::string address, const std::string& token_file)
    : address_(std::move(address)),
      token_(LoadCoordinatorToken(token_file)),
      stub_(v1::Coordinator::NewStub(
          CoordinatorChannel(address_, token_.ok() ? *token_ : std::string()))) {}

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
