// The fit report as one self-contained HTML page: inline SVG figures, inline
// CSS, no scripts and nothing fetched over the network, so it opens from a
// file, prints, and can be attached to a message.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "report/report_fits.h"

namespace scalelaw::report {

// The page for `input` and its fits. Figures whose data is missing (no
// IsoFLOP groups, no noise scales) are replaced by a line saying why. Every
// section carries an id, for tests and links: summary, loss-tokens,
// loss-compute, isoflop, optimal, budgets, residuals, extrapolation,
// left-out, noise-scale, and forecast when the input has forecasts.
std::string RenderReportHtml(const ReportInput& input, const ReportFits& fits);

// FitReport followed by RenderReportHtml.
absl::StatusOr<std::string> BuildReportHtml(const ReportInput& input);

// "1.2×10⁹"-style text for a positive number (plain "3.41" between 0.01 and
// 10⁴); `digits` significant figures.
std::string FormatScientific(double value, int digits = 2);

}  // namespace scalelaw::report
