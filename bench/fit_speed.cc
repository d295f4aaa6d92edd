// fit_speed: the 4,500-start Chinchilla approach 3 fit, scalelaw (Ceres)
// against the SciPy peer (shared/peers/chinchilla_fit_scipy.py), on the same
// synthetic runs. Prints both wall times, both objectives and the ratio.
//
//   fit_speed [--points-per-side 25x10] [--seed 1] [--threads 2]
//             [--peer PATH] [--python /usr/bin/python3] [--peer-tight]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "fitting/chinchilla_fit.h"
#include "fitting/runs_csv.h"
#include "fitting/synthetic_runs.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fitting = scalelaw::fitting;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string DefaultPeer() {
  if (const char* dir = std::getenv("SCALELAW_SOURCE_DIR")) {
    return std::string(dir) + "/../shared/peers/chinchilla_fit_scipy.py";
  }
#ifdef SCALELAW_SOURCE_DIR
  return SCALELAW_SOURCE_DIR "/../shared/peers/chinchilla_fit_scipy.py";
#else
  return "../shared/peers/chinchilla_fit_scipy.py";
#endif
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chinchilla approach 3, 4,500 starts: scalelaw (Ceres) vs the SciPy peer"};
  int n_params = 25, n_tokens = 10, threads = 2;
  uint64_t seed = 1;
  double noise = 0.01;
  std::string peer = DefaultPeer(), python = "/usr/bin/python3";
  bool peer_tight = false, skip_peer = false;
  app.add_option("--sizes", n_params, "model sizes in the grid (log-spaced 1e7..1e10)");
  app.add_option("--ratios", n_tokens, "tokens-per-parameter ratios per size (2..200)");
  app.add_option("--seed", seed, "seed of the log-normal loss noise");
  app.add_option("--noise", noise, "sigma of the log-normal loss noise");
  app.add_option("--threads", threads, "threads for the Ceres multi-start");
  app.add_option("--peer", peer, "path of chinchilla_fit_scipy.py");
  app.add_option("--python", python, "interpreter with SciPy (Debian's python3-scipy)");
  app.add_flag("--peer-tight", peer_tight, "run the peer with --tight (ftol 1e-15, gtol 1e-12)");
  app.add_flag("--skip-peer", skip_peer, "time only the Ceres fit");
  CLI11_PARSE(app, argc, argv);

  // Data: the published law plus log-normal noise, written to a CSV that both
  // fits read, so they see the same numbers to the last digit.
  std::mt19937_64 rng(seed);
  fitting::SyntheticGrid grid;
  grid.n_params = n_params;
  grid.n_tokens = n_tokens;
  grid.log_noise_sigma = noise;
  const std::vector<fitting::Observation> generated = fitting::SyntheticChinchillaRuns(
      {.E = 1.69, .A = 406.4, .B = 410.7, .alpha = 0.34, .beta = 0.28}, grid, rng);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("fit_speed_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string csv = (dir / "runs.csv").string();
  {
    std::ofstream out(csv);
    out << "id,params,tokens,loss\n";
    char line[256];
    for (const fitting::Observation& obs : generated) {
      std::snprintf(line, sizeof line, "%s,%.17g,%.17g,%.17g\n", obs.id.c_str(), obs.params,
                    obs.tokens, obs.loss);
      out << line;
    }
  }
  const absl::StatusOr<std::vector<fitting::Observation>> runs = fitting::ReadRunsCsv(csv);
  if (!runs.ok()) {
    std::cerr << "error: " << runs.status().message() << "\n";
    return 1;
  }

  fitting::ChinchillaFitOptions options;
  options.num_threads = threads;
  Clock::time_point start = Clock::now();
  const absl::StatusOr<fitting::ChinchillaFitResult> fit = fitting::FitChinchilla(*runs, options);
  const double ceres_seconds = SecondsSince(start);
  if (!fit.ok()) {
    std::cerr << "error: " << fit.status().message() << "\n";
    return 1;
  }
  std::printf("points %zu, starts %d\n", runs->size(), fit->n_starts);
  std::printf(
      "scalelaw (Ceres, %d threads): %.3f s  objective %.15g  %s  "
      "E=%.6g A=%.6g B=%.6g alpha=%.6g beta=%.6g\n",
      threads, ceres_seconds, fit->objective, fit->termination.c_str(), fit->params.E,
      fit->params.A, fit->params.B, fit->params.alpha, fit->params.beta);
  if (skip_peer) return 0;

  const std::string peer_json = (dir / "peer.json").string();
  const std::string command = python + " " + peer + " --csv " + csv + " --json " + peer_json +
                              (peer_tight ? " --tight" : "") + " > /dev/null";
  start = Clock::now();
  const int status = std::system(command.c_str());
  const double peer_process_seconds = SecondsSince(start);
  if (status != 0) {
    std::cerr << "error: peer failed (" << status << "): " << command << "\n";
    return 1;
  }
  const nlohmann::json peer_out = nlohmann::json::parse(std::ifstream(peer_json));
  const double peer_seconds = peer_out.at("wall_seconds").get<double>();
  const double peer_objective = peer_out.at("best_objective").get<double>();
  std::printf("SciPy peer (%s): %.3f s in its fit loop, %.3f s as a process  objective %.15g\n",
              peer_tight ? "--tight" : "default tolerances", peer_seconds, peer_process_seconds,
              peer_objective);
  std::printf("speed-up: %.1fx (peer fit loop / scalelaw), %.1fx (peer process / scalelaw)\n",
              peer_seconds / ceres_seconds, peer_process_seconds / ceres_seconds);
  std::printf("objective: scalelaw - peer = %.3g (relative %.3g)\n",
              fit->objective - peer_objective, (fit->objective - peer_objective) / peer_objective);
  std::filesystem::remove_all(dir);
  return 0;
}
