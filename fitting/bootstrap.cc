#include "fitting/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "ceres/gradient_problem.h"
#include "common/limits.h"
#include "common/status_macros.h"
#include "fitting/chinchilla_cost.h"
#include "fitting/parallel_for.h"

namespace scalelaw::fitting {
namespace {

absl::Status ValidateBootstrapOptions(const BootstrapOptions& options) {
  if (options.resamples < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("bootstrap: need at least 2 resamples, got ", options.resamples));
  }
  if (static_cast<uint32_t>(options.resamples) > limits::kMaxBootstrapResamples) {
    return absl::InvalidArgumentError(absl::StrCat("bootstrap: at most ",
                                                   limits::kMaxBootstrapResamples,
                                                   " resamples, got ", options.resamples));
  }
  if (!(options.level > 0 && options.level < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bootstrap: level must lie strictly between 0 and 1, got ", options.level));
  }
  if (options.num_threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("bootstrap: num_threads must be at least 1, got ", options.num_threads));
  }
  return absl::OkStatus();
}

// How many times each of `n` items is drawn in `n` draws with replacement.
// Consumes the generator exactly as n calls of pick(rng) would, so a seed
// gives the same resamples as it did when resamples were built as copies.
std::vector<int> DrawCounts(size_t n, std::mt19937_64& rng) {
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  std::vector<int> counts(n, 0);
  for (size_t i = 0; i < n; ++i) ++counts[pick(rng)];
  return counts;
}

// Fits every resample k < n as fit(k), an absl::StatusOr<Fit>, on up to
// `num_threads` threads, and returns the fits that succeeded in resample
// order, so neither the intervals nor first_failure depend on the thread
// count. Records in `tally` (a *Bootstrap result) how many succeeded, how
// many failed and the first failure's message. Internal when none
// succeeded; `what` ("", "IsoFLOP ", "envelope ") names the fit there.
template <typename Fit, typename Tally, typename FitOne>
absl::StatusOr<std::vector<Fit>> FitResamples(size_t n, int num_threads, absl::string_view what,
                                              const FitOne& fit, Tally* tally) {
  std::vector<absl::StatusOr<Fit>> outcomes(n,
                                            absl::UnknownError("bootstrap: resample not fitted"));
  ParallelFor(n, num_threads, [&](size_t k) { outcomes[k] = fit(k); });
  std::vector<Fit> fits;
  for (absl::StatusOr<Fit>& outcome : outcomes) {
    if (!outcome.ok()) {
      if (tally->failed++ == 0) tally->first_failure = std::string(outcome.status().message());
      continue;
    }
    fits.push_back(*std::move(outcome));
  }
  tally->resamples = static_cast<int>(fits.size());
  if (fits.empty()) {
    return absl::InternalError(absl::StrCat("bootstrap: all ", n, " ", what,
                                            "resample fits failed, first: ", tally->first_failure));
  }
  return fits;
}

// The central `level` percentile interval of one field across the fits.
template <typename Fit>
Interval IntervalOf(const std::vector<Fit>& fits, double Fit::*field, double level) {
  std::vector<double> values;
  values.reserve(fits.size());
  for (const Fit& fit : fits) values.push_back(fit.*field);
  return PercentileInterval(std::move(values), level);
}

}  // namespace

Interval PercentileInterval(std::vector<double> values, double level) {
  std::sort(values.begin(), values.end());
  const auto quantile = [&](double q) {
    const double position = q * (values.size() - 1);
    const size_t below = static_cast<size_t>(std::floor(position));
    const size_t above = std::min(below + 1, values.size() - 1);
    return values[below] + (position - below) * (values[above] - values[below]);
  };
  return {quantile(0.5 * (1 - level)), quantile(0.5 * (1 + level))};
}

absl::StatusOr<ResampleUnit> ParseResampleUnit(const std::string& name) {
  if (name == "point") return ResampleUnit::kPoint;
  if (name == "size") return ResampleUnit::kSize;
  return absl::InvalidArgumentError(
      absl::StrCat("bootstrap unit: expected 'point' or 'size', got '", name, "'"));
}

const char* ResampleUnitName(ResampleUnit unit) {
  return unit == ResampleUnit::kSize ? "size" : "point";
}

