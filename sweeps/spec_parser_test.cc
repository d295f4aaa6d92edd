#include "sweeps/spec_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace scalelaw::sweeps {
namespace {

using ::testing::HasSubstr;

constexpr char kValid[] = R"(
name: tiny
context: 64
models:
  - target_params: 1.0e5
  - shape: {n_layer: 2, d_model: 64, n_head: 2}
tokens: [2.0e5, 4.0e5]
seeds: [1, 2]
optimizer:
  lr: 3.0e-3
  min_lr_ratio: 0
training:
  batch_size: 16
  micro_batches: 4
)";

TEST(SpecParserTest, ParsesValidSpecAndKeepsDefaults) {
  auto spec = ParseSweepSpec(kValid, "tiny.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name(), "tiny");
  ASSERT_EQ(spec->models_size(), 2);
  EXPECT_DOUBLE_EQ(spec->models(0).target_params(), 1e5);
  EXPECT_EQ(spec->models(1).shape().d_model(), 64u);
  EXPECT_EQ(spec->tokens_size(), 2);
  EXPECT_EQ(spec->seeds_size(), 2);
  EXPECT_DOUBLE_EQ(spec->optimizer().lr(), 3e-3);
  EXPECT_DOUBLE_EQ(spec->optimizer().min_lr_ratio(), 0.0);  // explicit 0 kept
  EXPECT_DOUBLE_EQ(spec->optimizer().beta2(), 0.95);        // default
  EXPECT_EQ(spec->training().micro_batches(), 4u);
  EXPECT_EQ(spec->data().tokenizer(), "byte");
}

TEST(SpecParserTest, BareNumbersAreTargetParams) {
  auto spec = ParseSweepSpec("name: a\nmodels: [1e5, 2e5]\ntokens: [1e6]\n", "a.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_DOUBLE_EQ(spec->models(1).target_params(), 2e5);
  EXPECT_EQ(spec->seeds_size(), 1);
}

struct BadSpec {
  const char* yaml;
  const char* expected;
};

class SpecParserErrorTest : public ::testing::TestWithParam<BadSpec> {};

TEST_P(SpecParserErrorTest, NamesTheField) {
  auto spec = ParseSweepSpec(GetParam().yaml, "bad.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr(GetParam().expected));
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("bad.yaml"));
}

INSTANTIATE_TEST_SUITE_P(
    Errors, SpecParserErrorTest,
    ::testing::Values(
        BadSpec{"name: a\nmodels: [1e5]\ntokens: [1e6]\noptimizer: {lr: fast}\n",
                "bad.yaml:4: optimizer.lr: expected a number, got 'fast'"},
        BadSpec{"name: a\nmodels: [{target_params: -5}]\ntokens: [1e6]\n",
                "models[0].target_params: must be in [1000, 1e+13], got -5"},
        BadSpec{"name: a\nmodels: [1e5]\ntokens: [1e6]\noptimizer: {lrr: 1}\n",
                "optimizer.lrr: unknown key (expected one of: beta1"},
        BadSpec{"name: a\nmodels: [1e5]\ntokens: [1e6]\ncolour: red\n", "colour: unknown key"},
        BadSpec{"name: a\nmodels: [1e5]\ntokens: 1e6\n", "tokens: expected a list, got a scalar"},
        BadSpec{"name: a\nmodels: [1e5]\ntokens: [1e6]\ntraining: {batch_size: 2.5}\n",
                "training.batch_size: expected a whole number >= 0, got '2.5'"},
        BadSpec{"name: a\nmodels: [1e5]\ntokens: [1e6]\ntraining: {precision: fp8}\n",
                "training.precision: must be 'fp32' or 'bf16', got 'fp8'"},
        BadSpec{"name: a\nmodels: [{shape: {n_layer: 2, d_model: 64, n_head: 3}}]\ntokens: [1e6]\n",
                "models[0].shape.n_head: must divide d_model (64), got 3"},
        BadSpec{"name: a\nmodels: []\ntokens: [1e6]\n", "models: must list at least one size"},
        BadSpec{"name: a\nmodels: [1e5]\ntokens: [1e6]\n"
                "training: {batch_rule: {critical_batch: [{params: 1e5, batch: -4}]}}\n",
                "training.batch_rule.critical_batch[0].batch: must be in"},
        BadSpec{"name: a\nmodels: [1e5]\ntokens: [1e6]\n"
                "training: {batch_rule: {critical_batch: [{params: 1e5, size: 4}]}}\n",
                "training.batch_rule.critical_batch[0].size: unknown key"},
        BadSpec{"name: a\nmodels: [1e5]\ntokens: [1e6]\ntraining: {batch_rule: {fraction: 0.5}}\n",
                "training.batch_rule.critical_batch: required"},
        BadSpec{"name: a\nmodels: [1e5]\ntokens: [1e6]\ntraining: {micro_batches: 4, "
                "batch_rule: {critical_batch: [{params: 1e5, batch: 8}], max_batch: 2}}\n",
                "training.batch_rule.max_batch: must be at least min_batch and micro_batches (4)"},
        BadSpec{"name: a\nmodels: [1e5]\ntokens: [1e6]\ntraining: {micro_batches: 4, "
                "batch_rule: {critical_batch: [{params: 1e5, batch: 8}], min_batch: 10, "
                "max_batch: 11}}\n",
                "training.batch_rule.max_batch: leaves no multiple of micro_batches (4)"},
        BadSpec{"name: a\nmodels: [1e5]\ntokens: [1e6]\nlauncher: {kind: kubernetes}\n",
                "launcher.kubernetes.image: required with launcher.kind kubernetes"},
        BadSpec{"name: a\nmodels: [1e5]\ntokens: [1e6]\n"
                "launcher: {kubernetes: {image: x, image_pull_policy: Sometimes}}\n",
                "launcher.kubernetes.image_pull_policy: must be"},
        BadSpec{"name: a\nmodels: [1e5]\ntokens: [1e6]\n"
                "launcher: {kubernetes: {image: x, namespace: ML_Team}}\n",
                "launcher.kubernetes.namespace: must be a Kubernetes name"},
        BadSpec{"name: a\nmodels: [1e5]\ntokens: [1e6]\n"
                "launcher: {kubernetes: {image: x, token_secret: -token}}\n",
                "launcher.kubernetes.token_secret: must be a Kubernetes name"},
        BadSpec{"name: a\nmodels: [1e5]\ntokens: [1e6]\n"
                "launcher: {kubernetes: {image: x, tls_secret: TLS}}\n",
                "launcher.kubernetes.tls_secret: must be a Kubernetes name"},
        BadSpec{"name: a\nmodels: [1e5\n", "not valid YAML"},
        BadSpec{"- 1\n- 2\n", "expected a mapping"}));

TEST(SpecParserTest, MissingFileIsNotFound) {
  auto spec = LoadSweepSpec("/nonexistent/sweep.yaml");
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kNotFound);
}

TEST(SpecParserTest, CheckpointFields) {
  auto defaults = ParseSweepSpec("name: a\nmodels: [1e5]\ntokens: [1e6]\n", "a.yaml");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->training().checkpoint_dir(), "");  // no checkpoints
  EXPECT_EQ(defaults->training().checkpoint_every_steps(), 100u);

  auto spec = ParseSweepSpec(
      "name: a\nmodels: [1e5]\ntokens: [1e6]\n"
      "training: {checkpoint_dir: /scratch/ckpt, checkpoint_every_steps: 25}\n",
      "a.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->training().checkpoint_dir(), "/scratch/ckpt");
  EXPECT_EQ(spec->training().checkpoint_every_steps(), 25u);

  auto only_at_end = ParseSweepSpec(
      "name: a\nmodels: [1e5]\ntokens: [1e6]\ntraining: {checkpoint_every_steps: 0}\n", "a.yaml");
  ASSERT_TRUE(only_at_end.ok()) << only_at_end.status();
  EXPECT_EQ(only_at_end->training().checkpoint_every_steps(), 0u);

  auto bad = ParseSweepSpec(
      "name: a\nmodels: [1e5]\ntokens: [1e6]\ntraining: {checkpoint_every_steps: -3}\n",
      "bad.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("bad.yaml:4: training.checkpoint_every_steps: expected a whole number"));
  auto listed = ParseSweepSpec(
      "name: a\nmodels: [1e5]\ntokens: [1e6]\ntraining: {checkpoint_dir: [a, b]}\n", "bad.yaml");
  ASSERT_FALSE(listed.ok());
  EXPECT_THAT(std::string(listed.status().message()),
              HasSubstr("training.checkpoint_dir: expected a string, got a list"));
}

TEST(SpecParserTest, LauncherDefaultsAndFields) {
  auto defaults = ParseSweepSpec("name: a\nmodels: [1e5]\ntokens: [1e6]\n", "a.yaml");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->launcher().kind(), "local");
  EXPECT_EQ(defaults->launcher().workers(), 0u);
  EXPECT_EQ(defaults->launcher().slurm().signal(), "TERM");
  EXPECT_EQ(defaults->launcher().slurm().signal_seconds(), 120u);

  auto spec = ParseSweepSpec(R"(
name: a
models: [1e5]
tokens: [1e6]
launcher:
  kind: slurm
  workers: 4
  coordinator_address: login1:50051
  resources: {gpus: 1, cpus: 8, memory: 16G, time_limit_minutes: 240}
  slurm:
    partition: gpu
    account: proj42
    signal: USR2
    signal_seconds: 300
    extra_args: [--qos=high, --exclusive]
  kubernetes: {image: scalelaw:1, namespace: ml, service_account: sa, token_secret: tok,
               tls_secret: tls}
)",
                             "a.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  const v1::LauncherConfig& launcher = spec->launcher();
  EXPECT_EQ(launcher.kind(), "slurm");
  EXPECT_EQ(launcher.workers(), 4u);
  EXPECT_EQ(launcher.coordinator_address(), "login1:50051");
  EXPECT_EQ(launcher.resources().gpus(), 1u);
  EXPECT_EQ(launcher.resources().cpus(), 8u);
  EXPECT_EQ(launcher.resources().memory(), "16G");
  EXPECT_EQ(launcher.resources().time_limit_minutes(), 240u);
  EXPECT_EQ(launcher.slurm().partition(), "gpu");
  EXPECT_EQ(launcher.slurm().account(), "proj42");
  EXPECT_EQ(launcher.slurm().signal(), "USR2");
  EXPECT_EQ(launcher.slurm().signal_seconds(), 300u);
  ASSERT_EQ(launcher.slurm().extra_args_size(), 2);
  EXPECT_EQ(launcher.slurm().extra_args(1), "--exclusive");
  EXPECT_EQ(launcher.kubernetes().image(), "scalelaw:1");
  EXPECT_EQ(launcher.kubernetes().namespace_(), "ml");
  EXPECT_EQ(launcher.kubernetes().service_account(), "sa");
  EXPECT_EQ(launcher.kubernetes().token_secret(), "tok");
  EXPECT_EQ(launcher.kubernetes().tls_secret(), "tls");
}

TEST(SpecParserTest, LauncherErrorsNameFieldValueAndExpectation) {
  const std::string head = "name: a\nmodels: [1e5]\ntokens: [1e6]\n";
  const std::pair<std::string, std::string> cases[] = {
      {"launcher: {kind: pbs}",
       "launcher.kind: must be 'local' or 'slurm' or 'kubernetes', got 'pbs'"},
      {"launcher: {workers: -1}", "launcher.workers: expected a whole number >= 0, got '-1'"},
      {"launcher: {resources: {memory: lots}}",
       "launcher.resources.memory: must be a whole number with an optional unit K, M, G or T "
       "(e.g. 16G), got 'lots'"},
      {"launcher: {slurm: {signal: KILL}}", "launcher.slurm.signal: must be 'TERM' or"},
      {"launcher: {slurm: {partition: 'gpu a'}}",
       "launcher.slurm.partition: must be one word without spaces"},
      {"launcher: {slurm: {extra_args: [qos=high]}}",
       "launcher.slurm.extra_args[0]: must be an sbatch option starting with '-' (e.g. "
       "--qos=high), got 'qos=high'"},
      {"launcher: {slurm: {extra_args: ['--comment=$(reboot)']}}",
       "launcher.slurm.extra_args[0]: must be one word"},
      {"launcher: {resources: {time_limit_minutes: 2}, slurm: {signal_seconds: 120}}",
       "launcher.slurm.signal_seconds: must be less than the time limit (launcher.resources."
       "time_limit_minutes = 2 minutes), got 120"},
      {"launcher: {coordinator_address: login1}",
       "launcher.coordinator_address: must be host:port, got 'login1'"},
      {"launcher: {slurm: {queue: x}}", "launcher.slurm.queue: unknown key"},
  };
  for (const auto& [yaml, expected] : cases) {
    auto spec = ParseSweepSpec(head + yaml + "\n", "bad.yaml");
    ASSERT_FALSE(spec.ok()) << yaml;
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument) << yaml;
    EXPECT_THAT(std::string(spec.status().message()), HasSubstr(expected)) << yaml;
  }
}

}  // namespace
}  // namespace scalelaw::sweeps
