#include "proto/coordinator_token.h"

#include <grpcpp/support/client_interceptor.h>

#include <cstdlib>
#include <fstream>
#include <vector>

#include "common/status_macros.h"

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

// gRPC metadata values are printable ASCII; a token with anything else would
// be refused on the wire with a less helpful message.
absl::StatusOr<std::string> Checked(std::string token, const std::string& source) {
  if (token.empty()) {
    return absl::InvalidArgumentError(
        source + ": the token is empty (unset it to run without a token, or give one)");
  }
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          source + ": the token must be printable ASCII without spaces (e.g. openssl rand -hex 32)");
    }
  }
  return token;
}

}  // namespace

absl::StatusOr<std::string> LoadCoordinatorToken(const std::string& token_file) {
  if (!token_file.empty()) {
    SCALELAW_ASSIGN_OR_RETURN(std::string token, ReadTokenFile(token_file, "--token-file"));
    return Checked(std::move(token), "--token-file " + token_file);
  }
  if (const char* file = std::getenv(kTokenFileEnv); file != nullptr && *file != '\0') {
    const std::string source = std::string("$") + kTokenFileEnv;
    SCALELAW_ASSIGN_OR_RETURN(std::string token, ReadTokenFile(file, source));
    return Checked(std::move(token), source + " (" + file + ")");
  }
  // Set but blank fails closed: a Secret or a deployment that meant to give a
  // token and gave none must not leave the coordinator open.
  if (const char* token = std::getenv(kTokenEnv); token != nullptr) {
    return Checked(Trimmed(token), std::string("$") + kTokenEnv);
  }
  return std::string();
}

std::shared_ptr<grpc::Channel> CoordinatorChannel(const std::string& address,
                                                  const std::string& token) {
  // A whole sweep's points (ListTrials with metrics, for export and report)
  // outgrow gRPC's default 4 MiB answer long before they trouble memory.
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(1 << 30);
  if (token.empty()) {
    return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<TokenInterceptorFactory>(token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      address, grpc::InsecureChannelCredentials(), args, std::move(factories));
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