absl::StatusOr<ChinchillaBootstrap> BootstrapChinchilla(
    const std::vector<Observation>& observations, const ChinchillaFitResult& point_fit,
    const ChinchillaFitOptions& fit_options, const BootstrapOptions& options) {
  SCALELAW_RETURN_IF_ERROR(ValidateBootstrapOptions(options));
  SCALELAW_RETURN_IF_ERROR(ValidateObservations(observations));
  std::vector<Observation> used;
  SCALELAW_RETURN_IF_ERROR(FilterExcluded(observations, fit_options.exclude_ids, &used));
  if (used.empty()) return absl::InvalidArgumentError("bootstrap: no points to resample");

  std::vector<double> log_params, log_tokens, log_loss;
  std::map<double, int> size_index;  // distinct params → index, ascending
  for (const Observation& obs : used) {
    log_params.push_back(std::log(obs.params));
    log_tokens.push_back(std::log(obs.tokens));
    log_loss.push_back(std::log(obs.loss));
    size_index.emplace(obs.params, 0);
  }
  int n_sizes = 0;
  for (auto& [params, index] : size_index) index = n_sizes++;
  std::vector<int> size_of_point;
  for (const Observation& obs : used) size_of_point.push_back(size_index.at(obs.params));

  // Draw every resample up front from one generator, so threads only fit:
  // the weight of each used point in each resample.
  std::mt19937_64 rng(options.seed);
  std::vector<std::vector<int>> weights(options.resamples);
  for (std::vector<int>& w : weights) {
    if (options.unit == ResampleUnit::kPoint) {
      w = DrawCounts(used.size(), rng);
    } else {
      const std::vector<int> size_counts = DrawCounts(n_sizes, rng);
      w.resize(used.size());
      for (size_t i = 0; i < used.size(); ++i) w[i] = size_counts[size_of_point[i]];
    }
  }

  const ceres::GradientProblemSolver::Options solver = ChinchillaSolverOptions(fit_options);
  const auto refit = [&](const std::vector<int>& w) -> absl::StatusOr<ChinchillaParams> {
    std::vector<double> x, y, t, c;
    std::vector<bool> drawn_size(n_sizes, false);
    for (size_t i = 0; i < w.size(); ++i) {
      if (w[i] == 0) continue;
      x.push_back(log_params[i]);
      y.push_back(log_tokens[i]);
      t.push_back(log_loss[i]);
      c.push_back(w[i]);
      drawn_size[size_of_point[i]] = true;
    }
    const long distinct_sizes = std::count(drawn_size.begin(), drawn_size.end(), true);
    if (distinct_sizes < 3) {
      return absl::FailedPreconditionError(
          absl::StrCat("resample holds ", distinct_sizes,
                       " distinct model sizes; A, alpha and E need at least 3"));
    }
    if (x.size() < 5) {
      return absl::FailedPreconditionError(
          absl::StrCat("resample holds ", x.size(), " distinct points; need 5"));
    }
    const ceres::GradientProblem problem(new ChinchillaObjectiveFunction(
        std::move(x), std::move(y), std::move(t), fit_options.huber_delta, std::move(c)));
    ChinchillaTheta best{};
    double best_cost = std::numeric_limits<double>::infinity();
    std::string last_termination;
    for (const ChinchillaTheta& start : {point_fit.theta, point_fit.best_start}) {
      ChinchillaTheta theta = start;
      ceres::GradientProblemSolver::Summary summary;
      ceres::Solve(solver, problem, theta.data(), &summary);
      if (summary.termination_type == ceres::CONVERGENCE && std::isfinite(summary.final_cost) &&
          summary.final_cost < best_cost) {
        best = theta;
        best_cost = summary.final_cost;
        break;  // the warm start converged; the fallback is not needed
      }
      last_termination = ceres::TerminationTypeToString(summary.termination_type);
    }
    if (!std::isfinite(best_cost)) {
      return absl::InternalError(
          absl::StrCat("refit did not converge from the full-data optimum or its grid start (",
                       last_termination, ")"));
    }
    return ParamsFromTheta(best);
  };

  ChinchillaBootstrap result;
  result.level = options.level;
  result.unit = options.unit;
  SCALELAW_ASSIGN_OR_RETURN(result.samples,
                            FitResamples<ChinchillaParams>(
                                weights.size(), options.num_threads, "",
                                [&](size_t k) { return refit(weights[k]); }, &result));
  result.E = IntervalOf(result.samples, &ChinchillaParams::E, options.level);
  result.A = IntervalOf(result.samples, &ChinchillaParams::A, options.level);
  result.B = IntervalOf(result.samples, &ChinchillaParams::B, options.level);
  result.alpha = IntervalOf(result.samples, &ChinchillaParams::alpha, options.level);
  result.beta = IntervalOf(result.samples, &ChinchillaParams::beta, options.level);
  return result;
}

