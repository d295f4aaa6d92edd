// The report's figures, one function each. Each returns a Plot ready to
// render; the page decides whether to draw it (Plot::empty) or to say why
// its data is missing.
#pragma once

#include "report/report_fits.h"
#include "report/svg_plot.h"

namespace scalelaw::report {

// Validation loss vs training tokens, one colour per model size: training
// curves where given, final points as markers, the fitted L(N, D) dashed.
Plot LossVsTokensPlot(const ReportInput& input, const ReportFits& fits);

// Final loss vs training compute with the compute-optimal frontier
// L_opt(C) of the Chinchilla fit (bootstrap band) extended to the budgets.
Plot LossVsComputePlot(const ReportInput& input, const ReportFits& fits);

// Loss vs parameters per IsoFLOP budget with the fitted parabola in log N
// and its minimum (Chinchilla approach 2). Empty without IsoFLOP profiles.
Plot IsoflopPlot(const ReportInput& input, const ReportFits& fits);

// N_opt(C) (or D_opt(C) when `tokens`): approach 3's closed form with its
// bootstrap band, the IsoFLOP minima and their power law, and each budget's
// prediction with its interval.
Plot OptimalPlot(const ReportInput& input, const ReportFits& fits, bool tokens);

// log L̂ − log L of each fitted run against its compute, and the held-out
// runs of the extrapolation check as predicted by the refit.
Plot ResidualsPlot(const ReportInput& input, const ReportFits& fits);

// Gradient noise scale vs loss with B_crit(L) = B*/L^(1/α_B). Empty without
// measurements.
Plot NoiseScalePlot(const ReportInput& input, const ReportFits& fits);

}  // namespace scalelaw::report
