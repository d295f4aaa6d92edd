#include "worker/trainer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "sweeps/accounting.h"

namespace scalelaw::worker {
namespace {
namespace fs = std::filesystem;

// A small English-like corpus: sentences of common words drawn with a fixed
// seed, 80 documents of ~3 KB.
fs::path WriteTinyCorpus() {
  const fs::path dir =
      fs::temp_directory_path() / ("scalelaw_trainer_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::vector<std::string> words = {
      "the",    "model",    "learns",  "a",     "loss",  "of",      "tokens", "and",
      "data",   "scaling",  "law",     "with",  "more",  "compute", "is",     "lower",
      "for",    "large",    "small",   "runs",  "batch", "size",    "rate",   "training",
      "python", "function", "returns", "value", "list"};
  std::mt19937_64 rng(7);
  for (int d = 0; d < 80; ++d) {
    std::ofstream out(dir / ("doc" + std::to_string(d) + ".txt"));
    for (int s = 0; s < 60; ++s) {
      const int n = 4 + static_cast<int>(rng() % 6);
      for (int w = 0; w < n; ++w) out << (w ? " " : "") << words[rng() % words.size()];
      out << ".\n";
    }
  }
  return dir;
}

class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TuneMallocForTraining();
    dir_ = new fs::path(WriteTinyCorpus());
    auto loaded = data::TokenDataset::Load(dir_->string(), 0.1);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    corpus_ = new data::TokenDataset(*std::move(loaded));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete corpus_;
    delete dir_;
  }

  static v1::TrialSpec TinySpec(uint64_t tokens) {
    v1::TrialSpec spec;
    spec.set_trial_id("t-tiny");
    spec.set_tokens(tokens);
    spec.set_seed(3);
    v1::ModelShape* shape = spec.mutable_shape();
    shape->set_n_layer(1);
    shape->set_d_model(32);
    shape->set_n_head(1);
    shape->set_n_ctx(32);
    shape->set_vocab_size(256);
    v1::OptimizerConfig* opt = spec.mutable_optimizer();
    opt->set_lr(3e-3);
    opt->set_min_lr_ratio(0.1);
    opt->set_warmup_fraction(0.05);
    opt->set_weight_decay(0.1);
    opt->set_beta1(0.9);
    opt->set_beta2(0.95);
    opt->set_grad_clip(1.0);
    opt->set_schedule("cosine");
    v1::TrainingConfig* training = spec.mutable_training();
    training->set_batch_size(16);
    training->set_micro_batches(2);
    training->set_threads(1);
    training->set_device("cpu");
    training->set_precision("fp32");
    training->set_eval_points(4);
    training->set_eval_batches(4);
    training->set_log_every_steps(25);
    return spec;
  }

  static fs::path* dir_;
  static data::TokenDataset* corpus_;
};
fs::path* TrainerTest::dir_ = nullptr;
data::TokenDataset* TrainerTest::corpus_ = nullptr;

