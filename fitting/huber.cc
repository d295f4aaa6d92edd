#include "fitting/huber.h"

#include "absl/strings/str_cat.h"

namespace scalelaw::fitting {

absl::Status ValidateHuberDelta(absl::string_view fit, double delta) {
  if (delta > 0 && std::isfinite(delta)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(fit, ": huber_delta must be positive and finite, got ", delta));
}

}  // namespace scalelaw::fitting
