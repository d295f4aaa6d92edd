// The coordinator token: a shared secret that, when the coordinator has one,
// every RPC must carry in its "authorization" metadata as "Bearer <token>".
// It keeps strangers on a shared cluster network from submitting, cancelling
// or leasing trials; it is not encryption: off loopback, run the coordinator
// with TLS (proto/coordinator_tls.h), which clients insist on.
//
// Where the token comes from (LoadCoordinatorToken): --token-file FILE, else
// the file named by $SCALELAW_TOKEN_FILE, else $SCALELAW_TOKEN, else none.
// A token file holds the token on its first line (surrounding whitespace is
// ignored), so `openssl rand -hex 32 > token` or a Kubernetes Secret mounted
// as a file both work. The file must be its owner's only (chmod 600; a
// root-owned file may also be group-readable, as a Secret volume with
// fsGroup is): others could read the token otherwise, so it is refused.
//
//   auto channel = ConnectCoordinator("10.0.0.5:50051", token, tls);  // client (coordinator_tls.h)
//   absl::Status s = CheckCoordinatorToken(*context, token);      // server
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace scalelaw {

inline constexpr char kTokenMetadataKey[] = "authorization";
inline constexpr char kTokenEnv[] = "SCALELAW_TOKEN";
inline constexpr char kTokenFileEnv[] = "SCALELAW_TOKEN_FILE";

// The token from `token_file`, $SCALELAW_TOKEN_FILE or $SCALELAW_TOKEN, in
// that order; "" when none is set. INVALID_ARGUMENT (naming the file) for an
// unreadable or empty token file, or one others may read ("chmod 600 FILE").
absl::StatusOr<std::string> LoadCoordinatorToken(const std::string& token_file);

// A channel to `address` whose every call carries `token` (none when
// empty), taking answers up to 1 GiB (a sweep's metric points) and
// reconnecting with a backoff of 100 ms growing to at most 1 s. Plaintext
// unless `credentials` (e.g. TLS from proto/coordinator_tls.h) are given;
// ConnectCoordinator there also refuses a token in clear text off loopback.
std::shared_ptr<grpc::Channel> CoordinatorChannel(
    const std::string& address, const std::string& token,
    std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);

// OK when `expected` is empty or the call carries it; UNAUTHENTICATED
// otherwise, saying whether the token was missing or wrong. Compares in
// constant time.
absl::Status CheckCoordinatorToken(const grpc::ServerContextBase& context,
                                   const std::string& expected);

}  // namespace scalelaw