TEST(TrainerStepsTest, StepsRoundUpAndEvalStepsAreLogSpaced) {
  EXPECT_EQ(StepsForTokens(4096, 32, 128), 1u);
  EXPECT_EQ(StepsForTokens(4097, 32, 128), 2u);
  // First eval at tokens / 100 (step 10), then x 100^(1/5) each.
  EXPECT_EQ(EvalSteps(1000, 4096, 6), (std::vector<uint64_t>{10, 26, 64, 159, 399, 1000}));
  EXPECT_EQ(EvalSteps(5, 4096, 6), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(EvalSteps(50, 4096, 0), (std::vector<uint64_t>{50}));
}

TEST(TrainerValidateTest, NamesTheBadField) {
  v1::TrialSpec spec;
  spec.set_tokens(100);
  spec.mutable_shape()->set_n_layer(1);
  spec.mutable_shape()->set_d_model(30);
  spec.mutable_shape()->set_n_head(4);
  spec.mutable_shape()->set_n_ctx(8);
  spec.mutable_training()->set_batch_size(8);
  spec.mutable_optimizer()->set_lr(1e-3);
  absl::Status status = ValidateTrialSpec(spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("n_head"), std::string::npos) << status;
  spec.mutable_shape()->set_d_model(32);
  spec.mutable_training()->set_micro_batches(3);
  status = ValidateTrialSpec(spec);
  EXPECT_NE(status.message().find("micro_batches"), std::string::npos) << status;
  spec.mutable_training()->set_micro_batches(2);
  spec.mutable_training()->set_precision("fp8");
  EXPECT_NE(ValidateTrialSpec(spec).message().find("precision"), std::string::npos);
}

TEST_F(TrainerTest, TinyModelLearnsTheCorpus) {
  // 300 steps of 16 x 32 tokens.
  const v1::TrialSpec spec = TinySpec(300 * 16 * 32);
  std::vector<v1::MetricPoint> points;
  TrainerHooks hooks;
  hooks.on_metric = [&](const v1::MetricPoint& p) { points.push_back(p); };
  std::atomic<uint64_t> tokens_done{0};
  hooks.tokens_done = &tokens_done;
  auto result = TrainTrial(spec, *corpus_, hooks);
  ASSERT_TRUE(result.ok()) << result.status();

  const sweeps::ParamCounts counts = sweeps::CountParams(spec.shape());
  EXPECT_EQ(result->params(), counts.total);
  EXPECT_EQ(result->non_embedding_params(), counts.non_embedding);
  EXPECT_EQ(result->steps(), 300u);
  EXPECT_EQ(result->tokens(), 300u * 16 * 32);
  EXPECT_EQ(tokens_done.load(), result->tokens());
  EXPECT_DOUBLE_EQ(result->flops_per_token_6n(), 6.0 * counts.total);
  EXPECT_DOUBLE_EQ(result->flops_per_token(), 6.0 * counts.total + 6.0 * 1 * 32 * 32);
  EXPECT_DOUBLE_EQ(result->flops(), result->flops_per_token() * result->tokens());
  EXPECT_FALSE(result->diverged());
  EXPECT_GT(result->tokens_per_second(), 0.0);
  EXPECT_GT(result->noise_scale(), 0.0);

  // Clearly below log(256) = 5.55, and below the unigram entropy: the model
  // uses context.
  EXPECT_LT(result->final_val_loss(), corpus_->stats().val_unigram_entropy)
      << "unigram entropy " << corpus_->stats().val_unigram_entropy;
  EXPECT_LT(result->final_val_loss(), 0.6 * std::log(256.0));
  EXPECT_LT(result->final_train_loss(), 0.6 * std::log(256.0));

  // Validation at log-spaced points ending at the budget; training points
  // every 25 steps, in order.
  std::vector<uint64_t> eval_steps;
  uint64_t last_step = 0;
  for (const auto& p : points) {
    EXPECT_EQ(p.trial_id(), "t-tiny");
    EXPECT_GE(p.step(), last_step);
    last_step = p.step();
    EXPECT_EQ(p.tokens(), p.step() * 16 * 32);
    if (p.has_val_loss()) eval_steps.push_back(p.step());
  }
  EXPECT_EQ(eval_steps, EvalSteps(300, 16 * 32, 4));
  EXPECT_EQ(points.back().step(), 300u);
  EXPECT_DOUBLE_EQ(points.back().val_loss(), result->final_val_loss());
}

// bf16 autocast (on libtorch 1.x with oneDNN, worker/causal_attention_bf16.h
// for the attention) learns the corpus and follows the fp32 run of the same
// seed: rounding to bf16 moves the loss by far less than training lowers it.
TEST_F(TrainerTest, Bf16AutocastTrainsLikeFp32) {
  v1::TrialSpec spec = TinySpec(60 * 16 * 32);
  spec.mutable_shape()->set_n_head(2);
  auto fp32 = TrainTrial(spec, *corpus_);
  spec.mutable_training()->set_precision("bf16");
  auto bf16 = TrainTrial(spec, *corpus_);
  ASSERT_TRUE(fp32.ok()) << fp32.status();
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  EXPECT_FALSE(bf16->diverged());
  EXPECT_LT(bf16->final_val_loss(), 0.8 * std::log(256.0));
  EXPECT_NEAR(bf16->final_val_loss(), fp32->final_val_loss(), 0.05)
      << "fp32 " << fp32->final_val_loss();
}

// Two threads run the micro-batches side by side (worker/micro_batch_lanes.h),
// one thread each: the parameters follow the one-thread run exactly, in fp32
// with 2, 3 (a last wave of one, on a lane too) and 4 micro-batches, and in
// bf16. What the main thread reduces on both threads (the noise scale's norms,
// evaluation) may round differently.
TEST_F(TrainerTest, MicroBatchLanesFollowTheOneThreadRun) {
  for (const auto& [micro_batches, precision] :
       std::vector<std::pair<uint32_t, std::string>>{
           {2, "fp32"}, {3, "fp32"}, {4, "fp32"}, {2, "bf16"}}) {
    v1::TrialSpec spec = TinySpec(40 * 16 * 32);
    spec.mutable_shape()->set_n_head(2);
    spec.mutable_training()->set_micro_batches(micro_batches);
    spec.mutable_training()->set_batch_size(micro_batches == 3 ? 24 : 16);
    spec.mutable_training()->set_precision(precision);
    TrainerHooks one, two;
    one.threads = 1;
    two.threads = 2;
    auto sequential = TrainTrial(spec, *corpus_, one);
    auto side_by_side = TrainTrial(spec, *corpus_, two);
    ASSERT_TRUE(sequential.ok()) << sequential.status();
    ASSERT_TRUE(side_by_side.ok()) << side_by_side.status();
    const std::string at = precision + ", " + std::to_string(micro_batches) + " micro-batches";
    EXPECT_EQ(side_by_side->final_train_loss(), sequential->final_train_loss()) << at;
    EXPECT_NEAR(side_by_side->final_val_loss(), sequential->final_val_loss(), 1e-6) << at;
    EXPECT_NEAR(side_by_side->noise_scale(), sequential->noise_scale(),
                1e-9 * std::abs(sequential->noise_scale()))
        << at;
  }
}

TEST_F(TrainerTest, StopFlagCancels) {
  const v1::TrialSpec spec = TinySpec(1000 * 16 * 32);
  std::atomic<bool> stop{false};
  TrainerHooks hooks;
  hooks.stop = &stop;
  hooks.on_metric = [&](const v1::MetricPoint& p) {
    if (p.step() >= 25) stop = true;
  };
  auto result = TrainTrial(spec, *corpus_, hooks);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled) << result.status();
}

