#include "fitting/envelope_fit.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "fitting/allocation_exponents.h"
#include "fitting/csv_table.h"

namespace scalelaw::fitting {
namespace {

// One curve in log coordinates, ascending log C.
struct Curve {
  std::string run;
  double params = 0;
  std::vector<double> log_compute, log_loss, log_tokens;
};

// Linear interpolation of ys at x in ascending xs; x within [xs.front(), xs.back()].
double Interpolate(const std::vector<double>& xs, const std::vector<double>& ys, double x) {
  const auto above = std::lower_bound(xs.begin(), xs.end(), x);
  if (above == xs.begin()) return ys.front();
  if (above == xs.end()) return ys.back();
  const size_t j = static_cast<size_t>(above - xs.begin());
  const double t = (x - xs[j - 1]) / (xs[j] - xs[j - 1]);
  return ys[j - 1] + t * (ys[j] - ys[j - 1]);
}

}  // namespace

absl::StatusOr<EnvelopeFitResult> FitEnvelope(const std::vector<CurvePoint>& points,
                                              const EnvelopeFitOptions& options) {
  if (options.n_flop_values < 3 || options.min_curves < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("envelope fit: need n_flop_values >= 3 and min_curves >= 1, got ",
                     options.n_flop_values, " and ", options.min_curves));
  }
  // Group by run, keeping first-seen order.
  std::map<std::string, size_t> index_of;
  std::vector<std::vector<const CurvePoint*>> groups;
  for (size_t i = 0; i < points.size(); ++i) {
    const CurvePoint& p = points[i];
    if (!(p.params > 0) || !(p.tokens > 0) || !(p.loss > 0) || !(p.flops >= 0) ||
        !std::isfinite(p.params) || !std::isfinite(p.tokens) || !std::isfinite(p.loss) ||
        !std::isfinite(p.flops)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "curve point ", i, " of run '", p.run,
          "': params, tokens and loss must be positive and finite, flops non-negative"));
    }
    const auto [it, inserted] = index_of.emplace(p.run, groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(&p);
  }
  std::vector<Curve> curves;
  for (std::vector<const CurvePoint*>& group : groups) {
    const auto compute = [](const CurvePoint* p) {
      return p->flops > 0 ? p->flops : 6 * p->params * p->tokens;
    };
    std::stable_sort(group.begin(), group.end(), [&](const CurvePoint* l, const CurvePoint* r) {
      return compute(l) < compute(r);
    });
    Curve curve;
    curve.run = group.front()->run;
    curve.params = group.front()->params;
    for (const CurvePoint* p : group) {
      if (p->params != curve.params) {
        return absl::InvalidArgumentError(
            absl::StrCat("run '", curve.run, "': params must be the same along a curve, got ",
                         curve.params, " and ", p->params));
      }
      const double log_c = std::log(compute(p));
      if (!curve.log_compute.empty() && log_c <= curve.log_compute.back()) {
        return absl::InvalidArgumentError(
            absl::StrCat("run '", curve.run, "': two points at the same compute ", compute(p)));
      }
      curve.log_compute.push_back(log_c);
      curve.log_loss.push_back(std::log(p->loss));
      curve.log_tokens.push_back(std::log(p->tokens));
    }
    curves.push_back(std::move(curve));
  }
  if (curves.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("envelope fit needs at least 2 training curves, got ", curves.size()));
  }

  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const Curve& curve : curves) {
    lo = std::min(lo, curve.log_compute.front());
    hi = std::max(hi, curve.log_compute.back());
  }
  EnvelopeFitResult result;
  result.n_flop_values = options.n_flop_values;
  result.n_curves = static_cast<int>(curves.size());
  result.n_points = static_cast<int>(points.size());
  std::vector<double> log_c, log_n, log_d;
  for (int k = 0; k < options.n_flop_values; ++k) {
    const double x = lo + (hi - lo) * k / (options.n_flop_values - 1);
    int reaching = 0, best = -1;
    double best_log_loss = std::numeric_limits<double>::infinity();
    double smallest = std::numeric_limits<double>::infinity(), largest = 0;
    for (size_t c = 0; c < curves.size(); ++c) {
      const Curve& curve = curves[c];
      if (x < curve.log_compute.front() || x > curve.log_compute.back()) continue;
      ++reaching;
      smallest = std::min(smallest, curve.params);
      largest = std::max(largest, curve.params);
      const double log_loss = Interpolate(curve.log_compute, curve.log_loss, x);
      if (log_loss < best_log_loss) best_log_loss = log_loss, best = static_cast<int>(c);
    }
    if (reaching < options.min_curves) {
      ++result.n_too_few_curves;
      continue;
    }
    const Curve& winner = curves[best];
    if (options.drop_edge_minima && (winner.params == smallest || winner.params == largest)) {
      ++result.n_dropped_edge;
      continue;
    }
    EnvelopePoint point;
    point.compute = std::exp(x);
    point.params = winner.params;
    point.tokens = std::exp(Interpolate(winner.log_compute, winner.log_tokens, x));
    point.loss = std::exp(best_log_loss);
    point.run = winner.run;
    log_c.push_back(x);
    log_n.push_back(std::log(point.params));
    log_d.push_back(std::log(point.tokens));
    result.envelope.push_back(std::move(point));
  }
  if (result.envelope.size() < 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "envelope fit: only ", result.envelope.size(), " of ", options.n_flop_values,
        " FLOP values are usable (", result.n_too_few_curves, " reached by fewer than ",
        options.min_curves, " curves, ", result.n_dropped_edge,
        " won by the smallest or largest size); need 3 — add sizes or longer curves"));
  }
  FitAllocationExponents(log_c, log_n, log_d, &result);
  return result;
}

absl::StatusOr<std::vector<CurvePoint>> ReadCurvesCsv(const std::string& path) {
  absl::StatusOr<CsvTable> table = ReadCsvTable(path);
  if (!table.ok()) return table.status();
  int cols[6];
  const std::vector<std::vector<std::string>> names = {{"params", "model_size", "N"},
                                                       {"tokens", "training_tokens", "D"},
                                                       {"loss"},
                                                       {"flops", "compute"},
                                                       {"run"},
                                                       {"id"}};
  for (int k = 0; k < 6; ++k) {
    absl::StatusOr<int> col = table->Column(names[k], k < 3);
    if (!col.ok()) return col.status();
    cols[k] = *col;
  }
  const int run_col = cols[4] >= 0 ? cols[4] : cols[5];
  std::vector<CurvePoint> points;
  for (size_t row = 0; row < table->rows.size(); ++row) {
    CurvePoint point;
    double* fields[] = {&point.params, &point.tokens, &point.loss};
    for (int k = 0; k < 3; ++k) {
      absl::StatusOr<double> value = table->Number(row, cols[k], true);
      if (!value.ok()) return value.status();
      *fields[k] = *value;
    }
    if (cols[3] >= 0 && !table->rows[row][cols[3]].empty()) {
      absl::StatusOr<double> flops = table->Number(row, cols[3], false);
      if (!flops.ok()) return flops.status();
      point.flops = *flops;
    }
    if (run_col >= 0) {
      point.run = table->rows[row][run_col];
    } else {
      char name[40];
      std::snprintf(name, sizeof(name), "N=%.17g", point.params);
      point.run = name;
    }
    points.push_back(std::move(point));
  }
  return points;
}

}  // namespace scalelaw::fitting
