// Bounds on what one RPC may carry, checked at the service's edge before a
// request reaches the scheduler or the store (the limits and why they exist:
// common/limits.h). Every refusal is INVALID_ARGUMENT naming the field path,
// e.g. "hostname: must be at most 255 bytes, got 3900000".
//
// Checked for every request, by field, recursively (SubmitSweep's spec too):
// - strings: ids (fields named *_id, and lease_token) <= 256 bytes, hostname
//   <= 255, reason and divergence_reason <= 4 KiB, spec_yaml <= 1 MiB, short
//   labels (device, launcher_tag) <= 256, any other string <= 4 KiB;
// - unsigned counts (every uint64 field but seeds) must fit int64, as the
//   store keeps them in INTEGER columns;
// plus per message: GetFitRequest.bootstrap <= 100,000 and its lists <=
// 10,000 entries; a MetricPoint's wall_seconds must be finite.
//
// Thread safety: stateless; safe from any thread.
#pragma once

#include "absl/status/status.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace google::protobuf {
class Message;
}

namespace scalelaw::coordinator {

// The field-by-field checks above, for any request message.
absl::Status CheckFieldLimits(const google::protobuf::Message& request);

// CheckFieldLimits plus the checks particular to the message.
absl::Status CheckRequestLimits(const google::protobuf::Message& request);
absl::Status CheckRequestLimits(const v1::GetFitRequest& request);
absl::Status CheckRequestLimits(const v1::MetricPoint& point);

}  // namespace scalelaw::coordinator
