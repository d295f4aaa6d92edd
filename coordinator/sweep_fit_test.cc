#include "coordinator/sweep_fit.h"

#include <cmath>
#include <random>

#include "fitting/compute_optimal.h"
#include "fitting/synthetic_runs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace scalelaw::coordinator {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

// Hoffmann et al. 2022's fitted law, as ground truth for synthetic trials.
constexpr fitting::ChinchillaParams kTruth{1.69, 406.4, 410.7, 0.34, 0.28};

std::vector<v1::Trial> SyntheticTrials() {
  fitting::SyntheticGrid grid;
  grid.n_params = 5;
  grid.n_tokens = 4;
  grid.log_noise_sigma = 0.002;
  std::mt19937_64 rng(7);
  std::vector<v1::Trial> trials;
  for (const fitting::Observation& run : fitting::SyntheticChinchillaRuns(kTruth, grid, rng)) {
    v1::Trial& trial = trials.emplace_back();
    trial.mutable_spec()->set_trial_id(run.id);
    trial.set_state(v1::TRIAL_STATE_SUCCEEDED);
    trial.mutable_result()->set_params(static_cast<uint64_t>(run.params));
    trial.mutable_result()->set_tokens(static_cast<uint64_t>(run.tokens));
    trial.mutable_result()->set_final_val_loss(run.loss);
  }
  // A WSD stable run ends at constant lr: never a fit point, however good.
  v1::Trial& stable = trials.emplace_back();
  stable.mutable_spec()->set_trial_id("s-stable");
  stable.mutable_spec()->mutable_wsd()->set_role(v1::TRIAL_ROLE_WSD_STABLE);
  stable.set_state(v1::TRIAL_STATE_SUCCEEDED);
  stable.mutable_result()->set_params(1000000);
  stable.mutable_result()->set_tokens(1000000);
  stable.mutable_result()->set_final_val_loss(0.5);
  v1::Trial& diverged = trials.emplace_back();
  diverged.mutable_spec()->set_trial_id("d1");
  diverged.set_state(v1::TRIAL_STATE_DIVERGED);
  diverged.set_reason("loss is nan at step 40");
  diverged.mutable_result()->set_diverged(true);
  v1::Trial& failed = trials.emplace_back();
  failed.mutable_spec()->set_trial_id("f1");
  failed.set_state(v1::TRIAL_STATE_FAILED);
  failed.set_reason("lease expired 3 times");
  v1::Trial& running = trials.emplace_back();
  running.mutable_spec()->set_trial_id("r-running");
  running.set_state(v1::TRIAL_STATE_RUNNING);
  return trials;
}

TEST(SweepFitTest, ChinchillaRecoversTheLawAndListsExclusions) {
  v1::GetFitRequest request;
  request.add_compute_budgets(1e21);
  auto fit = FitSweep(SyntheticTrials(), request);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_EQ(fit->law(), "chinchilla");
  EXPECT_EQ(fit->n_points(), 20u);
  EXPECT_EQ(fit->param_count(), "total");
  EXPECT_NEAR(fit->params().at("E"), kTruth.E, 0.1);
  EXPECT_NEAR(fit->params().at("alpha"), kTruth.alpha, 0.05);
  EXPECT_NEAR(fit->params().at("beta"), kTruth.beta, 0.05);
  EXPECT_FALSE(fit->termination().empty());
  EXPECT_THAT(fit->excluded(), Contains(HasSubstr("d1: DIVERGED: loss is nan")));
  EXPECT_THAT(fit->excluded(), Contains(HasSubstr("f1: FAILED: lease expired 3 times")));
  EXPECT_THAT(fit->excluded(), Contains(HasSubstr("s-stable: WSD stable run")));
  EXPECT_EQ(fit->excluded_size(), 3);

  ASSERT_EQ(fit->optimal_size(), 1);
  fitting::ChinchillaParams fitted{fit->params().at("E"), fit->params().at("A"),
                                   fit->params().at("B"), fit->params().at("alpha"),
                                   fit->params().at("beta")};
  auto expected = *fitting::OptimalAllocation(fitted, 1e21);
  EXPECT_DOUBLE_EQ(fit->optimal(0).compute(), 1e21);
  EXPECT_DOUBLE_EQ(fit->optimal(0).params(), expected.params);
  EXPECT_DOUBLE_EQ(fit->optimal(0).tokens(), expected.tokens);
  EXPECT_NEAR(6 * fit->optimal(0).params() * fit->optimal(0).tokens(), 1e21, 1e15);
}

TEST(SweepFitTest, PowerLawOnCompute) {
  v1::GetFitRequest request;
  request.set_law("power");
  request.add_compute_budgets(1e20);
  auto fit = FitSweep(SyntheticTrials(), request);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_EQ(fit->law(), "power");
  EXPECT_GT(fit->params().at("alpha"), 0);
  ASSERT_EQ(fit->optimal_size(), 1);
  EXPECT_GT(fit->optimal(0).loss(), 0);
}

