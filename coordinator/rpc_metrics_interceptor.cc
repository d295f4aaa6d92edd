#include "coordinator/rpc_metrics_interceptor.h"

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "google/protobuf/descriptor.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::coordinator {
namespace {

// "/scalelaw.v1.Coordinator/LeaseTrial" -> "LeaseTrial": the service is
// always the same, and the bare name reads better in a legend. A name that is
// not a Coordinator method (a client calling something unimplemented) becomes
// "unknown", so clients cannot add label values.
std::string MethodLabel(const char* full) {
  static const std::string kPrefix = "/scalelaw.v1.Coordinator/";
  static const google::protobuf::ServiceDescriptor* const kService =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          "scalelaw.v1.Coordinator");
  const std::string method = full == nullptr ? "" : full;
  if (kService == nullptr || method.rfind(kPrefix, 0) != 0) return "unknown";
  const std::string bare = method.substr(kPrefix.size());
  return kService->FindMethodByName(bare) != nullptr ? bare : "unknown";
}

class RpcMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(CoordinatorMetrics* metrics, std::string method)
      : metrics_(metrics), method_(std::move(method)), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      // grpc::StatusCode and absl::StatusCode share google.rpc.Code's numbers.
      const std::string code =
          absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      metrics_->ObserveRpc(method_, code, seconds);
    }
    methods->Proceed();
  }

 private:
  CoordinatorMetrics* const metrics_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
};

class RpcMetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(CoordinatorMetrics* metrics) : metrics_(metrics) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcMetricsInterceptor(metrics_, MethodLabel(info->method()));
  }

 private:
  CoordinatorMetrics* const metrics_;
};

}  // namespace

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
MakeRpcMetricsInterceptors(CoordinatorMetrics* metrics) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<RpcMetricsInterceptorFactory>(metrics));
  return factories;
}

}  // namespace scalelaw::coordinator
