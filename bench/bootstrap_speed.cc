// bootstrap_speed: wall time of a Chinchilla approach 3 bootstrap (issue 4:
// 1,000 resamples on 250 points in under 10 s on 2 cores), on the same
// synthetic runs as fit_speed, with 1 and 2 threads (or --threads).
//
//   bootstrap_speed [--sizes 25] [--ratios 10] [--resamples 1000] [--seed 1]
//                   [--threads 1,2] [--unit point|size]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "fitting/bootstrap.h"
#include "fitting/chinchilla_fit.h"
#include "fitting/synthetic_runs.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fitting = scalelaw::fitting;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chinchilla approach 3 bootstrap: wall time per thread count"};
  int n_params = 25, n_tokens = 10, resamples = 1000;
  uint64_t seed = 1;
  double noise = 0.01;
  std::vector<int> thread_counts = {1, 2};
  std::string unit_name = "point";
  app.add_option("--sizes", n_params, "model sizes in the grid (log-spaced 1e7..1e10)");
  app.add_option("--ratios", n_tokens, "tokens-per-parameter ratios per size (2..200)");
  app.add_option("--resamples", resamples, "bootstrap resamples");
  app.add_option("--seed", seed, "seed of the data's noise and of the resampling");
  app.add_option("--noise", noise, "sigma of the log-normal loss noise");
  app.add_option("--threads", thread_counts, "thread counts to time")->delimiter(',');
  app.add_option("--unit", unit_name, "resample runs (point) or whole model sizes (size)");
  CLI11_PARSE(app, argc, argv);
  const absl::StatusOr<fitting::ResampleUnit> unit = fitting::ParseResampleUnit(unit_name);
  if (!unit.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(unit.status().message()).c_str());
    return 2;
  }

  std::mt19937_64 rng(seed);
  fitting::SyntheticGrid grid;
  grid.n_params = n_params;
  grid.n_tokens = n_tokens;
  grid.log_noise_sigma = noise;
  const std::vector<fitting::Observation> runs = fitting::SyntheticChinchillaRuns(
      {.E = 1.69, .A = 406.4, .B = 410.7, .alpha = 0.34, .beta = 0.28}, grid, rng);

  fitting::ChinchillaFitOptions fit_options;
  Clock::time_point start = Clock::now();
  const absl::StatusOr<fitting::ChinchillaFitResult> fit =
      fitting::FitChinchilla(runs, fit_options);
  if (!fit.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(fit.status().message()).c_str());
    return 1;
  }
  std::printf("points %zu; full fit (4,500 starts, 2 threads) %.3f s, alpha %.4f beta %.4f\n",
              runs.size(), SecondsSince(start), fit->params.alpha, fit->params.beta);

  for (int threads : thread_counts) {
    fitting::BootstrapOptions options;
    options.resamples = resamples;
    options.seed = seed;
    options.num_threads = threads;
    options.unit = *unit;
    start = Clock::now();
    const absl::StatusOr<fitting::ChinchillaBootstrap> boot =
        fitting::BootstrapChinchilla(runs, *fit, fit_options, options);
    const double seconds = SecondsSince(start);
    if (!boot.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(boot.status().message()).c_str());
      return 1;
    }
    std::printf(
        "bootstrap by %s, %d resamples, %d thread(s): %.3f s (%.2f ms per resample); "
        "%d converged, %d failed; alpha [%.4f, %.4f] beta [%.4f, %.4f]\n",
        fitting::ResampleUnitName(*unit), resamples, threads, seconds, 1e3 * seconds / resamples,
        boot->resamples, boot->failed, boot->alpha.lo, boot->alpha.hi, boot->beta.lo,
        boot->beta.hi);
    if (boot->failed > 0) std::printf("  first failure: %s\n", boot->first_failure.c_str());
  }
  return 0;
}
