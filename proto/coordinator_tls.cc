#include "proto/coordinator_tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "proto/coordinator_token.h"

namespace scalelaw {
namespace {

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// The host of a gRPC target, without scheme, brackets or port.
std::string_view TargetHost(std::string_view address) {
  for (std::string_view scheme : {"dns:///", "dns:", "ipv4:", "ipv6:"}) {
    if (StartsWith(address, scheme)) {
      address.remove_prefix(scheme.size());
      break;
    }
  }
  // dns://AUTHORITY/host:port names a DNS server first.
  if (StartsWith(address, "//")) {
    const size_t slash = address.find('/', 2);
    address.remove_prefix(slash == std::string_view::npos ? address.size() : slash + 1);
  }
  const size_t comma = address.find(',');  // ipv4:a:1,b:2 — the first address decides
  address = address.substr(0, comma);
  if (StartsWith(address, "[")) {
    const size_t close = address.find(']');
    return close == std::string_view::npos ? address.substr(1) : address.substr(1, close - 1);
  }
  const size_t colon = address.find(':');
  if (colon != std::string_view::npos && address.find(':', colon + 1) != std::string_view::npos) {
    return address;  // a bare IPv6 address, no port
  }
  return address.substr(0, colon);
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> ReadPemFile(const std::string& path, const std::string& flag) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": must name a PEM file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read '", path, "': ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read '", path, "'"));
  }
  std::string pem = text.str();
  if (pem.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, ": '", path, "' is empty"));
  if (pem.find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": '", path, "' is not PEM (expected a -----BEGIN ...----- block)"));
  }
  return pem;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(const ClientTls& tls) {
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(tls.cert_file.empty()
                                          ? "--tls-cert: required with --tls-key"
                                          : "--tls-key: required with --tls-cert");
  }
  grpc::SslCredentialsOptions options;
  if (!tls.ca_file.empty()) {
    SCALELAW_ASSIGN_OR_RETURN(options.pem_root_certs, ReadPemFile(tls.ca_file, "--tls-ca"));
  }
  if (!tls.cert_file.empty()) {
    SCALELAW_ASSIGN_OR_RETURN(options.pem_cert_chain, ReadPemFile(tls.cert_file, "--tls-cert"));
    SCALELAW_ASSIGN_OR_RETURN(options.pem_private_key, ReadPemFile(tls.key_file, "--tls-key"));
  }
  return grpc::SslCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const ServerTls& tls) {
  if (tls.cert_file.empty() || tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(tls.cert_file.empty() ? "--tls-cert" : "--tls-key",
                     ": required to serve TLS (give --tls-cert and --tls-key together",
                     tls.ca_file.empty() ? ")" : "; --tls-ca only adds client verification)"));
  }
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  SCALELAW_ASSIGN_OR_RETURN(pair.cert_chain, ReadPemFile(tls.cert_file, "--tls-cert"));
  SCALELAW_ASSIGN_OR_RETURN(pair.private_key, ReadPemFile(tls.key_file, "--tls-key"));
  grpc::SslServerCredentialsOptions options(
      tls.mutual() ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                   : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (tls.mutual()) {
    SCALELAW_ASSIGN_OR_RETURN(options.pem_root_certs, ReadPemFile(tls.ca_file, "--tls-ca"));
  }
  return grpc::SslServerCredentials(options);
}

bool IsLoopbackAddress(std::string_view address) {
  if (StartsWith(address, "unix:") || StartsWith(address, "unix-abstract:")) return true;
  const std::string host(TargetHost(address));
  if (EqualsIgnoringCase(host, "localhost")) return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

absl::Status CheckTokenTransport(const std::string& address, bool has_token, const ClientTls& tls) {
  if (!has_token || tls.enabled() || IsLoopbackAddress(address)) return absl::OkStatus();
  if (tls.insecure_token_over_plaintext) {
    std::fprintf(stderr,
                 "WARNING: sending the coordinator token to %s in CLEAR TEXT (%s): anyone on "
                 "the network path can read it and act as any worker; use --tls-ca\n",
                 address.c_str(), kInsecureTokenFlag);
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "coordinator ", address,
      ": refusing to send the token over a plaintext channel to a non-loopback address; "
      "use --tls-ca FILE (and --tls-cert/--tls-key if the coordinator requires client "
      "certificates) with a coordinator started with --tls-cert/--tls-key, or pass ",
      kInsecureTokenFlag, " on a network you trust"));
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> ConnectCoordinator(const std::string& address,
                                                                  const std::string& token,
                                                                  const ClientTls& tls) {
  SCALELAW_RETURN_IF_ERROR(CheckTokenTransport(address, !token.empty(), tls));
  if (!tls.enabled()) return CoordinatorChannel(address, token);
  SCALELAW_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                            ClientCredentials(tls));
  return CoordinatorChannel(address, token, std::move(credentials));
}

}  // namespace scalelaw
