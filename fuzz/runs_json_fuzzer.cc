// Runs JSON (ParseRunsJson): an array of objects or JSON Lines. Any input may
// be refused with an error; none may crash, and runs the reader accepts must
// be valid observations (what every fit checks first).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fitting/observation.h"
#include "fitting/runs_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace scalelaw::fitting;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<Observation>> runs = ParseRunsJson(text, "fuzz.json");
  if (runs.ok() && !ValidateObservations(*runs).ok()) std::abort();
  return 0;
}
