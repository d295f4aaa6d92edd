// A prepared data directory's meta.json (ParseDatasetMeta). Any input may be
// refused with an error; none may crash, and what the reader accepts must
// survive DatasetMetaToJson and read back with the same counts and dtype.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "data/meta.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace scalelaw::data;
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<DatasetMeta> meta = ParseDatasetMeta(json, "fuzz/meta.json");
  if (!meta.ok()) return 0;
  absl::StatusOr<DatasetMeta> again = ParseDatasetMeta(DatasetMetaToJson(*meta), "again");
  if (!again.ok()) std::abort();
  if (again->vocab_size != meta->vocab_size || again->dtype != meta->dtype ||
      again->train_tokens != meta->train_tokens || again->val_tokens != meta->val_tokens ||
      again->documents != meta->documents || again->inputs.size() != meta->inputs.size()) {
    std::abort();
  }
  return 0;
}