TEST_F(TrainerTest, HugeLearningRateDivergesAsAResult) {
  v1::TrialSpec spec = TinySpec(200 * 16 * 32);
  spec.mutable_optimizer()->set_lr(30.0);
  spec.mutable_optimizer()->set_grad_clip(0.0);
  auto result = TrainTrial(spec, *corpus_);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->diverged());
  EXPECT_FALSE(result->divergence_reason().empty());
  EXPECT_LT(result->steps(), 200u);
}

// Stop a trial mid-way, resume it from a checkpoint, and compare with the
// uninterrupted run: single-thread CPU training is deterministic, so every
// piece of state (model, AdamW moments and step, data order, noise-scale and
// smoothed-loss EMAs, metric numbering) must come back exactly.
TEST_F(TrainerTest, ResumedTrialFollowsTheUninterruptedOne) {
  const fs::path checkpoints = *dir_ / "checkpoints";
  v1::TrialSpec spec = TinySpec(90 * 16 * 32);
  spec.mutable_training()->set_log_every_steps(5);

  std::vector<v1::MetricPoint> straight;
  TrainerHooks hooks;
  hooks.on_metric = [&](const v1::MetricPoint& p) { straight.push_back(p); };
  auto uninterrupted = TrainTrial(spec, *corpus_, hooks);
  ASSERT_TRUE(uninterrupted.ok()) << uninterrupted.status();

  spec.mutable_training()->set_checkpoint_dir(checkpoints.string());
  spec.mutable_training()->set_checkpoint_every_steps(20);
  const fs::path trial_dir = checkpoints / spec.trial_id();
  // First attempt: stopped after step 45, which checkpoints at 40 and at the
  // stop (45). The stop's checkpoint is removed, as if the worker had been
  // killed, so the second attempt redoes steps 41..45 from step 40.
  std::atomic<bool> stop{false};
  hooks.stop = &stop;
  std::vector<v1::MetricPoint> first;
  hooks.on_metric = [&](const v1::MetricPoint& p) {
    first.push_back(p);
    if (p.step() >= 45) stop = true;
  };
  auto stopped = TrainTrial(spec, *corpus_, hooks);
  ASSERT_EQ(stopped.status().code(), absl::StatusCode::kCancelled) << stopped.status();
  ASSERT_TRUE(fs::exists(trial_dir / "step-000000000040.ckpt"));
  ASSERT_TRUE(fs::exists(trial_dir / "step-000000000045.ckpt"));
  fs::remove(trial_dir / "step-000000000045.ckpt");

  std::vector<v1::MetricPoint> second;
  stop = false;
  hooks.on_metric = [&](const v1::MetricPoint& p) { second.push_back(p); };
  auto resumed = TrainTrial(spec, *corpus_, hooks);
  ASSERT_TRUE(resumed.ok()) << resumed.status();

  EXPECT_EQ(resumed->final_val_loss(), uninterrupted->final_val_loss());
  EXPECT_EQ(resumed->final_train_loss(), uninterrupted->final_train_loss());
  EXPECT_EQ(resumed->noise_scale(), uninterrupted->noise_scale());
  EXPECT_EQ(resumed->steps(), uninterrupted->steps());
  EXPECT_EQ(resumed->tokens(), uninterrupted->tokens());

  // The resumed attempt's points alone are the uninterrupted curve: the
  // replayed points up to step 40, then its own, numbered on.
  ASSERT_EQ(second.size(), straight.size());
  for (size_t i = 0; i < straight.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(second[i].seq(), i + 1);
    EXPECT_EQ(second[i].step(), straight[i].step());
    EXPECT_EQ(second[i].tokens(), straight[i].tokens());
    EXPECT_EQ(second[i].has_val_loss(), straight[i].has_val_loss());
    EXPECT_EQ(second[i].val_loss(), straight[i].val_loss());
    EXPECT_EQ(second[i].train_loss(), straight[i].train_loss());
    EXPECT_EQ(second[i].noise_scale(), straight[i].noise_scale());
    EXPECT_EQ(second[i].lr(), straight[i].lr());
  }
  // Up to the checkpoint, the replay is the first attempt's points verbatim.
  for (size_t i = 0; i < first.size() && first[i].step() <= 40; ++i) {
    EXPECT_EQ(second[i].wall_seconds(), first[i].wall_seconds());
  }
  // The end is checkpointed too; an attempt that finds it just reports.
  EXPECT_TRUE(fs::exists(trial_dir / "step-000000000090.ckpt"));
  std::vector<v1::MetricPoint> third;
  hooks.on_metric = [&](const v1::MetricPoint& p) { third.push_back(p); };
  auto again = TrainTrial(spec, *corpus_, hooks);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->final_val_loss(), uninterrupted->final_val_loss());
  EXPECT_EQ(third.size(), straight.size());

  // A checkpoint of another trajectory (different seed) is refused.
  spec.set_seed(spec.seed() + 1);
  EXPECT_EQ(TrainTrial(spec, *corpus_, hooks).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// WSD: a stable run keeps its state at each branch point, and a cooldown
// branch that starts there is the same trajectory as one uninterrupted WSD
// run of the branch's length (single-thread CPU training is deterministic).
TEST_F(TrainerTest, WsdCooldownBranchEqualsAnUninterruptedWsdRun) {
  const fs::path checkpoints = *dir_ / "wsd-checkpoints";
  constexpr uint64_t kPerStep = 16 * 32;
  auto wsd = [&](uint64_t steps) {
    v1::TrialSpec spec = TinySpec(steps * kPerStep);
    spec.mutable_optimizer()->set_schedule("wsd");
    spec.mutable_optimizer()->set_cooldown_fraction(0.2);
    spec.mutable_training()->set_checkpoint_every_steps(0);
    return spec;
  };
  // Branches of 50 and 75 steps leave the stable run after 40 and 60 steps.
  v1::TrialSpec stable = wsd(60);
  stable.set_trial_id("t-stable");
  stable.mutable_training()->set_checkpoint_dir(checkpoints.string());
  stable.mutable_wsd()->set_role(v1::TRIAL_ROLE_WSD_STABLE);
  stable.mutable_wsd()->set_warmup_tokens(3 * kPerStep);  // ceil(0.05 x 50) steps
  stable.mutable_wsd()->add_branch_tokens(40 * kPerStep);
  stable.mutable_wsd()->add_branch_tokens(60 * kPerStep);
  std::vector<double> stable_lrs;
  TrainerHooks hooks;
  hooks.on_metric = [&](const v1::MetricPoint& p) {
    if (p.has_lr()) stable_lrs.push_back(p.lr());
  };
  auto stable_result = TrainTrial(stable, *corpus_, hooks);
  ASSERT_TRUE(stable_result.ok()) << stable_result.status();
  for (size_t i = 1; i < stable_lrs.size(); ++i) EXPECT_EQ(stable_lrs[i], 3e-3);  // no decay
  const fs::path branches = checkpoints / "t-stable" / "branches";
  EXPECT_TRUE(fs::exists(branches / "step-000000000040.ckpt"));
  EXPECT_TRUE(fs::exists(branches / "step-000000000060.ckpt"));

  auto branch = [&](uint64_t steps, uint64_t start) {
    v1::TrialSpec spec = wsd(steps);
    spec.set_trial_id("t-branch-" + std::to_string(steps));
    spec.mutable_training()->set_checkpoint_dir(checkpoints.string());
    spec.mutable_wsd()->set_role(v1::TRIAL_ROLE_WSD_COOLDOWN);
    spec.mutable_wsd()->set_stable_trial_id("t-stable");
    spec.mutable_wsd()->set_warmup_tokens(3 * kPerStep);
    spec.mutable_wsd()->set_decay_start_tokens(start * kPerStep);
    return spec;
  };
  std::vector<v1::MetricPoint> points;
  hooks.on_metric = [&](const v1::MetricPoint& p) { points.push_back(p); };
  auto short_branch = TrainTrial(branch(50, 40), *corpus_, hooks);
  ASSERT_TRUE(short_branch.ok()) << short_branch.status();
  EXPECT_EQ(short_branch->steps(), 50u);
  // Its curve is the stable run's up to step 40, then its own, numbered on.
  for (size_t i = 0; i < points.size(); ++i) {
    EXPECT_EQ(points[i].seq(), i + 1);
    EXPECT_EQ(points[i].trial_id(), "t-branch-50");
  }
  EXPECT_LT(points.back().lr(), 3e-3);

  // The same 50 steps as one WSD run: warmup 3, stable to 40, cooldown 10.
  v1::TrialSpec whole = wsd(50);
  auto uninterrupted = TrainTrial(whole, *corpus_);
  ASSERT_TRUE(uninterrupted.ok()) << uninterrupted.status();
  EXPECT_EQ(short_branch->final_val_loss(), uninterrupted->final_val_loss());
  EXPECT_EQ(short_branch->final_train_loss(), uninterrupted->final_train_loss());

  // The cooldown pays: the longer branch ends below the stable run's end.
  auto long_branch = TrainTrial(branch(75, 60), *corpus_);
  ASSERT_TRUE(long_branch.ok()) << long_branch.status();
  EXPECT_LT(long_branch->final_val_loss(), stable_result->final_val_loss());

  // Without the stable run's checkpoint a branch cannot start, and says why.
  v1::TrialSpec orphan = branch(50, 40);
  orphan.set_trial_id("t-orphan");
  orphan.mutable_wsd()->set_stable_trial_id("t-missing");
  auto failed = TrainTrial(orphan, *corpus_);
  ASSERT_EQ(failed.status().code(), absl::StatusCode::kFailedPrecondition) << failed.status();
  EXPECT_NE(failed.status().message().find("shared by every worker"), std::string_view::npos);
}

}  // namespace
}  // namespace scalelaw::worker
