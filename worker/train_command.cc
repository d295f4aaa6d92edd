#include "worker/train_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "data/token_dataset.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "sweeps/model_shape.h"
#include "sweeps/planner.h"
#include "sweeps/spec_defaults.h"
#include "sweeps/spec_validator.h"
#include "worker/trainer.h"

namespace scalelaw::worker {
namespace {

struct TrainFlags {
  std::string corpus;
  double params = 0;
  double tokens = 0;
  uint64_t seed = 0;
  uint32_t threads = 1;
  uint32_t context = 0;
  uint32_t batch_size = 0;
  uint32_t micro_batches = 0;
  double lr = 0;
  std::string precision;
  std::string device;
  double val_fraction = 0;
  std::string checkpoint_dir;
  uint32_t checkpoint_every_steps = 0;
  bool json = false;
};

// The one trial of a one-size, one-budget, one-seed sweep with the sweep
// defaults, overridden by the flags given. The size rule picks the shape for
// the data's vocabulary (a prepared directory's meta.json, else bytes).
absl::StatusOr<v1::TrialSpec> PlanTrial(const TrainFlags& flags) {
  v1::SweepSpec sweep = sweeps::DefaultSweepSpec();
  sweep.set_name("train");
  sweep.add_tokens(flags.tokens);
  sweep.add_seeds(flags.seed);
  sweep.mutable_data()->set_corpus(flags.corpus);
  if (flags.val_fraction > 0) sweep.mutable_data()->set_val_fraction(flags.val_fraction);
  if (flags.context > 0) sweep.set_context(flags.context);
  SCALELAW_ASSIGN_OR_RETURN(const uint32_t vocab,
                            data::DataVocabSize(flags.corpus, sweep.data().tokenizer()));
  *sweep.add_models()->mutable_shape() =
      sweeps::ShapeForParams(flags.params, sweep.context(), vocab);
  v1::TrainingConfig* training = sweep.mutable_training();
  training->set_threads(flags.threads);
  if (flags.batch_size > 0) training->set_batch_size(flags.batch_size);
  if (flags.micro_batches > 0) training->set_micro_batches(flags.micro_batches);
  if (!flags.precision.empty()) training->set_precision(flags.precision);
  if (!flags.device.empty()) training->set_device(flags.device);
  training->set_checkpoint_dir(flags.checkpoint_dir);
  if (flags.checkpoint_every_steps > 0) {
    training->set_checkpoint_every_steps(flags.checkpoint_every_steps);
  }
  if (flags.lr > 0) sweep.mutable_optimizer()->set_lr(flags.lr);
  SCALELAW_RETURN_IF_ERROR(sweeps::ValidateSweepSpec(sweep));
  SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::TrialSpec> trials, sweeps::PlanGrid(sweep, "train"));
  if (trials.size() != 1) {
    return absl::InternalError(absl::StrCat("planned ", trials.size(), " trials, expected 1"));
  }
  trials.front().set_target_params(flags.params);
  return trials.front();
}

nlohmann::ordered_json Summary(const v1::TrialSpec& spec, const v1::TrialResult& result,
                               const data::TokenDataset& corpus) {
  nlohmann::ordered_json out;
  out["params"] = result.params();
  out["non_embedding_params"] = result.non_embedding_params();
  out["tokens"] = result.tokens();
  out["flops"] = result.flops();
  out["final_val_loss"] = result.final_val_loss();
  out["unigram_entropy"] = corpus.stats().val_unigram_entropy;
  out["noise_scale"] = result.noise_scale();
  out["noise_scale_unit"] = "sequences";
  out["tokens_per_second"] = result.tokens_per_second();
  // Context for a reader of the numbers above.
  out["target_params"] = spec.target_params();
  out["n_layer"] = spec.shape().n_layer();
  out["d_model"] = spec.shape().d_model();
  out["n_head"] = spec.shape().n_head();
  out["n_ctx"] = spec.shape().n_ctx();
  out["vocab_size"] = spec.shape().vocab_size();
  out["tokenizer"] = corpus.tokenizer();
  out["steps"] = result.steps();
  out["batch_size"] = spec.training().batch_size();
  out["lr"] = spec.optimizer().lr();
  out["seed"] = spec.seed();
  out["final_train_loss"] = result.final_train_loss();
  out["flops_per_token"] = result.flops_per_token();
  out["flops_per_token_6n"] = result.flops_per_token_6n();
  out["wall_seconds"] = result.wall_seconds();
  out["device"] = result.device();
  out["precision"] = spec.training().precision();
  out["threads"] = spec.training().threads();
  out["diverged"] = result.diverged();
  if (result.diverged()) out["divergence_reason"] = result.divergence_reason();
  out["corpus"] = corpus.directory();
  out["loss_unit"] = "nats/token";
  return out;
}

void PrintText(const nlohmann::ordered_json& s) {
  std::printf("model        %d layers x d_model %d, %d heads, context %d\n",
              s["n_layer"].get<int>(), s["d_model"].get<int>(), s["n_head"].get<int>(),
              s["n_ctx"].get<int>());
  std::printf("params       %llu total, %llu non-embedding\n",
              s["params"].get<unsigned long long>(),
              s["non_embedding_params"].get<unsigned long long>());
  std::printf("trained      %llu tokens in %llu steps, %.3g FLOPs\n",
              s["tokens"].get<unsigned long long>(), s["steps"].get<unsigned long long>(),
              s["flops"].get<double>());
  std::printf("val loss     %.4f nats/token (unigram entropy of the validation split %.4f)\n",
              s["final_val_loss"].get<double>(), s["unigram_entropy"].get<double>());
  std::printf("train loss   %.4f (smoothed)\n", s["final_train_loss"].get<double>());
  std::printf("noise scale  B_simple %.1f sequences\n", s["noise_scale"].get<double>());
  std::printf("throughput   %.0f tokens/s (%s, %s, %d threads), %.1f s\n",
              s["tokens_per_second"].get<double>(), s["device"].get<std::string>().c_str(),
              s["precision"].get<std::string>().c_str(), s["threads"].get<int>(),
              s["wall_seconds"].get<double>());
  if (s["diverged"].get<bool>()) {
    std::printf("DIVERGED     %s\n", s["divergence_reason"].get<std::string>().c_str());
  }
}

}  // namespace

