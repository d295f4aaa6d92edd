#include "fitting/bootstrap.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "ceres/gradient_problem.h"
#include "common/status_macros.h"
#include "fitting/chinchilla_cost.h"

namespace scalelaw::fitting {
namespace {

absl::Status ValidateBootstrapOptions(const BootstrapOptions& options) {
  if (options.resamples < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("bootstrap: need at least 2 resamples, got ", options.resamples));
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

// Runs `work(k)` for every k < n on up to `num_threads` threads (the calling
// one included), handing out indices from a shared counter.
template <typename Work>
void ParallelFor(size_t n, int num_threads, const Work& work) {
  std::atomic<size_t> next{0};
  const auto loop = [&] {
    for (size_t k = next++; k < n; k = next++) work(k);
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < num_threads && static_cast<size_t>(t) < n; ++t) threads.emplace_back(loop);
  loop();
  for (std::thread& thread : threads) thread.join();
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

// One refit's outcome.
struct Refit {
  absl::Status status;  // OK when converged
  ChinchillaParams params;
};

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
  const auto refit = [&](const std::vector<int>& w) -> Refit {
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
      return {absl::FailedPreconditionError(absl::StrCat("resample holds ", distinct_sizes,
                                                         " distinct model sizes; A, alpha and E "
                                                         "need at least 3")),
              {}};
    }
    if (x.size() < 5) {
      return {absl::FailedPreconditionError(
                  absl::StrCat("resample holds ", x.size(), " distinct points; need 5")),
              {}};
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
      return {absl::InternalError(absl::StrCat(
                  "refit did not converge from the full-data optimum or its grid start (",
                  last_termination, ")")),
              {}};
    }
    return {absl::OkStatus(), ParamsFromTheta(best)};
  };

  std::vector<Refit> fits(weights.size());
  ParallelFor(weights.size(), options.num_threads, [&](size_t k) { fits[k] = refit(weights[k]); });

  ChinchillaBootstrap result;
  result.level = options.level;
  result.unit = options.unit;
  std::vector<double> E, A, B, alpha, beta;
  for (const Refit& fit : fits) {
    if (!fit.status.ok()) {
      if (result.failed++ == 0) result.first_failure = std::string(fit.status.message());
      continue;
    }
    result.samples.push_back(fit.params);
    E.push_back(fit.params.E);
    A.push_back(fit.params.A);
    B.push_back(fit.params.B);
    alpha.push_back(fit.params.alpha);
    beta.push_back(fit.params.beta);
  }
  result.resamples = static_cast<int>(result.samples.size());
  if (result.samples.empty()) {
    return absl::InternalError(
        absl::StrCat("bootstrap: all ", options.resamples,
                     " resample fits failed, first: ", result.first_failure));
  }
  result.E = PercentileInterval(E, options.level);
  result.A = PercentileInterval(A, options.level);
  result.B = PercentileInterval(B, options.level);
  result.alpha = PercentileInterval(alpha, options.level);
  result.beta = PercentileInterval(beta, options.level);
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
  std::vector<absl::StatusOr<IsoflopFitResult>> fits(
      resamples.size(), absl::UnknownError("bootstrap: resample not fitted"));
  ParallelFor(resamples.size(), options.num_threads,
              [&](size_t k) { fits[k] = FitIsoflop(resamples[k], refit); });

  IsoflopBootstrap result;
  result.level = options.level;
  std::vector<double> a, b, params_coefficient, tokens_coefficient;
  for (const absl::StatusOr<IsoflopFitResult>& fit : fits) {
    if (!fit.ok()) {
      if (result.failed++ == 0) result.first_failure = std::string(fit.status().message());
      continue;
    }
    a.push_back(fit->a);
    b.push_back(fit->b);
    params_coefficient.push_back(fit->params_coefficient);
    tokens_coefficient.push_back(fit->tokens_coefficient);
  }
  result.resamples = static_cast<int>(a.size());
  if (a.empty()) {
    return absl::InternalError(
        absl::StrCat("bootstrap: all ", options.resamples,
                     " IsoFLOP resample fits failed, first: ", result.first_failure));
  }
  result.a = PercentileInterval(a, options.level);
  result.b = PercentileInterval(b, options.level);
  result.params_coefficient = PercentileInterval(params_coefficient, options.level);
  result.tokens_coefficient = PercentileInterval(tokens_coefficient, options.level);
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
  std::vector<absl::StatusOr<EnvelopeFitResult>> fits(
      resamples.size(), absl::UnknownError("bootstrap: resample not fitted"));
  ParallelFor(resamples.size(), options.num_threads,
              [&](size_t k) { fits[k] = FitEnvelope(resamples[k], fit_options); });

  EnvelopeBootstrap result;
  result.level = options.level;
  std::vector<double> a, b;
  for (const absl::StatusOr<EnvelopeFitResult>& fit : fits) {
    if (!fit.ok()) {
      if (result.failed++ == 0) result.first_failure = std::string(fit.status().message());
      continue;
    }
    a.push_back(fit->a);
    b.push_back(fit->b);
  }
  result.resamples = static_cast<int>(a.size());
  if (a.empty()) {
    return absl::InternalError(
        absl::StrCat("bootstrap: all ", options.resamples,
                     " envelope resample fits failed, first: ", result.first_failure));
  }
  result.a = PercentileInterval(a, options.level);
  result.b = PercentileInterval(b, options.level);
  return result;
}

}  // namespace scalelaw::fitting
