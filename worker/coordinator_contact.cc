#include "worker/coordinator_contact.h"

#include <grpcpp/support/status.h>

#include <algorithm>

namespace scalelaw::worker {

bool IsNoAnswer(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

void CoordinatorContact::Record(const grpc::Status& status, absl::Time sent_at) {
  if (IsNoAnswer(status)) {
    NoAnswer(sent_at);
  } else {
    Answered();
  }
}

void CoordinatorContact::Answered() {
  std::lock_guard<std::mutex> lock(mu_);
  last_answer_ = absl::Now();
  unreachable_since_.reset();
}

void CoordinatorContact::NoAnswer(absl::Time sent_at) {
  std::lock_guard<std::mutex> lock(mu_);
  // A call sent before the last answer says nothing about the time before it.
  const absl::Time since = std::max(sent_at, last_answer_);
  if (!unreachable_since_ || since < *unreachable_since_) unreachable_since_ = since;
}

absl::Duration CoordinatorContact::UnreachableFor() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!unreachable_since_) return absl::ZeroDuration();
  return std::max(absl::Now() - *unreachable_since_, absl::ZeroDuration());
}

}  // namespace scalelaw::worker
