#include "fitting/isoflop_fit.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "fitting/allocation_exponents.h"

namespace scalelaw::fitting {
namespace {

struct Parabola {
  double c0 = 0, c1 = 0, c2 = 0;  // in the centred variable v = u − shift
  double shift = 0;
};

// Least-squares y = c₀ + c₁·v + c₂·v², v = u − mean(u) for conditioning;
// the 3×3 normal equations solved by Cramer's rule.
Parabola FitParabola(const std::vector<double>& u, const std::vector<double>& y) {
  Parabola p;
  for (double value : u) p.shift += value / u.size();
  double s[5] = {0, 0, 0, 0, 0}, t[3] = {0, 0, 0};
  for (size_t i = 0; i < u.size(); ++i) {
    const double v = u[i] - p.shift;
    double power = 1;
    for (int k = 0; k < 5; ++k) {
      s[k] += power;
      if (k < 3) t[k] += power * y[i];
      power *= v;
    }
  }
  const auto det3 = [](double a, double b, double c, double d, double e, double f, double g,
                       double h, double i) {
    return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  };
  const double det = det3(s[0], s[1], s[2], s[1], s[2], s[3], s[2], s[3], s[4]);
  if (det == 0) return p;
  p.c0 = det3(t[0], s[1], s[2], t[1], s[2], s[3], t[2], s[3], s[4]) / det;
  p.c1 = det3(s[0], t[0], s[2], s[1], t[1], s[3], s[2], t[2], s[4]) / det;
  p.c2 = det3(s[0], s[1], t[0], s[1], s[2], t[1], s[2], s[3], t[2]) / det;
  return p;
}

}  // namespace

double BucketCompute(double compute) {
  if (!(compute > 0) || !std::isfinite(compute)) return compute;
  const double scale = std::pow(10.0, std::floor(std::log10(compute)) - 1);
  return std::round(compute / scale) * scale;
}

absl::StatusOr<IsoflopFitResult> FitIsoflop(const std::vector<Observation>& observations,
                                            const IsoflopFitOptions& options) {
  SCALELAW_RETURN_IF_ERROR(ValidateObservations(observations));
  std::vector<Observation> used;
  SCALELAW_RETURN_IF_ERROR(FilterExcluded(observations, options.exclude_ids, &used));
  std::map<double, std::vector<const Observation*>> groups;
  for (const Observation& obs : used) {
    const double budget = obs.budget > 0 ? obs.budget : BucketCompute(ComputeOf(obs));
    groups[budget].push_back(&obs);
  }

  IsoflopFitResult result;
  result.n_points = static_cast<int>(used.size());
  result.excluded_ids = options.exclude_ids;
  std::vector<double> log_c, log_n, log_d;
  for (const auto& [compute, group] : groups) {
    std::vector<double> u, loss;
    std::set<double> sizes;
    double lo = INFINITY, hi = -INFINITY;
    for (const Observation* obs : group) {
      u.push_back(std::log(obs->params));
      loss.push_back(obs->loss);
      sizes.insert(obs->params);
      lo = std::min(lo, u.back());
      hi = std::max(hi, u.back());
    }
    if (static_cast<int>(sizes.size()) < std::max(3, options.min_points_per_budget)) {
      result.skipped_budgets.push_back(compute);
      continue;
    }
    const Parabola p = FitParabola(u, loss);
    if (!(p.c2 > 0)) {
      result.skipped_budgets.push_back(compute);
      continue;
    }
    const double vertex = -p.c1 / (2 * p.c2);
    IsoflopBudget budget;
    budget.compute = compute;
    budget.n_points = static_cast<int>(group.size());
    budget.params_opt = std::exp(p.shift + vertex);
    budget.tokens_opt = compute / (6 * budget.params_opt);
    budget.loss_opt = p.c0 - p.c1 * p.c1 / (4 * p.c2);
    budget.interior = p.shift + vertex >= lo && p.shift + vertex <= hi;
    result.budgets.push_back(budget);
    log_c.push_back(std::log(compute));
    log_n.push_back(std::log(budget.params_opt));
    log_d.push_back(std::log(budget.tokens_opt));
  }
  if (result.budgets.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "isoflop fit needs at least 2 budgets with a minimum over at least 3 model sizes, got ",
        result.budgets.size(), " (of ", groups.size(), " budgets)"));
  }
  FitAllocationExponents(log_c, log_n, log_d, &result);
  return result;
}

}  // namespace scalelaw::fitting
