// Credentials the coordinator hands out: a lease token per attempt, and the
// secret part of a worker id.
//
// A lease token is 128 bits from the kernel's CSPRNG (getrandom(2)), in hex.
// LeaseTrial issues one per attempt and stores it with the attempt; every
// Heartbeat, metric point, CompleteTrial and FailTrial about that attempt must
// carry it, so a holder of the coordinator's shared token can no longer act
// for another worker's trial (issue 20). Tokens outlive a restart in the store.
//
// A worker id is "w-<n>.<secret>": the secret makes it unguessable, as a
// worker that asks LeaseTrial again gets its held lease (and token) back.
// Only the public part "w-<n>" leaves the coordinator in answers, reasons and
// metric labels (PublicWorkerId).
//
// Thread safety: the functions are thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace scalelaw::coordinator {

inline constexpr size_t kLeaseTokenBytes = 16;  // 128 bits
inline constexpr size_t kWorkerSecretBytes = 16;

// `bytes` random bytes from getrandom(2), as 2 * bytes lowercase hex digits.
// INTERNAL if the kernel gives none.
absl::StatusOr<std::string> RandomHex(size_t bytes);

// Compares in time that depends only on the lengths, so the time a refusal
// takes tells nothing about how much of a guessed token was right.
bool SameToken(std::string_view a, std::string_view b);

// "w-3.9f0c..." -> "w-3"; an id without a secret is returned whole.
std::string PublicWorkerId(std::string_view worker_id);

}  // namespace scalelaw::coordinator
