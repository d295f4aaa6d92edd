// worker_throughput: the C++ worker's training step against the same step
// written in Python, and the sweep-sizing probe.
//
// Comparison (default): for each model size and precision, trains with
// worker::TrainTrial (the real worker code path: AdamW in two groups,
// micro-batch gradients with their squared norms for the noise scale, grad
// clipping, cosine lr) and with bench/peers/train_loop.py (the same model and
// step in PyTorch, on Debian's python3-torch), same shape, batch, context,
// threads and precision, on the same corpus. Each side times `--steps` steps
// after `--warmup-steps` untimed ones; the runs of a pair are interleaved and
// repeated, and the medians are printed with the ratio C++ / Python, the
// achieved FLOP/s (6N + attention per token, sweeps/accounting.h) and its
// fraction of this CPU's matrix-multiply peak measured in the same run
// (worker/matmul_peak.h). Every rate is also given per CPU-second of the
// process, which a machine shared with other work disturbs far less than
// the wall clock.
//
//   worker_throughput [--params 1e6,1e7] [--precision fp32,bf16] [--threads 2]
//                     [--steps N] [--warmup-steps 3] [--repeats 3] [--quick]
//                     [--batch 32] [--micro-batches 2] [--ctx 128]
//                     [--python /usr/bin/python3] [--peer PATH] [--skip-peer]
//                     [--peer-attention auto|sdpa|baddbmm|explicit]
//                     [--device cpu|cuda] [--peak-tflops P]
//
// On a GPU (--device cuda, a worker built against that machine's libtorch
// 2.x; scripts/gpu_bench.sh) both sides train on the GPU; the matmul peak is
// then cuBLAS's, and --peak-tflops (the datasheet's dense figure at that
// precision, e.g. 989 for an H100 SXM in bf16) adds MFU as PaLM defines it.
//
// Sizing probe (--sizing): whole trials with evaluation, to size sweeps
// (tokens/s, tokens per CPU-second, final validation loss, noise scale):
//
//   worker_throughput --sizing --params 1e5,4e5 --tokens 1e6 --threads 1
//                     --precision fp32 [--lr 1e-3,3e-3]
#include <sys/resource.h>
#include <sys/wait.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "data/token_dataset.h"
#include "sweeps/accounting.h"
#include "sweeps/model_shape.h"
#include "sweeps/spec_defaults.h"
#include "worker/matmul_peak.h"
#include "worker/trainer.h"

