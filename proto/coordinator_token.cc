#include "proto/coordinator_token.h"

#include <grpcpp/support/client_interceptor.h>
#include <sys/stat.h>

#include <cstdio>
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

// As ssh does with private keys: a token file that others may read (or
// write) is no secret, so it is refused, naming the fix. A file owned by
// root may also be readable by its group (0640, 0440): that is how a
// Kubernetes Secret reaches a pod's group (fsGroup), and what PostgreSQL
// allows for its keys. stat follows symbolic links (Secret volumes are links).
absl::Status CheckTokenFileMode(const std::string& path, const std::string& field) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    return absl::InvalidArgumentError(field + ": cannot read token file '" + path + "'");
  }
  const mode_t group = info.st_mode & S_IRWXG;
  const mode_t others = info.st_mode & S_IRWXO;
  const bool root_group_read = info.st_uid == 0 && (group & ~S_IRGRP) == 0;
  if (others == 0 && (group == 0 || root_group_read)) return absl::OkStatus();
  char mode[8];
  std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(info.st_mode & 07777));
  return absl::InvalidArgumentError(field + ": token file '" + path + "' is accessible to " +
                                    (others != 0 ? "other users" : "its group") + " (mode " +
                                    mode + "); a token others can read is no secret: chmod 600 " +
                                    path);
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path, const std::string& field) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return absl::InvalidArgumentError(field + ": cannot read token file '" + path + "'");
  }
  SCALELAW_RETURN_IF_ERROR(CheckTokenFileMode(path, field));
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

std::shared_ptr<grpc::Channel> CoordinatorChannel(
    const std::string& address, const std::string& token,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  if (credentials == nullptr) credentials = grpc::InsecureChannelCredentials();
  // A whole sweep's points (ListTrials with metrics, for export and report)
  // outgrow gRPC's default 4 MiB answer long before they trouble memory.
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(1 << 30);
  // Reconnect within ~1 s of a coordinator restart: gRPC's default backoff
  // grows to 120 s (workers took 4-30 s). The minimum is also the shortest
  // connect attempt gRPC allows (it grows with the backoff).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  if (token.empty()) {
    return grpc::CreateCustomChannel(address, credentials, args);
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<TokenInterceptorFactory>(token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      address, credentials, args, std::move(factories));
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