absl::StatusOr<IsoflopBootstrap> BootstrapIsoflop(const std::vector<Observation>& observations,
                                                  const IsoflopFitOptions& fit_options,
                                                  const BootstrapOptions& options) {
  SCALELAW_RETURN_IF_ERROR(ValidateBootstrapOptions(options));
  if (options.unit != ResampleUnit::kPoint) {
    return absl::InvalidArgumentError(
        "bootstrap unit: the IsoFLOP bootstrap resamples runs within each budget; "
        "resampling by size is not defined for it");
  }
  // The full fit first: its errors are the caller's input errors.
  SCALELAW_RETURN_IF_ERROR(FitIsoflop(observations, fit_options).status());
  std::vector<Observation> used;
  SCALELAW_RETURN_IF_ERROR(FilterExcluded(observations, fit_options.exclude_ids, &used));
  // The groups FitIsoflop forms, in ascending budget order.
  std::map<double, std::vector<size_t>> groups;
  for (size_t i = 0; i < used.size(); ++i) {
    const Observation& obs = used[i];
    groups[obs.budget > 0 ? obs.budget : BucketCompute(ComputeOf(obs))].push_back(i);
  }

  std::mt19937_64 rng(options.seed);
  std::vector<std::vector<Observation>> resamples(options.resamples);
  for (std::vector<Observation>& resample : resamples) {
    resample.reserve(used.size());
    for (const auto& [budget, members] : groups) {
      std::uniform_int_distribution<size_t> pick(0, members.size() - 1);
      for (size_t i = 0; i < members.size(); ++i) {
        Observation obs = used[members[pick(rng)]];
        obs.budget = budget;  // keep the group even if bucketing would move it
        resample.push_back(std::move(obs));
      }
    }
  }
  IsoflopFitOptions refit = fit_options;
  refit.exclude_ids.clear();

  IsoflopBootstrap result;
  result.level = options.level;
  SCALELAW_ASSIGN_OR_RETURN(
      const std::vector<IsoflopFitResult> fits,
      FitResamples<IsoflopFitResult>(
          resamples.size(), options.num_threads, "IsoFLOP ",
          [&](size_t k) { return FitIsoflop(resamples[k], refit); }, &result));
  result.a = IntervalOf(fits, &IsoflopFitResult::a, options.level);
  result.b = IntervalOf(fits, &IsoflopFitResult::b, options.level);
  result.params_coefficient =
      IntervalOf(fits, &IsoflopFitResult::params_coefficient, options.level);
  result.tokens_coefficient =
      IntervalOf(fits, &IsoflopFitResult::tokens_coefficient, options.level);
  return result;
}

absl::StatusOr<EnvelopeBootstrap> BootstrapEnvelope(const std::vector<CurvePoint>& points,
                                                    const EnvelopeFitOptions& fit_options,
                                                    const BootstrapOptions& options) {
  SCALELAW_RETURN_IF_ERROR(ValidateBootstrapOptions(options));
  SCALELAW_RETURN_IF_ERROR(FitEnvelope(points, fit_options).status());
  std::map<std::string, std::vector<size_t>> curves;  // run → its points
  for (size_t i = 0; i < points.size(); ++i) curves[points[i].run].push_back(i);
  std::vector<const std::vector<size_t>*> curve_points;
  for (const auto& [run, members] : curves) curve_points.push_back(&members);

  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<size_t> pick(0, curve_points.size() - 1);
  std::vector<std::vector<CurvePoint>> resamples(options.resamples);
  for (std::vector<CurvePoint>& resample : resamples) {
    std::set<size_t> drawn;
    for (size_t i = 0; i < curve_points.size(); ++i) drawn.insert(pick(rng));
    for (size_t curve : drawn) {
      for (size_t i : *curve_points[curve]) resample.push_back(points[i]);
    }
  }

  EnvelopeBootstrap result;
  result.level = options.level;
  SCALELAW_ASSIGN_OR_RETURN(
      const std::vector<EnvelopeFitResult> fits,
      FitResamples<EnvelopeFitResult>(
          resamples.size(), options.num_threads, "envelope ",
          [&](size_t k) { return FitEnvelope(resamples[k], fit_options); }, &result));
  result.a = IntervalOf(fits, &EnvelopeFitResult::a, options.level);
  result.b = IntervalOf(fits, &EnvelopeFitResult::b, options.level);
  return result;
}

}  // namespace scalelaw::fitting
