#include "coordinator/request_limits.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <cmath>
#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/limits.h"
#include "common/status_macros.h"

namespace scalelaw::coordinator {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Free text that is neither an id nor a label: paths, addresses, images.
constexpr size_t kMaxOtherStringBytes = 4096;

size_t MaxBytesOf(const FieldDescriptor& field) {
  const std::string& name = field.name();
  if (name == "hostname") return limits::kMaxHostnameBytes;
  if (name == "reason" || name == "divergence_reason") return limits::kMaxReasonBytes;
  if (name == "spec_yaml") return limits::kMaxSpecYamlBytes;
  if (name == "lease_token" || absl::EndsWith(name, "_id")) return limits::kMaxIdBytes;
  if (name == "device" || name == "launcher_tag") return limits::kMaxLabelBytes;
  return kMaxOtherStringBytes;
}

// Seeds only seed a generator; every other uint64 is a count the store keeps.
bool IsStoredCount(const FieldDescriptor& field) {
  return field.name() != "seed" && field.name() != "seeds";
}

std::string PathOf(const std::string& prefix, const FieldDescriptor& field, int index) {
  std::string path = prefix.empty() ? field.name() : absl::StrCat(prefix, ".", field.name());
  if (index >= 0) absl::StrAppend(&path, "[", index, "]");
  return path;
}

absl::Status CheckString(const std::string& path, const FieldDescriptor& field,
                         const std::string& value) {
  const size_t max = MaxBytesOf(field);
  if (value.size() <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": must be at most ", max, " bytes, got ", value.size()));
}

absl::Status CheckCount(const std::string& path, uint64_t value) {
  if (value <= limits::kMaxStoredCount) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": must be at most ", limits::kMaxStoredCount, " (2^63 - 1), got ", value));
}

absl::Status CheckMessage(const Message& message, const std::string& prefix) {
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);  // only those set: cheap on small messages
  for (const FieldDescriptor* field : fields) {
    const bool repeated = field->is_repeated();
    const int n = repeated ? reflection->FieldSize(message, field) : 1;
    for (int i = 0; i < n; ++i) {
      const std::string path = PathOf(prefix, *field, repeated ? i : -1);
      switch (field->cpp_type()) {
        case FieldDescriptor::CPPTYPE_STRING: {
          if (field->type() == FieldDescriptor::TYPE_BYTES) break;
          std::string scratch;
          const std::string& value =
              repeated ? reflection->GetRepeatedStringReference(message, field, i, &scratch)
                       : reflection->GetStringReference(message, field, &scratch);
          SCALELAW_RETURN_IF_ERROR(CheckString(path, *field, value));
          break;
        }
        case FieldDescriptor::CPPTYPE_UINT64:
          if (IsStoredCount(*field)) {
            SCALELAW_RETURN_IF_ERROR(
                CheckCount(path, repeated ? reflection->GetRepeatedUInt64(message, field, i)
                                          : reflection->GetUInt64(message, field)));
          }
          break;
        case FieldDescriptor::CPPTYPE_MESSAGE:
          if (field->is_map()) break;  // no request carries a map
          SCALELAW_RETURN_IF_ERROR(
              CheckMessage(repeated ? reflection->GetRepeatedMessage(message, field, i)
                                    : reflection->GetMessage(message, field),
                           path));
          break;
        default:
          break;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckListSize(const char* field, int size) {
  if (size <= limits::kMaxRequestListEntries) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": must have at most ", limits::kMaxRequestListEntries, " entries, got ", size));
}

}  // namespace

absl::Status CheckFieldLimits(const Message& request) { return CheckMessage(request, ""); }

absl::Status CheckRequestLimits(const Message& request) { return CheckFieldLimits(request); }

absl::Status CheckRequestLimits(const v1::GetFitRequest& request) {
  if (request.bootstrap() > limits::kMaxBootstrapResamples) {
    return absl::InvalidArgumentError(absl::StrCat("bootstrap: must be at most ",
                                                   limits::kMaxBootstrapResamples,
                                                   " resamples, got ", request.bootstrap()));
  }
  SCALELAW_RETURN_IF_ERROR(CheckListSize("compute_budgets", request.compute_budgets_size()));
  SCALELAW_RETURN_IF_ERROR(CheckListSize("exclude_sizes", request.exclude_sizes_size()));
  return CheckFieldLimits(request);
}

absl::Status CheckRequestLimits(const v1::MetricPoint& point) {
  // The store keeps it in a NOT NULL REAL column, where NaN would be NULL.
  if (!std::isfinite(point.wall_seconds())) {
    return absl::InvalidArgumentError(
        absl::StrCat("wall_seconds: must be finite, got ", point.wall_seconds()));
  }
  return CheckFieldLimits(point);
}

}  // namespace scalelaw::coordinator
