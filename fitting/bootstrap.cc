#include "fitting/bootstrap.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace scalelaw::fitting {

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

absl::StatusOr<ChinchillaBootstrap> BootstrapChinchilla(
    const std::vector<Observation>& observations, const ChinchillaFitResult& point_fit,
    const ChinchillaFitOptions& fit_options, const BootstrapOptions& options) {
  if (options.resamples < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("bootstrap: need at least 2 resamples, got ", options.resamples));
  }
  if (!(options.level > 0 && options.level < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bootstrap: level must lie strictly between 0 and 1, got ", options.level));
  }
  SCALELAW_RETURN_IF_ERROR(ValidateObservations(observations));
  std::vector<Observation> used;
  SCALELAW_RETURN_IF_ERROR(FilterExcluded(observations, fit_options.exclude_ids, &used));

  // Draw every resample up front from one generator, so threads only fit.
  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<size_t> pick(0, used.size() - 1);
  std::vector<std::vector<Observation>> resamples(options.resamples);
  for (std::vector<Observation>& resample : resamples) {
    resample.reserve(used.size());
    for (size_t i = 0; i < used.size(); ++i) resample.push_back(used[pick(rng)]);
  }

  ChinchillaFitOptions refit = fit_options;
  refit.exclude_ids.clear();
  refit.starts = {point_fit.theta, point_fit.best_start};
  refit.num_threads = 1;  // the resamples are the parallel dimension
  std::vector<absl::StatusOr<ChinchillaFitResult>> fits(
      resamples.size(), absl::UnknownError("bootstrap: resample not fitted"));
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t k = next++; k < resamples.size(); k = next++) {
      fits[k] = FitChinchilla(resamples[k], refit);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < options.num_threads; ++t) threads.emplace_back(work);
  work();
  for (std::thread& thread : threads) thread.join();

  ChinchillaBootstrap result;
  result.level = options.level;
  std::vector<double> E, A, B, alpha, beta;
  for (const absl::StatusOr<ChinchillaFitResult>& fit : fits) {
    if (!fit.ok()) {
      ++result.failed;
      continue;
    }
    result.samples.push_back(fit->params);
    E.push_back(fit->params.E);
    A.push_back(fit->params.A);
    B.push_back(fit->params.B);
    alpha.push_back(fit->params.alpha);
    beta.push_back(fit->params.beta);
  }
  result.resamples = static_cast<int>(result.samples.size());
  if (result.samples.empty()) {
    return absl::InternalError(
        absl::StrCat("bootstrap: all ", options.resamples,
                     " resample fits failed, first: ", fits[0].status().message()));
  }
  result.E = PercentileInterval(E, options.level);
  result.A = PercentileInterval(A, options.level);
  result.B = PercentileInterval(B, options.level);
  result.alpha = PercentileInterval(alpha, options.level);
  result.beta = PercentileInterval(beta, options.level);
  return result;
}

}  // namespace scalelaw::fitting
