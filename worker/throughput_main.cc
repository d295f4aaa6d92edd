// worker_throughput: measures training throughput and final loss of trials
// on this machine, to size sweeps (e.g. sweeps/quickstart.yaml).
//
//   worker_throughput --params 1e5,4e5,1.5e6 --threads 1 --precision fp32
//                     --tokens 2e6 [--lr 1e-3] [--corpus DIR]
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "sweeps/accounting.h"
#include "sweeps/model_shape.h"
#include "sweeps/spec_defaults.h"
#include "worker/corpus.h"
#include "worker/trainer.h"

namespace {
double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}
}  // namespace

int main(int argc, char** argv) {
  using namespace scalelaw;
  worker::TuneMallocForTraining();
  CLI::App app{"worker_throughput: tokens/s and loss of trials on this machine"};
  std::vector<double> params = {1e5, 4e5, 1.5e6};
  std::vector<double> lrs = {1e-3};
  uint32_t threads = 1, batch = 32, micro_batches = 2, n_ctx = 128, eval_points = 6,
           eval_batches = 8;
  double tokens = 1e6;
  std::string precision = "fp32", corpus_dir = sweeps::kDefaultCorpus;
  app.add_option("--params", params, "target total parameters")->delimiter(',');
  app.add_option("--lr", lrs, "peak learning rates")->delimiter(',');
  app.add_option("--threads", threads);
  app.add_option("--batch", batch);
  app.add_option("--micro-batches", micro_batches);
  app.add_option("--ctx", n_ctx);
  app.add_option("--tokens", tokens, "training tokens per trial");
  app.add_option("--eval-points", eval_points);
  app.add_option("--eval-batches", eval_batches);
  app.add_option("--precision", precision);
  app.add_option("--corpus", corpus_dir);
  CLI11_PARSE(app, argc, argv);

  v1::SweepSpec defaults = sweeps::DefaultSweepSpec();
  auto corpus = worker::Corpus::Load(corpus_dir, defaults.data().val_fraction());
  if (!corpus.ok()) {
    std::fprintf(stderr, "%s\n", corpus.status().ToString().c_str());
    return 1;
  }
  // tok/cpu-s (tokens per CPU-second of this process, evaluation included)
  // is what one thread would reach alone on a machine shared with others.
  std::printf("%-10s %-16s %9s %9s %6s %8s %10s %9s %10s %9s %8s %8s\n", "target", "shape",
              "params", "N_ne", "prec", "lr", "tokens", "tok/s", "tok/cpu-s", "wall_s", "val",
              "B_simple");
  for (double target : params) {
    for (double lr : lrs) {
      v1::TrialSpec spec;
      spec.set_trial_id("bench");
      *spec.mutable_shape() = sweeps::ShapeForParams(target, n_ctx, worker::kByteVocabSize);
      spec.set_tokens(static_cast<uint64_t>(tokens));
      spec.set_seed(1);
      *spec.mutable_optimizer() = defaults.optimizer();
      spec.mutable_optimizer()->set_lr(lr);
      *spec.mutable_training() = defaults.training();
      spec.mutable_training()->set_batch_size(batch);
      spec.mutable_training()->set_micro_batches(micro_batches);
      spec.mutable_training()->set_threads(threads);
      spec.mutable_training()->set_precision(precision);
      spec.mutable_training()->set_eval_points(eval_points);
      spec.mutable_training()->set_eval_batches(eval_batches);
      const double cpu_before = CpuSeconds();
      auto result = worker::TrainTrial(spec, *corpus);
      const double cpu = CpuSeconds() - cpu_before;
      if (!result.ok()) {
        std::fprintf(stderr, "%s\n", result.status().ToString().c_str());
        return 1;
      }
      const v1::ModelShape& s = spec.shape();
      const std::string shape = "L" + std::to_string(s.n_layer()) + " d" +
                                std::to_string(s.d_model()) + " h" + std::to_string(s.n_head());
      std::printf("%-10.3g %-16s %9lu %9lu %6s %8.1e %10lu %9.0f %10.0f %9.1f %8.4f %8.1f%s\n",
                  target, shape.c_str(), static_cast<unsigned long>(result->params()),
                  static_cast<unsigned long>(result->non_embedding_params()), precision.c_str(), lr,
                  static_cast<unsigned long>(result->tokens()), result->tokens_per_second(),
                  static_cast<double>(result->tokens()) / cpu, result->wall_seconds(),
                  result->final_val_loss(), result->noise_scale(),
                  result->diverged() ? " DIVERGED" : "");
      std::fflush(stdout);
    }
  }
  std::printf("validation unigram entropy %.4f nats/token\n", corpus->stats().val_unigram_entropy);
  return 0;
}
