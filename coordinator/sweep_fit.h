// GetFit's work: turns a sweep's ended trials into fitting::Observations and
// fits a law with the fitting library.
//
//   law "chinchilla" (default): L(N, D) = E + A/N^α + B/D^β (approach 3), with
//     N = result.params (total), D = result.tokens, L = result.final_val_loss;
//     optimal points for each requested budget under C = 6·N·D (closed form).
//   law "power": L(C) = E + A·C^(−α) on training compute (result.flops, or
//     6·N·D); optimal points carry compute and loss only.
//
// SUCCEEDED trials are fitted; DIVERGED, FAILED and CANCELLED ones are listed
// in FitResult.excluded as "trial_id: reason"; unfinished trials are skipped.
// Errors: INVALID_ARGUMENT for an unknown law or a bad budget;
// FAILED_PRECONDITION when too few trials have succeeded to fit.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::coordinator {

struct SweepFitOptions {
  int num_threads = 2;
};

// Blocking: a Chinchilla fit runs thousands of starts (seconds).
absl::StatusOr<v1::FitResult> FitSweep(const std::vector<v1::Trial>& trials,
                                       const v1::GetFitRequest& request,
                                       const SweepFitOptions& options = {});

}  // namespace scalelaw::coordinator
