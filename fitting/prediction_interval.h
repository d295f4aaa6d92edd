// Prediction intervals for a forecast: where the loss of one run that was not
// fitted should fall, not merely where the law's mean lies. Two sources of
// error add up (Davison & Hinkley 1997, §6.3.3, the bootstrap prediction
// interval): the law itself is uncertain (the parameter bootstrap's laws),
// and a run scatters about the law (the fit's residuals). An interval from
// the laws alone narrows to nothing as runs are added and is wrong for any
// single run; one from the residuals alone ignores extrapolation.
#pragma once

#include <vector>

#include "fitting/bootstrap.h"
#include "fitting/chinchilla_fit.h"

namespace scalelaw::fitting {

struct LossPrediction {
  double loss = 0;  // the point fit's L(N, D)
  // The parameter bootstrap's percentile interval of L(N, D) alone.
  Interval parameter_interval;
  // Percentile interval of L_b(N, D) · exp(−s · (r_j − r̄)) over every
  // bootstrap law b and every residual r_j = log L̂_j − log L_j of the point
  // fit (r̄ their mean), with s = sqrt(n / (n − 5)) restoring the spread the
  // 5 fitted parameters took out of the n residuals.
  Interval prediction_interval;
  // Root mean square of the scaled, centred log residuals: a run's typical relative
  // scatter about the law.
  double residual_scale = 0;
  double level = 0;
};

// The prediction of the loss of a run of `params` and `tokens` from a point
// fit and its bootstrap (which must hold at least one law; its level is the
// intervals' level). With n ≤ 5 residuals the scale factor is undefined and
// the residuals are used unscaled.
LossPrediction PredictLoss(const ChinchillaFitResult& fit, const ChinchillaBootstrap& bootstrap,
                           double params, double tokens);

}  // namespace scalelaw::fitting
