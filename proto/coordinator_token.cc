#include "proto/coordinator_token.h"

#include <grpcpp/support/client_interceptor.h>

#include <cstdlib>
#include <fstream>
#include <vector>

namespace scalelaw {
namespace {

constexpr char kBearer[] = "Bearer ";

std::string Trimmed(const std::string& text) {
  const char* space = " \t\r\n";
  const size_t first = text.find_first_not_of(space);
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path, const std::string& field) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return absl::InvalidArgumentError(field + ": cannot read token file '" + path + "'");
  }
  std::string token = Trimmed(line);
  if (token.empty()) {
    return absl::InvalidArgumentError(field + ": token file '" + path +
                                      "' is empty (expected the token on its first line)");
  }
  return token;
}

// Adds the token to every call's initial metadata.
class TokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit TokenInterceptor(const std::string& value) : value_(value) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace(kTokenMetadataKey, value_);
    }
    methods->Proceed();
  }

 private:
  const std::string& value_;  // owned by the factory, which outlives the channel's calls
};

class TokenInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(std::string token) : value_(kBearer + token) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new TokenInterceptor(value_);
  }

 private:
  const std::string value_;
};

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    difference |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return difference == 0;
}

}  // namespace

absl::StatusOr<std::string> LoadCoordinatorToken(const std::string& token_file) {
  if (!token_file.empty()) return ReadTokenFile(token_file, "--token-file");
  if (const char* file = std::getenv(kTokenFileEnv); file != nullptr && *file != '\0') {
    return ReadTokenFile(file, std::string("$") + kTokenFileEnv);
  }
  if (const char* token = std::getenv(kTokenEnv); token != nullptr) return Trimmed(token);
  return std::string();
}

std::shared_ptr<grpc::Channel> CoordinatorChannel(const std::string& address,
                                                  const std::string& token) {
  if (token.empty()) return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<TokenInterceptorFactory>(token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      address, grpc::InsecureChannelCredentials(), grpc::ChannelArguments(), std::move(factories));
}

absl::Status CheckCoordinatorToken(const grpc::ServerContextBase& context,
                                   const std::string& expected) {
  if (expected.empty()) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kTokenMetadataKey);
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        "this coordinator requires a token: pass --token-file FILE or set $SCALELAW_TOKEN");
  }
  const std::string_view value(it->second.data(), it->second.size());
  const std::string_view bearer(kBearer);
  if (value.substr(0, bearer.size()) != bearer ||
      !ConstantTimeEquals(value.substr(bearer.size()), expected)) {
    return absl::UnauthenticatedError("the coordinator token does not match this coordinator's");
  }
  return absl::OkStatus();
}

}  // namespace scalelaw
