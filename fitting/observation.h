// One finished training run, as the fitting library sees it.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace scalelaw::fitting {

// A measured point of a sweep: a model of `params` parameters trained on
// `tokens` tokens reached `loss`. Which parameter count goes in `params`
// (total or non-embedding, see SCIENCE.md) is the caller's choice; the fits
// echo the label the caller gives them.
struct Observation {
  double params = 0;  // N, parameters
  double tokens = 0;  // D, training tokens
  double loss = 0;    // final validation loss, nats per token
  double flops = 0;   // C, training FLOPs; 0 means unknown (6·N·D is used)
  std::string id;     // names the run in exclusions and residual reports
  // The IsoFLOP budget the run was planned for, FLOPs; 0 = none (IsoFLOP
  // profiles then group runs by their compute rounded to 2 figures).
  double budget = 0;
};

// Training compute of `obs`: its recorded FLOPs, or 6·N·D when none were
// recorded (Kaplan et al. 2020, Hoffmann et al. 2022).
double ComputeOf(const Observation& obs);

// OK when every observation has positive, finite params, tokens and loss and
// non-negative, finite flops. The error names the run (id and index) and the
// field, e.g. "observation 'r7' (index 6): loss must be positive and finite,
// got nan".
absl::Status ValidateObservations(const std::vector<Observation>& observations);

// The observations whose id is not in `exclude_ids`, in their original
// order. An id in `exclude_ids` that names no observation is an error, so a
// typo does not silently leave a run in the fit.
absl::Status FilterExcluded(const std::vector<Observation>& observations,
                            const std::vector<std::string>& exclude_ids,
                            std::vector<Observation>* kept);

}  // namespace scalelaw::fitting
