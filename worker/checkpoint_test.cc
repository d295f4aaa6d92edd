#include "worker/checkpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "google/protobuf/util/message_differencer.h"

namespace scalelaw::worker {
namespace {
namespace fs = std::filesystem;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("scalelaw_checkpoint_test_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    dir_ = *TrialCheckpointDirectory(root_.string(), "sweep-1-t0003");
  }
  void TearDown() override { fs::remove_all(root_); }

  // Every field of the plain state set to a distinct value.
  static v1::TrialCheckpoint FullState(uint64_t steps_done) {
    v1::TrialCheckpoint state;
    state.mutable_spec()->set_trial_id("sweep-1-t0003");
    state.mutable_spec()->set_seed(7);
    state.mutable_spec()->mutable_shape()->set_d_model(64);
    state.set_steps_done(steps_done);
    state.set_tokens(steps_done * 512);
    state.set_data_rng_state("123 456 789");
    state.set_noise_grad_sq(0.25);
    state.set_noise_trace_sigma(12.5);
    state.set_noise_weight(0.64);
    state.set_noise_count(20);
    state.set_smoothed_train_loss(2.75);
    state.set_min_smoothed_train_loss(std::numeric_limits<double>::infinity());
    state.set_last_val_loss(2.9);
    state.set_next_eval(3);
    state.set_wall_seconds(41.5);
    state.set_eval_seconds(3.5);
    state.set_metric_seq(2);
    v1::MetricPoint* a = state.add_metrics();
    a->set_seq(1);
    a->set_step(10);
    a->set_train_loss(3.0);
    v1::MetricPoint* b = state.add_metrics();
    b->set_seq(2);
    b->set_step(13);
    b->set_val_loss(2.9);
    return state;
  }

  fs::path root_;
  std::string dir_;
};

TEST_F(CheckpointTest, WriteThenReadRoundTripsEveryField) {
  const v1::TrialCheckpoint state = FullState(40);
  std::string model_state(100000, '\0');
  for (size_t i = 0; i < model_state.size(); ++i) model_state[i] = static_cast<char>(i * 131);
  auto path = WriteCheckpoint(dir_, state, model_state);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(fs::path(*path).filename(), "step-000000000040.ckpt");

  auto newest = ReadNewestCheckpoint(dir_);
  ASSERT_TRUE(newest.ok()) << newest.status();
  ASSERT_TRUE(newest->has_value());
  v1::TrialCheckpoint expected = state;
  expected.set_model_state_bytes(model_state.size());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals((*newest)->state, expected))
      << (*newest)->state.DebugString();
  EXPECT_EQ((*newest)->model_state, model_state);
  EXPECT_EQ((*newest)->path, *path);
  // Nothing but the checkpoint is left in the directory.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(CheckpointTest, NoDirectoryMeansNoCheckpoint) {
  auto newest = ReadNewestCheckpoint(dir_);
  ASSERT_TRUE(newest.ok()) << newest.status();
  EXPECT_FALSE(newest->has_value());
  EXPECT_EQ(*TrialCheckpointDirectory("", "t"), "");
}

// A trial id comes from the coordinator: one that would climb out of the
// checkpoint directory, or replace it, is refused rather than joined.
TEST_F(CheckpointTest, TrialIdsThatEscapeAreRefused) {
  EXPECT_EQ(*TrialCheckpointDirectory("/ckpt", "s-1-t000"), "/ckpt/s-1-t000");
  EXPECT_EQ(*BranchCheckpointDirectory("/ckpt", "s-1-t000"), "/ckpt/s-1-t000/branches");
  for (const std::string& id : {std::string("../../../escaped-1"), std::string("/etc/cron.d/x"),
                                std::string(".."), std::string("a/b"), std::string("a\0b", 3),
                                std::string("")}) {
    auto trial_dir = TrialCheckpointDirectory(root_.string(), id);
    EXPECT_TRUE(absl::IsInvalidArgument(trial_dir.status())) << id;
    EXPECT_NE(trial_dir.status().message().find("trial_id: "), std::string::npos);
    auto branch_dir = BranchCheckpointDirectory(root_.string(), id, "wsd.stable_trial_id");
    EXPECT_TRUE(absl::IsInvalidArgument(branch_dir.status())) << id;
    EXPECT_NE(branch_dir.status().message().find("wsd.stable_trial_id: "), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(root_));  // nothing was created anywhere
}

TEST_F(CheckpointTest, FilesArePrivateToTheirOwner) {
  auto path = WriteCheckpoint(dir_, FullState(40), "model-40");
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(fs::status(*path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(CheckpointTest, TornWriteIsIgnored) {
  ASSERT_TRUE(WriteCheckpoint(dir_, FullState(40), "model-40").ok());
  // A worker killed while writing step 50 leaves its temporary file behind,
  // with a newer step in its name and half the bytes.
  {
    std::ofstream torn(fs::path(dir_) / (CheckpointFileName(50) + ".tmp.4242.0"), std::ios::binary);
    torn << "SCLCKPT1\x20\x00";
  }
  auto newest = ReadNewestCheckpoint(dir_);
  ASSERT_TRUE(newest.ok()) << newest.status();
  ASSERT_TRUE(newest->has_value());
  EXPECT_EQ((*newest)->state.steps_done(), 40u);
  EXPECT_EQ((*newest)->model_state, "model-40");
}

TEST_F(CheckpointTest, NewestWinsAndOlderArePruned) {
  for (uint64_t step : {10, 20, 30}) ASSERT_TRUE(WriteCheckpoint(dir_, FullState(step), "m").ok());
  EXPECT_FALSE(fs::exists(fs::path(dir_) / CheckpointFileName(10)));  // keeps the two newest
  EXPECT_TRUE(fs::exists(fs::path(dir_) / CheckpointFileName(20)));
  auto newest = ReadNewestCheckpoint(dir_);
  ASSERT_TRUE(newest.ok() && newest->has_value());
  EXPECT_EQ((*newest)->state.steps_done(), 30u);
}

TEST_F(CheckpointTest, CorruptNewestFallsBackToTheOlderOne) {
  ASSERT_TRUE(WriteCheckpoint(dir_, FullState(20), "model-20").ok());
  auto path = WriteCheckpoint(dir_, FullState(30), "model-30");
  ASSERT_TRUE(path.ok());
  fs::resize_file(*path, fs::file_size(*path) - 3);  // truncated by a broken disk
  EXPECT_EQ(ReadCheckpoint(*path).status().code(), absl::StatusCode::kDataLoss);
  auto newest = ReadNewestCheckpoint(dir_);
  ASSERT_TRUE(newest.ok()) << newest.status();
  ASSERT_TRUE(newest->has_value());
  EXPECT_EQ((*newest)->state.steps_done(), 20u);

  // When nothing is readable the caller hears about it.
  fs::remove(fs::path(dir_) / CheckpointFileName(20));
  EXPECT_EQ(ReadNewestCheckpoint(dir_).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace scalelaw::worker
