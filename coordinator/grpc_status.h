// absl::Status -> grpc::Status at the RPC edge. The two code spaces are the
// same numbers (both follow google.rpc.Code).
#pragma once

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace scalelaw::coordinator {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace scalelaw::coordinator
