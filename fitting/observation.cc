#include "fitting/observation.h"

#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"

namespace scalelaw::fitting {
namespace {

std::string Describe(const Observation& obs, size_t index) {
  if (obs.id.empty()) return absl::StrCat("observation ", index);
  return absl::StrCat("observation '", obs.id, "' (index ", index, ")");
}

}  // namespace

double ComputeOf(const Observation& obs) {
  return obs.flops > 0 ? obs.flops : 6.0 * obs.params * obs.tokens;
}

absl::Status ValidateObservations(const std::vector<Observation>& observations) {
  for (size_t i = 0; i < observations.size(); ++i) {
    const Observation& obs = observations[i];
    const struct {
      const char* name;
      double value;
    } fields[] = {{"params", obs.params}, {"tokens", obs.tokens}, {"loss", obs.loss}};
    for (const auto& field : fields) {
      if (!std::isfinite(field.value) || field.value <= 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            Describe(obs, i), ": ", field.name, " must be positive and finite, got ", field.value));
      }
    }
    if (!std::isfinite(obs.flops) || obs.flops < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          Describe(obs, i), ": flops must be finite and non-negative, got ", obs.flops));
    }
    if (!std::isfinite(obs.budget) || obs.budget < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          Describe(obs, i), ": budget must be finite and non-negative, got ", obs.budget));
    }
  }
  return absl::OkStatus();
}

absl::Status FilterExcluded(const std::vector<Observation>& observations,
                            const std::vector<std::string>& exclude_ids,
                            std::vector<Observation>* kept) {
  std::set<std::string> unused(exclude_ids.begin(), exclude_ids.end());
  const std::set<std::string> excluded = unused;
  kept->clear();
  for (const Observation& obs : observations) {
    if (excluded.count(obs.id) > 0) {
      unused.erase(obs.id);
    } else {
      kept->push_back(obs);
    }
  }
  if (!unused.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("exclude: no observation has id '", *unused.begin(), "'"));
  }
  return absl::OkStatus();
}

}  // namespace scalelaw::fitting
