// Chinchilla approach 1: the envelope of training curves (Hoffmann et al.
// 2022, §3.1). At each FLOP value the model size with the lowest loss is
// compute-optimal; power laws through those argmins give N_opt ∝ C^a and
// D_opt ∝ C^b.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace scalelaw::fitting {

// One point along a training curve: after `tokens` tokens the run of
// `params` parameters had validation loss `loss`. Only points whose
// learning-rate schedule ended at that point's own horizon are valid
// (SCIENCE.md): a cosine set for 4x the tokens reads worse at 1/4 of the way.
struct CurvePoint {
  std::string run;  // which curve; points of one run share it
  double params = 0;
  double tokens = 0;
  double loss = 0;
  double flops = 0;  // training FLOPs so far; 0 = 6·N·D
};

struct EnvelopeFitOptions {
  // Log-spaced FLOP values between the smallest and largest compute reached.
  int n_flop_values = 40;
  // A FLOP value counts only where at least this many curves reach it.
  int min_curves = 2;
  // Drop FLOP values whose best curve is the smallest or largest size that
  // reaches them: the true optimum may lie beyond the sampled sizes.
  bool drop_edge_minima = true;
};

// The compute-optimal point at one FLOP value.
struct EnvelopePoint {
  double compute = 0;  // FLOPs
  double params = 0;   // N of the lowest-loss curve
  double tokens = 0;   // its tokens at this compute (interpolated)
  double loss = 0;     // its loss at this compute (interpolated)
  std::string run;
};

struct EnvelopeFitResult {
  // N_opt = params_coefficient·C^a, D_opt = tokens_coefficient·C^b.
  double a = 0;
  double b = 0;
  double params_coefficient = 0;
  double tokens_coefficient = 0;
  std::vector<EnvelopePoint> envelope;  // the FLOP values used, ascending
  int n_flop_values = 0;                // grid size asked for
  int n_dropped_edge = 0;               // argmin at the smallest or largest size
  int n_too_few_curves = 0;             // fewer than min_curves reach it
  int n_curves = 0;
  int n_points = 0;
};

// Per curve (points sorted by compute), interpolates log L and log D
// linearly in log C at each FLOP value the curve reaches; takes the lowest
// loss across curves; then fits log N_opt = log G + a·log C and log D_opt
// likewise by least squares. Errors: InvalidArgument for non-positive or
// non-finite values, two points of one curve at one compute, a curve whose
// params vary, fewer than 2 curves, or fewer than 3 usable FLOP values (with
// a count of how many were dropped and why).
absl::StatusOr<EnvelopeFitResult> FitEnvelope(const std::vector<CurvePoint>& points,
                                              const EnvelopeFitOptions& options = {});

// Reads training curves: columns params (model_size, N), tokens
// (training_tokens, D), loss, optional flops (compute), and run (or id) to
// name the curve; without one, points of equal params form one curve.
absl::StatusOr<std::vector<CurvePoint>> ReadCurvesCsv(const std::string& path);

}  // namespace scalelaw::fitting
