// GetFit's work, and `scalelaw fit --sweep`'s input: turns a sweep's ended
// trials into fitting::Observations and fits a law with the fitting library.
//
//   law "chinchilla" (default): L(N, D) = E + A/N^α + B/D^β (approach 3), with
//     N = result.params (total) or result.non_embedding_params,
//     D = result.tokens, L = result.final_val_loss; optimal points for each
//     requested budget under C = 6·N·D (closed form), with bootstrap
//     intervals when the request asks for them.
//   law "power": L(C) = E + A·C^(−α) on training compute (result.flops, or
//     6·N·D); optimal points carry compute and loss only.
//
// SUCCEEDED trials are fitted unless a filter leaves them out; DIVERGED ones
// are left out unless keep_diverged (and they reported a finite loss);
// FAILED and CANCELLED ones always. Every trial left out is listed as
// "trial_id: reason"; unfinished trials are skipped silently.
#pragma once

#include <string>
#include <vector>

#include <optional>

#include "absl/status/statusor.h"
#include "fitting/bootstrap.h"
#include "fitting/chinchilla_fit.h"
#include "fitting/observation.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::coordinator {

// Which ended trials become points (SCIENCE.md: a fit report shows which
// points were left out and why).
struct TrialFilter {
  double min_tokens = 0;              // leave out trials trained on fewer tokens
  bool drop_diverged = true;          // leave out DIVERGED trials
  std::vector<double> exclude_sizes;  // parameters; matched within 5%
  std::string param_count = "total";  // or "non_embedding": which N to fit
};

struct SweepObservations {
  std::vector<fitting::Observation> observations;  // id = trial id
  std::vector<std::string> excluded;               // "trial_id: reason"
};

// Whether a run of `params` parameters is the excluded size `size`: within 5%,
// so a target count and the built model's exact count both match. The same
// rule for `scalelaw fit --exclude-sizes` on CSV rows and on a sweep's trials.
bool MatchesExcludedSize(double params, double size);

// The points a fit of `trials` uses. A size in exclude_sizes matches a trial
// whose target_params or fitted params lies within 5% of it. Errors:
// InvalidArgument for a bad filter (negative min_tokens, a non-positive
// size, an unknown param_count).
absl::StatusOr<SweepObservations> ObservationsFromTrials(const std::vector<v1::Trial>& trials,
                                                         const TrialFilter& filter);

// The filter a GetFitRequest asks for.
TrialFilter TrialFilterFromRequest(const v1::GetFitRequest& request);

struct SweepFitOptions {
  int num_threads = 2;
};

// Blocking: a Chinchilla fit runs thousands of starts (seconds), and a
// bootstrap one refit per resample. Errors: INVALID_ARGUMENT for an unknown
// law, a bad budget, filter or bootstrap option; FAILED_PRECONDITION when too
// few trials are left to fit.
absl::StatusOr<v1::FitResult> FitSweep(const std::vector<v1::Trial>& trials,
                                       const v1::GetFitRequest& request,
                                       const SweepFitOptions& options = {});

// FitSweep's Chinchilla fit with the fitting library's own results kept
// beside the proto: the residuals and the bootstrap's laws, which a
// prediction interval needs (coordinator/forecaster.h). `request.law` must
// be empty or "chinchilla"; errors as FitSweep's.
struct ChinchillaSweepFit {
  v1::FitResult result;
  fitting::ChinchillaFitResult fit;
  std::optional<fitting::ChinchillaBootstrap> bootstrap;  // with request.bootstrap > 0
};
absl::StatusOr<ChinchillaSweepFit> FitSweepChinchilla(const std::vector<v1::Trial>& trials,
                                                      const v1::GetFitRequest& request,
                                                      const SweepFitOptions& options = {});

}  // namespace scalelaw::coordinator