TEST(SweepFitTest, BadRequestsAndTooFewPoints) {
  v1::GetFitRequest bad_law;
  bad_law.set_law("cubic");
  EXPECT_TRUE(absl::IsInvalidArgument(FitSweep(SyntheticTrials(), bad_law).status()));
  v1::GetFitRequest bad_budget;
  bad_budget.add_compute_budgets(-1);
  auto status = FitSweep(SyntheticTrials(), bad_budget).status();
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(std::string(status.message()), HasSubstr("compute_budgets[0]"));
  std::vector<v1::Trial> few = SyntheticTrials();
  few.erase(few.begin(), few.begin() + 17);  // 3 succeeded left
  EXPECT_TRUE(absl::IsFailedPrecondition(FitSweep(few, v1::GetFitRequest()).status()));
}

TEST(ObservationsFromTrialsTest, FiltersListEveryTrialLeftOutWithItsReason) {
  std::vector<v1::Trial> trials = SyntheticTrials();
  // A diverged trial that still reported a finite loss.
  trials[trials.size() - 3].mutable_result()->set_params(5'000'000);
  trials[trials.size() - 3].mutable_result()->set_tokens(100'000'000);
  trials[trials.size() - 3].mutable_result()->set_final_val_loss(7.5);
  const double smallest = static_cast<double>(trials[0].result().params());

  TrialFilter filter;
  filter.min_tokens = 2e9;
  filter.exclude_sizes = {smallest * 1.03};  // within 5%
  absl::StatusOr<SweepObservations> points = ObservationsFromTrials(trials, filter);
  ASSERT_TRUE(points.ok()) << points.status();
  EXPECT_THAT(points->excluded, Contains(HasSubstr("d1: DIVERGED: loss is nan")));
  EXPECT_THAT(points->excluded, Contains(HasSubstr("too few tokens")));
  EXPECT_THAT(points->excluded, Contains(HasSubstr("size excluded by filter")));
  for (const fitting::Observation& obs : points->observations) {
    EXPECT_GE(obs.tokens, 2e9);
    EXPECT_GT(std::abs(obs.params - smallest), 0.05 * smallest);
  }
  EXPECT_EQ(points->observations.size() + points->excluded.size(), trials.size() - 1);  // running

  filter = TrialFilter();
  filter.drop_diverged = false;
  points = ObservationsFromTrials(trials, filter);
  ASSERT_TRUE(points.ok());
  EXPECT_EQ(points->observations.size(), 21u);
  EXPECT_EQ(points->observations.back().id, "d1");

  filter.param_count = "non_embedding";
  points = ObservationsFromTrials(trials, filter);
  ASSERT_TRUE(points.ok());
  EXPECT_TRUE(points->observations.empty());  // the synthetic trials carry no such count
  EXPECT_THAT(points->excluded, Contains(HasSubstr("non_embedding_params")));

  filter.param_count = "embedding";
  EXPECT_TRUE(absl::IsInvalidArgument(ObservationsFromTrials(trials, filter).status()));
  filter = TrialFilter();
  filter.exclude_sizes = {-1};
  EXPECT_TRUE(absl::IsInvalidArgument(ObservationsFromTrials(trials, filter).status()));
}

TEST(SweepFitTest, RequestFiltersBootstrapAndPointIds) {
  v1::GetFitRequest request;
  request.add_compute_budgets(1e21);
  request.set_min_tokens(1e9);
  request.set_bootstrap(50);
  request.set_seed(3);
  auto fit = FitSweep(SyntheticTrials(), request);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_EQ(fit->point_ids_size(), static_cast<int>(fit->n_points()));
  EXPECT_LT(fit->n_points(), 20u);
  EXPECT_THAT(fit->excluded(), Contains(HasSubstr("too few tokens")));
  EXPECT_EQ(fit->bootstrap_resamples() + fit->bootstrap_failed(), 50u);
  ASSERT_TRUE(fit->intervals().contains("alpha"));
  EXPECT_LE(fit->intervals().at("alpha").lo(), fit->params().at("alpha"));
  EXPECT_GE(fit->intervals().at("alpha").hi(), fit->params().at("alpha"));
  ASSERT_EQ(fit->optimal_size(), 1);
  EXPECT_LE(fit->optimal(0).params_interval().lo(), fit->optimal(0).params());
  EXPECT_GE(fit->optimal(0).params_interval().hi(), fit->optimal(0).params());

  request.set_bootstrap_unit("model");
  EXPECT_TRUE(absl::IsInvalidArgument(FitSweep(SyntheticTrials(), request).status()));
  request.set_bootstrap_unit("size");
  request.set_law("power");
  EXPECT_TRUE(absl::IsInvalidArgument(FitSweep(SyntheticTrials(), request).status()));
}

}  // namespace
}  // namespace scalelaw::coordinator
