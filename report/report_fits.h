// What the fit report shows, as plain data: the runs and curves it was given
// and every fit it draws (SCIENCE.md's "Fit hygiene every report shows").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fitting/bootstrap.h"
#include "fitting/chinchilla_fit.h"
#include "fitting/compute_optimal.h"
#include "fitting/critical_batch_fit.h"
#include "fitting/envelope_fit.h"
#include "fitting/extrapolation_check.h"
#include "fitting/isoflop_fit.h"
#include "fitting/observation.h"
#include "report/report_forecast.h"

namespace scalelaw::report {

// A run left out of every fit, and why ("diverged: loss nan at step 300",
// "failed: …", "user filter (--exclude)").
struct ExcludedRun {
  std::string id;
  std::string reason;
};

struct ReportInput {
  std::string title;   // e.g. "sweep quickstart-1a2b"
  std::string source;  // where the runs came from: a CSV path or a store
  // Finished runs: N, D, final validation loss, FLOPs, IsoFLOP budget.
  std::vector<fitting::Observation> runs;
  // Runs never fitted (not succeeded, or filtered out before fitting).
  std::vector<ExcludedRun> excluded;
  // Points along training curves (validation loss vs tokens); may be empty,
  // and the report then draws the final points only.
  std::vector<fitting::CurvePoint> curves;
  // Gradient noise scale measurements; may be empty.
  std::vector<fitting::NoiseScalePoint> noise_scales;
  std::string noise_scale_unit = "tokens";
  // FLOP budgets to extrapolate N_opt, D_opt and L_opt to.
  std::vector<double> budgets;
  std::string param_count;  // which count `params` holds ("total", …)
  int bootstrap = 100;      // resamples; 0 = no intervals
  double level = 0.9;
  uint64_t seed = 0;
  int holdout = 3;  // largest-compute runs held out in the extrapolation check
  int num_threads = 2;
  // A sweep's pre-registered forecasts; without any the page has no
  // forecast section.
  ForecastInput forecasts;
};

// The compute-optimal allocation at one budget, with bootstrap intervals
// (lo = hi = the point value when there is no bootstrap).
struct BudgetPrediction {
  fitting::ComputeOptimal optimal;
  fitting::Interval params, tokens, loss;
  bool extrapolated = false;  // beyond the largest compute of any run
};

struct ReportFits {
  fitting::ChinchillaFitResult chinchilla;
  std::optional<fitting::ChinchillaBootstrap> bootstrap;
  std::string bootstrap_note;  // why there is none, when asked for
  std::optional<fitting::IsoflopFitResult> isoflop;
  std::string isoflop_note;  // why there is none (no IsoFLOP groups, …)
  std::optional<fitting::ExtrapolationCheck> extrapolation;
  std::string extrapolation_note;
  std::optional<fitting::CriticalBatchFitResult> critical_batch;
  std::string critical_batch_note;
  std::vector<BudgetPrediction> predictions;  // one per ReportInput::budgets
  std::string predictions_note;               // why there are none although budgets were given
};

enum class OptimalQuantity { kParams, kTokens, kLoss };

// N_opt, D_opt or L_opt of `law` at `compute` under C = 6·N·D (closed form);
// NaN when the law has no finite optimum.
double OptimalQuantityOf(const fitting::ChinchillaParams& law, OptimalQuantity quantity,
                         double compute);

// The bootstrap's percentile interval of that quantity at `compute`;
// {point, point} without a bootstrap.
fitting::Interval OptimalInterval(const fitting::ChinchillaBootstrap* bootstrap,
                                  OptimalQuantity quantity, double compute, double point);

// Runs every fit the report draws: Chinchilla approach 3 (required: its
// errors, e.g. fewer than 5 runs, come back naming the input), then its
// bootstrap, the IsoFLOP profiles, the extrapolation check and the B_crit
// fit, each optional: when one cannot run, its note says why and the page
// says so in place of its figure. Blocking (seconds).
absl::StatusOr<ReportFits> FitReport(const ReportInput& input);

}  // namespace scalelaw::report