namespace {

namespace v1 = scalelaw::v1;
namespace sweeps = scalelaw::sweeps;
namespace data = scalelaw::data;
namespace worker = scalelaw::worker;

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

double Median(std::vector<double> values) {
  if (values.empty()) return std::nan("");
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

// `value` printed with `format`, or "-" when it is NaN (no peer runs).
std::string Cell(const char* format, double value) {
  if (std::isnan(value)) return "-";
  char text[32];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

std::string DefaultPeer() {
  if (const char* dir = std::getenv("SCALELAW_SOURCE_DIR")) {
    return std::string(dir) + "/bench/peers/train_loop.py";
  }
#ifdef SCALELAW_SOURCE_DIR
  return SCALELAW_SOURCE_DIR "/bench/peers/train_loop.py";
#else
  return "bench/peers/train_loop.py";
#endif
}

std::string ShapeName(const v1::ModelShape& s) {
  return absl::StrCat("L", s.n_layer(), " d", s.d_model(), " h", s.n_head());
}

// One side's timed window: `steps` steps after the warmup.
struct Throughput {
  double tokens_per_second = 0.0;      // wall clock
  double tokens_per_cpu_second = 0.0;  // CPU time of the whole process, all threads
  double final_loss = 0.0;
  uint64_t params = 0;
};

// What both sides train: one model at one precision.
struct Setting {
  v1::ModelShape shape;
  std::string precision;
  uint32_t batch = 32;
  uint32_t micro_batches = 2;
  uint32_t threads = 1;
  uint32_t warmup_steps = 3;
  uint32_t steps = 20;
  std::string corpus;
  std::string peer_attention = "auto";  // the peer's --attention
  std::string device = "cpu";
};

// The worker side: a real trial of warmup + timed steps whose only
// evaluation (one batch) follows the last step. The window is read from the
// per-step training points (log_every_steps 1), so the warmup steps are left
// out the same way the peer leaves them out.
absl::StatusOr<Throughput> RunWorker(const Setting& setting, const data::TokenDataset& corpus) {
  const v1::SweepSpec defaults = sweeps::DefaultSweepSpec();
  v1::TrialSpec spec;
  spec.set_trial_id("worker_throughput");
  *spec.mutable_shape() = setting.shape;
  const uint64_t tokens_per_step = uint64_t{setting.batch} * setting.shape.n_ctx();
  spec.set_tokens((setting.warmup_steps + setting.steps) * tokens_per_step);
  spec.set_seed(1);
  *spec.mutable_optimizer() = defaults.optimizer();
  v1::TrainingConfig* training = spec.mutable_training();
  *training = defaults.training();
  training->set_batch_size(setting.batch);
  training->set_micro_batches(setting.micro_batches);
  training->set_threads(setting.threads);
  training->set_precision(setting.precision);
  training->set_device(setting.device);
  training->set_eval_points(1);
  training->set_eval_batches(1);
  training->set_log_every_steps(1);
  training->set_checkpoint_dir("");

  struct Mark {
    double wall = 0.0, cpu = 0.0;
  };
  std::optional<Mark> begin, end;
  worker::TrainerHooks hooks;
  hooks.on_metric = [&](const v1::MetricPoint& point) {
    if (point.has_val_loss()) return;  // the final evaluation, after the window
    if (point.step() == setting.warmup_steps) begin = Mark{point.wall_seconds(), CpuSeconds()};
    if (point.step() == setting.warmup_steps + setting.steps) {
      end = Mark{point.wall_seconds(), CpuSeconds()};
    }
  };
  if (setting.warmup_steps == 0) begin = Mark{0.0, CpuSeconds()};
  absl::StatusOr<v1::TrialResult> result = worker::TrainTrial(spec, corpus, hooks);
  if (!result.ok()) return result.status();
  if (!begin || !end) {
    return absl::InternalError("the trial's training points did not mark the timed window");
  }
  const double tokens = static_cast<double>(setting.steps * tokens_per_step);
  return Throughput{tokens / (end->wall - begin->wall), tokens / (end->cpu - begin->cpu),
                    result->final_train_loss(), result->params()};
}

// The Python side: one process per run; parses the peer's JSON line.
absl::StatusOr<Throughput> RunPeer(const Setting& setting, const std::string& python,
                                   const std::string& peer) {
  const v1::ModelShape& s = setting.shape;
  const std::string command = absl::StrCat(
      python, " ", peer, " --d-model ", s.d_model(), " --n-layer ", s.n_layer(), " --n-head ",
      s.n_head(), " --n-ctx ", s.n_ctx(), " --vocab-size ", s.vocab_size(), " --batch ",
      setting.batch, " --micro-batches ", setting.micro_batches, " --threads ", setting.threads,
      " --precision ", setting.precision, " --warmup-steps ", setting.warmup_steps, " --steps ",
      setting.steps, " --attention ", setting.peer_attention, " --device ", setting.device,
      " --corpus '", setting.corpus, "'");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError("cannot start: " + command);
  std::string out;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  const int status = pclose(pipe);
  if (status != 0) {
    return absl::InternalError(
        absl::StrCat("peer failed (status ", WEXITSTATUS(status), "): ", command, "\n", out));
  }
  const size_t line = out.find_last_of('{');
  const nlohmann::json json =
      nlohmann::json::parse(out.substr(line == std::string::npos ? 0 : line), nullptr,
                            /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.contains("tokens_per_second")) {
    return absl::InternalError(absl::StrCat("peer printed no result: ", command, "\n", out));
  }
  return Throughput{json.at("tokens_per_second").get<double>(),
                    json.at("tokens_per_cpu_second").get<double>(),
                    json.at("final_loss").get<double>(), json.at("params").get<uint64_t>()};
}

bool PeerAvailable(const std::string& python) {
  const std::string probe = python + " -c 'import torch' > /dev/null 2>&1";
  return std::system(probe.c_str()) == 0;
}

struct CompareOptions {
  std::vector<double> params = {1e6, 1e7};
  std::vector<std::string> precisions = {"fp32", "bf16"};
  uint32_t threads = 0;
  uint32_t steps = 0;  // 0: by size, see StepsFor
  uint32_t warmup_steps = 3;
  uint32_t repeats = 3;
  uint32_t batch = 32;
  uint32_t micro_batches = 2;
  uint32_t n_ctx = 128;
  double peak_seconds = 1.0;
  std::string corpus = sweeps::kDefaultCorpus;
  std::string python = "/usr/bin/python3";
  std::string peer = DefaultPeer();
  std::string peer_attention = "auto";
  std::string device = "cpu";
  double peak_tflops = 0.0;  // datasheet peak for MFU; 0: not given
  bool skip_peer = false;
};

// Timed steps when --steps is not given: about the same training FLOPs for
// every size (40 steps at 0.75M parameters, at least 8).
uint32_t StepsFor(uint64_t params) {
  return static_cast<uint32_t>(std::clamp(3e7 / static_cast<double>(params), 8.0, 40.0));
}

int Compare(const CompareOptions& options) {
  absl::StatusOr<data::TokenDataset> corpus =
      data::TokenDataset::Load(options.corpus, sweeps::DefaultSweepSpec().data().val_fraction());
  if (!corpus.ok()) {
    std::fprintf(stderr, "%s\n", corpus.status().ToString().c_str());
    return 1;
  }
  bool peer = !options.skip_peer;
  if (peer && !PeerAvailable(options.python)) {
    std::printf(
        "NOTE: %s cannot import torch: install Debian's python3-torch (scripts/setup.sh) for the "
        "Python peer; measuring the C++ worker only.\n",
        options.python.c_str());
    peer = false;
  }

  // Per setting, one entry per repeat.
  struct Row {
    Setting setting;
    uint64_t params = 0;
    double flops_per_token = 0.0;
    std::vector<double> worker_tps, worker_tpc, peer_tps, peer_tpc;  // tok/s, tok/cpu-s
    std::vector<double> ratios, cpu_ratios;                          // C++ / Python
    std::vector<double> worker_mfu, peer_mfu, worker_cpu_mfu, peer_cpu_mfu;
  };
  std::vector<Row> rows;
  for (double target : options.params) {
    const v1::ModelShape shape =
        sweeps::ShapeForParams(target, options.n_ctx, data::kByteVocabSize);
    const uint64_t params = sweeps::CountParams(shape).total;
    for (const std::string& precision : options.precisions) {
      Row row;
      row.setting = {shape,
                     precision,
                     options.batch,
                     options.micro_batches,
                     options.threads,
                     options.warmup_steps,
                     options.steps > 0 ? options.steps : StepsFor(params),
                     options.corpus,
                     options.peer_attention,
                     options.device};
      row.params = params;
      row.flops_per_token = sweeps::FlopsPerToken(shape, params);
      rows.push_back(std::move(row));
    }
  }
  std::printf(
      "device %s, threads %u, batch %u (%u micro-batches), n_ctx %u, %u warmup steps, %u "
      "repeats, peer attention %s\n",
      options.device.c_str(), options.threads, options.batch, options.micro_batches, options.n_ctx,
      options.warmup_steps, options.repeats, options.peer_attention.c_str());

  // Each repeat: the matmul peak per precision, then every pair, the side
  // that goes first alternating between repeats. Fractions of the peak pair
  // each run with the peak of its own repeat.
  for (uint32_t repeat = 0; repeat < options.repeats; ++repeat) {
    worker::MatmulPeak peak_fp32, peak_bf16;
    for (const std::string& precision : options.precisions) {
      const bool bf16 = precision == "bf16";
      absl::StatusOr<worker::MatmulPeak> peak = worker::MeasureMatmulPeak(
          static_cast<int>(options.threads), bf16, options.peak_seconds, options.device == "cuda");
      if (!peak.ok()) {
        std::fprintf(stderr, "%s\n", peak.status().ToString().c_str());
        return 1;
      }
      (bf16 ? peak_bf16 : peak_fp32) = *peak;
      std::printf("[%u] matmul peak %s: %.1f GFLOP/s (%.1f per CPU-second)\n", repeat + 1,
                  precision.c_str(), peak->flops_per_second / 1e9,
                  peak->flops_per_cpu_second / 1e9);
    }
    for (Row& row : rows) {
      const worker::MatmulPeak& peak = row.setting.precision == "bf16" ? peak_bf16 : peak_fp32;
      const bool peer_first = peer && repeat % 2 == 1;
      std::optional<Throughput> peer_result;
      auto run_peer = [&]() -> bool {
        absl::StatusOr<Throughput> t = RunPeer(row.setting, options.python, options.peer);
        if (!t.ok()) {
          std::fprintf(stderr, "%s\n", t.status().ToString().c_str());
          return false;
        }
        if (t->params != row.params) {
          std::fprintf(stderr, "peer built %lu parameters, the worker %lu\n",
                       static_cast<unsigned long>(t->params),
                       static_cast<unsigned long>(row.params));
          return false;
        }
        peer_result = *t;
        return true;
      };
      if (peer_first && !run_peer()) return 1;
      absl::StatusOr<Throughput> w = RunWorker(row.setting, *corpus);
      if (!w.ok()) {
        std::fprintf(stderr, "%s\n", w.status().ToString().c_str());
        return 1;
      }
      if (peer && !peer_first && !run_peer()) return 1;
      row.worker_tps.push_back(w->tokens_per_second);
      row.worker_tpc.push_back(w->tokens_per_cpu_second);
      row.worker_mfu.push_back(w->tokens_per_second * row.flops_per_token / peak.flops_per_second);
      row.worker_cpu_mfu.push_back(w->tokens_per_cpu_second * row.flops_per_token /
                                   peak.flops_per_cpu_second);
      std::printf("[%u] %-14s %-4s %3u steps  C++ %8.0f tok/s (%8.0f tok/cpu-s, loss %.3f)",
                  repeat + 1, ShapeName(row.setting.shape).c_str(), row.setting.precision.c_str(),
                  row.setting.steps, w->tokens_per_second, w->tokens_per_cpu_second, w->final_loss);
      if (peer_result) {
        const Throughput& p = *peer_result;
        row.peer_tps.push_back(p.tokens_per_second);
        row.peer_tpc.push_back(p.tokens_per_cpu_second);
        row.ratios.push_back(w->tokens_per_second / p.tokens_per_second);
        row.cpu_ratios.push_back(w->tokens_per_cpu_second / p.tokens_per_cpu_second);
        row.peer_mfu.push_back(p.tokens_per_second * row.flops_per_token / peak.flops_per_second);
        row.peer_cpu_mfu.push_back(p.tokens_per_cpu_second * row.flops_per_token /
                                   peak.flops_per_cpu_second);
        std::printf("  Python %8.0f tok/s (%8.0f tok/cpu-s, loss %.3f)  ratio %.2f (cpu %.2f)",
                    p.tokens_per_second, p.tokens_per_cpu_second, p.final_loss, row.ratios.back(),
                    row.cpu_ratios.back());
      }
      std::printf("\n");
      std::fflush(stdout);
    }
  }

  // Medians over the repeats. A ratio is the median of the paired
  // (interleaved) ratios, steadier under a varying load than a ratio of
  // medians; so is a fraction of the peak.
  std::printf("\n%-12s %9s %-4s | %9s %9s %5s | %9s %9s %5s | %8s %6s %6s | %6s %6s\n", "shape",
              "params", "prec", "C++ tok/s", "Py tok/s", "ratio", "C++ tok/c", "Py tok/c", "ratio",
              "C++ GF/s", "C++ pk", "Py pk", "C++ pc", "Py pc");
  for (const Row& row : rows) {
    std::printf(
        "%-12s %9lu %-4s | %9s %9s %5s | %9s %9s %5s | %8s %6s %6s | %6s %6s\n",
        ShapeName(row.setting.shape).c_str(), static_cast<unsigned long>(row.params),
        row.setting.precision.c_str(), Cell("%.0f", Median(row.worker_tps)).c_str(),
        Cell("%.0f", Median(row.peer_tps)).c_str(), Cell("%.2f", Median(row.ratios)).c_str(),
        Cell("%.0f", Median(row.worker_tpc)).c_str(), Cell("%.0f", Median(row.peer_tpc)).c_str(),
        Cell("%.2f", Median(row.cpu_ratios)).c_str(),
        Cell("%.2f", Median(row.worker_tps) * row.flops_per_token / 1e9).c_str(),
        Cell("%.1f%%", 100 * Median(row.worker_mfu)).c_str(),
        Cell("%.1f%%", 100 * Median(row.peer_mfu)).c_str(),
        Cell("%.1f%%", 100 * Median(row.worker_cpu_mfu)).c_str(),
        Cell("%.1f%%", 100 * Median(row.peer_cpu_mfu)).c_str());
  }
  std::printf(
      "tok/s: wall clock; tok/c: per CPU-second of the process (all threads), what the cores did "
      "while each side held them; ratio: C++ / Python; GF/s: tok/s x (6N + 6 n_layer n_ctx "
      "d_model); pk: achieved FLOP/s / the matmul peak at that precision (wall clock); pc: the "
      "same per CPU-second\n");
  if (options.peak_tflops > 0) {
    // MFU: model FLOPs (6N + attention) per second over the datasheet peak.
    std::printf("\nMFU against %.0f TFLOP/s (--peak-tflops):\n", options.peak_tflops);
    for (const Row& row : rows) {
      const double peak = options.peak_tflops * 1e12;
      std::printf("%-12s %-4s  C++ %s  Python %s\n", ShapeName(row.setting.shape).c_str(),
                  row.setting.precision.c_str(),
                  Cell("%.1f%%", 100 * Median(row.worker_tps) * row.flops_per_token / peak).c_str(),
                  Cell("%.1f%%", 100 * Median(row.peer_tps) * row.flops_per_token / peak).c_str());
    }
  }
  return 0;
}

struct SizingOptions {
  std::vector<double> params = {1e5, 4e5, 1.5e6};
  std::vector<double> lrs = {1e-3};
  uint32_t threads = 1, batch = 32, micro_batches = 2, n_ctx = 128, eval_points = 6,
           eval_batches = 8;
  double tokens = 1e6;
  std::string precision = "fp32";
  std::string corpus = sweeps::kDefaultCorpus;
};

// Whole trials (evaluation included), to size sweeps such as
// sweeps/quickstart.yaml.
int Sizing(const SizingOptions& options) {
  const v1::SweepSpec defaults = sweeps::DefaultSweepSpec();
  absl::StatusOr<data::TokenDataset> corpus =
      data::TokenDataset::Load(options.corpus, defaults.data().val_fraction());
  if (!corpus.ok()) {
    std::fprintf(stderr, "%s\n", corpus.status().ToString().c_str());
    return 1;
  }
  // tok/cpu-s (tokens per CPU-second of this process, evaluation included)
  // is what one thread would reach alone on a machine shared with others.
  std::printf("%-10s %-16s %9s %9s %6s %8s %10s %9s %10s %9s %8s %8s\n", "target", "shape",
              "params", "N_ne", "prec", "lr", "tokens", "tok/s", "tok/cpu-s", "wall_s", "val",
              "B_simple");
  for (double target : options.params) {
    for (double lr : options.lrs) {
      v1::TrialSpec spec;
      spec.set_trial_id("sizing");
      *spec.mutable_shape() = sweeps::ShapeForParams(target, options.n_ctx, data::kByteVocabSize);
      spec.set_tokens(static_cast<uint64_t>(options.tokens));
      spec.set_seed(1);
      *spec.mutable_optimizer() = defaults.optimizer();
      spec.mutable_optimizer()->set_lr(lr);
      v1::TrainingConfig* training = spec.mutable_training();
      *training = defaults.training();
      training->set_batch_size(options.batch);
      training->set_micro_batches(options.micro_batches);
      training->set_threads(options.threads);
      training->set_precision(options.precision);
      training->set_eval_points(options.eval_points);
      training->set_eval_batches(options.eval_batches);
      const double cpu_before = CpuSeconds();
      absl::StatusOr<v1::TrialResult> result = worker::TrainTrial(spec, *corpus);
      const double cpu = CpuSeconds() - cpu_before;
      if (!result.ok()) {
        std::fprintf(stderr, "%s\n", result.status().ToString().c_str());
        return 1;
      }
      std::printf(
          "%-10.3g %-16s %9lu %9lu %6s %8.1e %10lu %9.0f %10.0f %9.1f %8.4f %8.1f%s\n", target,
          ShapeName(spec.shape()).c_str(), static_cast<unsigned long>(result->params()),
          static_cast<unsigned long>(result->non_embedding_params()), options.precision.c_str(), lr,
          static_cast<unsigned long>(result->tokens()), result->tokens_per_second(),
          static_cast<double>(result->tokens()) / cpu, result->wall_seconds(),
          result->final_val_loss(), result->noise_scale(), result->diverged() ? " DIVERGED" : "");
      std::fflush(stdout);
    }
  }
  std::printf("validation unigram entropy %.4f nats/token\n", corpus->stats().val_unigram_entropy);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  worker::TuneMallocForTraining();  // as scalelaw-worker does at start-up
  CLI::App app{"worker_throughput: the C++ worker's training step vs the same step in Python"};
  CompareOptions compare;
  SizingOptions sizing;
  bool sizing_mode = false, quick = false;
  std::vector<double> params;
  std::string precisions;
  uint32_t threads = 0;
  std::optional<uint32_t> batch, micro_batches, n_ctx;
  app.add_flag("--sizing", sizing_mode, "run the sweep-sizing probe instead of the comparison");
  app.add_option("--params", params,
                 "target total parameters (comparison: 1e6,1e7; sizing: 1e5,4e5,1.5e6)")
      ->delimiter(',');
  app.add_option("--precision", precisions,
                 "comparison: fp32,bf16 (a list); sizing: one of fp32, bf16");
  app.add_option("--threads", threads, "intra-op threads of both sides (default: all cores)");
  app.add_option("--batch", batch, "sequences per step (32)");
  app.add_option("--micro-batches", micro_batches, "accumulated micro-batches per step (2)");
  app.add_option("--ctx", n_ctx, "context length (128)");
  app.add_option("--corpus", compare.corpus, "text directory both sides sample windows from");
  app.add_option("--steps", compare.steps, "timed steps per run (default: 40 to 8 by size)");
  app.add_option("--warmup-steps", compare.warmup_steps, "untimed steps before the window");
  app.add_option("--repeats", compare.repeats, "interleaved C++ / Python pairs per setting");
  app.add_flag("--quick", quick, "smoke run: 1e6 only, 1 repeat, 1 + 3 steps, batch 16");
  app.add_option("--python", compare.python, "interpreter with Debian's python3-torch");
  app.add_option("--peer", compare.peer, "path of bench/peers/train_loop.py");
  app.add_option("--peer-attention", compare.peer_attention,
                 "the peer's attention: auto (worker/gpt.cc's form for the peer's torch: sdpa "
                 "from 2.0, else baddbmm), sdpa, baddbmm or explicit (nanoGPT's)")
      ->check(CLI::IsMember({"auto", "sdpa", "baddbmm", "explicit"}));
  app.add_option("--device", compare.device, "where both sides train: cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--peak-tflops", compare.peak_tflops,
                 "datasheet dense peak (TFLOP/s) at the precision measured, for MFU")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--skip-peer", compare.skip_peer, "measure the C++ worker only");
  app.add_option("--tokens", sizing.tokens, "sizing: training tokens per trial");
  app.add_option("--lr", sizing.lrs, "sizing: peak learning rates")->delimiter(',');
  app.add_option("--eval-points", sizing.eval_points, "sizing: evaluations per trial");
  app.add_option("--eval-batches", sizing.eval_batches, "sizing: batches per evaluation");
  CLI11_PARSE(app, argc, argv);

  const uint32_t cores = std::max(1u, std::thread::hardware_concurrency());
  if (sizing_mode) {
    if (!params.empty()) sizing.params = params;
    if (!precisions.empty()) sizing.precision = precisions;
    sizing.threads = threads > 0 ? threads : 1;
    sizing.batch = batch.value_or(sizing.batch);
    sizing.micro_batches = micro_batches.value_or(sizing.micro_batches);
    sizing.n_ctx = n_ctx.value_or(sizing.n_ctx);
    sizing.corpus = compare.corpus;
    return Sizing(sizing);
  }
  if (quick) {
    compare.params = {1e6};
    compare.repeats = 1;
    compare.warmup_steps = 1;
    compare.steps = compare.steps > 0 ? compare.steps : 3;
    compare.batch = 16;
    compare.peak_seconds = 0.3;
  }
  if (!params.empty()) compare.params = params;
  if (!precisions.empty()) {
    compare.precisions.clear();
    for (std::string_view rest = precisions; !rest.empty();) {
      const size_t comma = rest.find(',');
      compare.precisions.emplace_back(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    }
  }
  for (const std::string& p : compare.precisions) {
    if (p != "fp32" && p != "bf16") {
      std::fprintf(stderr, "--precision: expected fp32 and/or bf16, got \"%s\"\n", p.c_str());
      return 2;
    }
  }
  compare.threads = threads > 0 ? threads : cores;
  compare.batch = batch.value_or(compare.batch);
  compare.micro_batches = micro_batches.value_or(compare.micro_batches);
  compare.n_ctx = n_ctx.value_or(compare.n_ctx);
  if (compare.repeats == 0 || compare.batch % std::max(1u, compare.micro_batches) != 0) {
    std::fprintf(stderr, "--repeats must be > 0 and --batch a multiple of --micro-batches\n");
    return 2;
  }
  return Compare(compare);
}
