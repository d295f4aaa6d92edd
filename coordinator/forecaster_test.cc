#include "coordinator/forecaster.h"

#include <cmath>

#include "fitting/compute_optimal.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sweeps/planner.h"
#include "sweeps/spec_parser.h"

namespace scalelaw::coordinator {
namespace {

using ::testing::HasSubstr;

// A grid ladder of 3 sizes x 3 budgets and two targets: a shape and a compute.
constexpr char kSpec[] = R"(name: f
context: 32
models:
  - shape: {n_layer: 1, d_model: 32, n_head: 1}
  - shape: {n_layer: 1, d_model: 48, n_head: 1}
  - shape: {n_layer: 1, d_model: 64, n_head: 2}
tokens: [40960, 81920, 163840]
training: {batch_size: 16}
forecast:
  targets:
    - {name: big, shape: {n_layer: 1, d_model: 96, n_head: 3}, tokens: 327680}
    - {name: opt, compute: 3.0e11}
  bootstrap: 40
)";

constexpr fitting::ChinchillaParams kLaw{.E = 1.2, .A = 60, .B = 300, .alpha = 0.4, .beta = 0.45};

struct Fixture {
  SweepRecord sweep;
  std::vector<v1::Trial> trials;
};

// Every ladder trial SUCCEEDED with the law's loss (times a fixed ±1%
// pattern, so the residuals are not all zero); the targets PENDING.
Fixture MakeFixture(v1::TrialState ladder_state = v1::TRIAL_STATE_SUCCEEDED) {
  Fixture f;
  f.sweep.sweep_id = "f-1";
  f.sweep.spec = *sweeps::ParseSweepSpec(kSpec, "f.yaml");
  const std::vector<v1::TrialSpec> specs = *sweeps::PlanSweep(f.sweep.spec, "f-1");
  for (size_t i = 0; i < specs.size(); ++i) {
    v1::Trial& trial = f.trials.emplace_back();
    *trial.mutable_spec() = specs[i];
    if (!specs[i].forecast_target().empty()) {
      trial.set_state(v1::TRIAL_STATE_PENDING);
      continue;
    }
    trial.set_state(ladder_state);
    v1::TrialResult* result = trial.mutable_result();
    result->set_params(specs[i].params());
    result->set_tokens(specs[i].tokens());
    const double wobble = 1 + 0.01 * ((i % 3) - 1.0);
    result->set_final_val_loss(kLaw.Loss(double(specs[i].params()), double(specs[i].tokens())) *
                               wobble);
  }
  return f;
}

TEST(ForecasterTest, LadderEndedIgnoresTargets) {
  Fixture f = MakeFixture();
  EXPECT_TRUE(LadderEnded(f.trials));
  f.trials[2].set_state(v1::TRIAL_STATE_RUNNING);
  EXPECT_FALSE(LadderEnded(f.trials));
}

TEST(ForecasterTest, PredictsTargetsFromTheLadderAndSizesComputeTargets) {
  const Fixture f = MakeFixture();
  absl::StatusOr<SweepForecasts> made = MakeForecasts(f.sweep, f.trials, 1234);
  ASSERT_TRUE(made.ok()) << made.status();
  ASSERT_EQ(made->forecasts.size(), 2u);

  const v1::Forecast& big = made->forecasts[0];
  EXPECT_EQ(big.target(), "big");
  EXPECT_EQ(big.trial_id(), "f-1-t009");
  EXPECT_TRUE(big.error().empty()) << big.error();
  EXPECT_EQ(big.fitted_ms(), 1234);
  EXPECT_EQ(big.fit().n_points(), 9u);
  EXPECT_EQ(big.tokens(), 327680);
  EXPECT_DOUBLE_EQ(big.compute(), 6 * big.params() * big.tokens());
  // The ±1% wobble moves the fitted law a little off kLaw.
  EXPECT_NEAR(big.predicted_loss(), kLaw.Loss(big.params(), big.tokens()),
              0.03 * big.predicted_loss());
  EXPECT_LT(big.prediction_interval().lo(), big.predicted_loss());
  EXPECT_GT(big.prediction_interval().hi(), big.predicted_loss());
  EXPECT_LE(big.prediction_interval().lo(), big.parameter_interval().lo());
  EXPECT_GE(big.prediction_interval().hi(), big.parameter_interval().hi());
  EXPECT_GT(big.residual_scale(), 0);
  EXPECT_THAT(big.options(), HasSubstr("bootstrap=40"));
  EXPECT_FALSE(big.code_version().empty());

  // The compute target becomes the fitted optimum's nearest shape, trained on
  // the whole steps that spend its 6ND.
  const v1::Forecast& opt = made->forecasts[1];
  EXPECT_TRUE(opt.error().empty()) << opt.error();
  ASSERT_EQ(made->target_specs.size(), 1u);
  const v1::TrialSpec& sized = made->target_specs[0];
  EXPECT_EQ(sized.trial_id(), "f-1-t010");
  EXPECT_EQ(sized.forecast_target(), "opt");
  const fitting::ComputeOptimal optimum = *fitting::OptimalAllocation(
      fitting::ChinchillaParams{big.fit().params().at("E"), big.fit().params().at("A"),
                                big.fit().params().at("B"), big.fit().params().at("alpha"),
                                big.fit().params().at("beta")},
      3e11);
  EXPECT_DOUBLE_EQ(opt.params_opt(), optimum.params);
  EXPECT_DOUBLE_EQ(opt.tokens_opt(), optimum.tokens);
  EXPECT_EQ(sized.tokens() % (16 * 32), 0u);
  EXPECT_NEAR(6.0 * double(sized.params()) * double(sized.tokens()), 3e11,
              6.0 * double(sized.params()) * 16 * 32);
  EXPECT_EQ(opt.params(), double(sized.params()));
  EXPECT_EQ(opt.tokens(), double(sized.tokens()));
}

TEST(ForecasterTest, AnUnfittableLadderIsRecordedNotRaised) {
  const Fixture f = MakeFixture(v1::TRIAL_STATE_FAILED);
  absl::StatusOr<SweepForecasts> made = MakeForecasts(f.sweep, f.trials, 1);
  ASSERT_TRUE(made.ok()) << made.status();
  ASSERT_EQ(made->forecasts.size(), 2u);
  for (const v1::Forecast& forecast : made->forecasts) {
    EXPECT_THAT(forecast.error(), HasSubstr("the ladder could not be fitted"));
  }
  EXPECT_TRUE(made->target_specs.empty());
  // The compute target has no size to run at: it ends FAILED with the error.
  ASSERT_EQ(made->failed_targets.size(), 1u);
  EXPECT_EQ(made->failed_targets[0].first, "f-1-t010");
  EXPECT_THAT(made->failed_targets[0].second, HasSubstr("could not be fitted"));
}

}  // namespace
}  // namespace scalelaw::coordinator
