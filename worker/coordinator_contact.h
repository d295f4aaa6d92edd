// One clock for "the coordinator has not answered this worker since ...".
//
// Every call the worker makes (registration, lease, heartbeat, metric stream,
// completion) reports whether the coordinator answered it, so that all of
// them agree on how long the coordinator has been unreachable and give up at
// the same moment: connect_timeout after the first unanswered call that
// followed the last answer. A refusal (NOT_FOUND, FAILED_PRECONDITION, ...)
// is an answer: the coordinator is up.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <mutex>
#include <optional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace grpc {
class Status;
}

namespace scalelaw::worker {

class CoordinatorContact {
 public:
  explicit CoordinatorContact(absl::Duration give_up_after) : give_up_after_(give_up_after) {}

  // Feeds the clock from a call sent at `sent_at` that ended with `status`:
  // UNAVAILABLE and DEADLINE_EXCEEDED are no answer, anything else is one.
  void Record(const grpc::Status& status, absl::Time sent_at);
  // The coordinator answered (an OK, an acknowledgement, or a refusal).
  void Answered();
  // A call sent at `sent_at` got no answer. Unreachable since then, or since
  // the last answer if that came later.
  void NoAnswer(absl::Time sent_at);

  // Zero while the coordinator answers; else how long it has not.
  absl::Duration UnreachableFor() const;
  // True once UnreachableFor() exceeds give_up_after.
  bool GaveUp() const { return UnreachableFor() > give_up_after_; }
  absl::Duration give_up_after() const { return give_up_after_; }

 private:
  const absl::Duration give_up_after_;
  mutable std::mutex mu_;
  absl::Time last_answer_ = absl::InfinitePast();  // guarded by mu_
  std::optional<absl::Time> unreachable_since_;    // guarded by mu_
};

// True for the codes that mean the coordinator did not answer the call.
bool IsNoAnswer(const grpc::Status& status);

}  // namespace scalelaw::worker
