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

}  // namespace
}  // namespace scalelaw::sweeps