int RunTrainCommand(int argc, char** argv) {
  CLI::App app{"Train one trial locally, without a coordinator, and print a summary",
               "scalelaw-worker train"};
  app.footer(
      "\nThe trial is planned as a sweep would plan it (shape rule, defaults of a sweep spec).\n"
      "Example: scalelaw train --corpus /usr/share/doc/python3.11/html/_sources --params 1e6 "
      "--tokens 2e7 --threads 2 --json");
  TrainFlags flags;
  std::string data;
  auto* corpus = app.add_option("--corpus", flags.corpus,
                                "directory of text files (byte tokenizer), read recursively");
  auto* data_option = app.add_option(
      "--data", data,
      "data directory: prepared by `scalelaw data prepare` (train.bin, val.bin, meta.json), "
      "nanoGPT's uint16 train.bin / val.bin, or a text directory as for --corpus");
  corpus->excludes(data_option);
  app.add_option("--params", flags.params, "target total parameters, e.g. 1e6")
      ->required()
      ->check(CLI::Range(1e3, 1e13));
  app.add_option("--tokens", flags.tokens, "training tokens, e.g. 2e7")
      ->required()
      ->check(CLI::Range(1.0, 1e16));
  app.add_option("--seed", flags.seed, "seed of initialisation and data order")->default_val(0);
  app.add_option("--threads", flags.threads, "intra-op CPU threads")
      ->default_val(1)
      ->check(CLI::Range(1, 1024));
  app.add_option("--context", flags.context, "context length (default: the sweep default, 128)");
  app.add_option("--batch-size", flags.batch_size, "sequences per step (default 32)");
  app.add_option("--micro-batches", flags.micro_batches,
                 "accumulated micro-batches per step (default 2; >= 2 measures the noise scale)");
  app.add_option("--lr", flags.lr, "peak learning rate (default 1e-3)");
  app.add_option("--precision", flags.precision, "fp32 (default) or bf16");
  app.add_option("--device", flags.device, "cpu (default) or cuda");
  app.add_option("--val-fraction", flags.val_fraction,
                 "share of documents held out for validation (default 0.05)");
  app.add_option("--checkpoint-dir", flags.checkpoint_dir,
                 "checkpoint under DIR/train-t000/ and resume from there");
  app.add_option("--checkpoint-every-steps", flags.checkpoint_every_steps,
                 "steps between checkpoints (default 100)");
  app.add_flag("--json", flags.json, "print one JSON object instead of text");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!data.empty()) flags.corpus = data;
  if (flags.corpus.empty()) flags.corpus = sweeps::kDefaultCorpus;

  // Logs go to stderr so stdout holds only the summary.
  spdlog::set_default_logger(spdlog::stderr_color_mt("train"));
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [train] [%^%l%$] %v");

  absl::StatusOr<v1::TrialSpec> spec = PlanTrial(flags);
  if (!spec.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(spec.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<data::TokenDataset> loaded =
      data::TokenDataset::Load(flags.corpus, spec->data().val_fraction(), spec->data().tokenizer());
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(loaded.status().message()).c_str());
    return 1;
  }
  spdlog::info(
      "trial: {} layers x d_model {}, {} tokens, lr {:.3g}; data {} ({} training tokens, "
      "vocabulary {})",
      spec->shape().n_layer(), spec->shape().d_model(), spec->tokens(), spec->optimizer().lr(),
      flags.corpus, loaded->stats().train_tokens, loaded->vocab_size());
  TrainerHooks hooks;
  hooks.threads = flags.threads;
  hooks.on_metric = [](const v1::MetricPoint& point) {
    if (point.has_val_loss()) {
      spdlog::info("step {}: {} tokens, val loss {:.4f}", point.step(), point.tokens(),
                   point.val_loss());
    }
  };
  absl::StatusOr<v1::TrialResult> result = TrainTrial(*spec, *loaded, hooks);
  if (!result.ok()) {
    std::fprintf(stderr, "error: %s\n", result.status().ToString().c_str());
    return 1;
  }
  const nlohmann::ordered_json summary = Summary(*spec, *result, *loaded);
  if (flags.json) {
    std::cout << summary.dump() << std::endl;
  } else {
    PrintText(summary);
  }
  return 0;
}

}  // namespace scalelaw::worker
