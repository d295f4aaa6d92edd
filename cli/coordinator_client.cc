#include "cli/coordinator_client.h"

#include <cstdlib>

namespace scalelaw::cli {

std::string DefaultCoordinatorAddress() {
  const char* env = std::getenv("SCALELAW_COORDINATOR");
  return env != nullptr && *env != '\0' ? env : "127.0.0.1:50051";
}

CoordinatorClient::CoordinatorClient(std::string address)
    : address_(std::move(address)),
      stub_(v1::Coordinator::NewStub(
          grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()))) {}

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
