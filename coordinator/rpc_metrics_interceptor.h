// A gRPC server interceptor that reports each finished Coordinator RPC (method,
// status code, time from arrival to status) to CoordinatorMetrics, so the
// service itself carries no monitoring code.
//
//   builder.experimental().SetInterceptorCreators(MakeRpcMetricsInterceptors(&metrics));
//
// Lifetime: `metrics` is not owned and must outlive the gRPC server.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <vector>

#include "coordinator/metrics.h"

namespace scalelaw::coordinator {

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
MakeRpcMetricsInterceptors(CoordinatorMetrics* metrics);

}  // namespace scalelaw::coordinator
