// WalCheckpointer against a real SQLite file: the store's commits no longer
// checkpoint, the checkpointer's thread does, and the data stays readable.
#include "coordinator/wal_checkpointer.h"

#include <chrono>
#include <filesystem>
#include <thread>

#include "coordinator/test_util.h"
#include "gtest/gtest.h"

namespace scalelaw::coordinator {
namespace {

using testing::TempDir;

// A sweep of 400 trials with ~8 KiB specs: ~3 MiB, ~800 WAL pages or more.
void InsertBigSweep(Store& store, const std::string& sweep_id) {
  SweepRecord sweep;
  sweep.sweep_id = sweep_id;
  sweep.name = "big";
  sweep.spec.set_name("big");
  sweep.created_ms = 1;
  std::vector<v1::TrialSpec> trials(400);
  for (size_t i = 0; i < trials.size(); ++i) {
    trials[i].set_trial_id(sweep_id + "-t" + std::to_string(i));
    trials[i].set_sweep_id(sweep_id);
    trials[i].set_forecast_target(std::string(8192, static_cast<char>('a' + i % 26)));
  }
  ASSERT_TRUE(store.InsertSweep(sweep, trials).ok());
}

uintmax_t SizeOf(const std::string& path) {
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(path, error);
  return error ? 0 : size;
}

bool WaitFor(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST(WalCheckpointerTest, CommitsNoLongerCheckpointAndTheThreadDoes) {
  TempDir dir;
  const std::string path = dir.File("coordinator.db");
  auto store = Store::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  const uintmax_t empty = SizeOf(path);
  {
    // Thresholds never reached: nobody checkpoints.
    auto idle = WalCheckpointer::Start(store->get(), path,
                                       {.wal_pages = 1 << 30, .period = std::chrono::hours(1)});
    ASSERT_TRUE(idle.ok()) << idle.status();
    InsertBigSweep(**store, "a");
    EXPECT_GT(SizeOf(path + "-wal"), uintmax_t{3} << 20);
    EXPECT_EQ(SizeOf(path), empty);  // SQLite alone would have copied the WAL back
    EXPECT_EQ((*idle)->complete_checkpoints(), 0);
  }
  auto checkpointer = WalCheckpointer::Start(store->get(), path,
                                             {.wal_pages = 100, .period = std::chrono::hours(1)});
  ASSERT_TRUE(checkpointer.ok()) << checkpointer.status();
  InsertBigSweep(**store, "b");
  ASSERT_TRUE(WaitFor([&] { return (*checkpointer)->complete_checkpoints() >= 1; }));
  EXPECT_GT(SizeOf(path), uintmax_t{6} << 20);  // both sweeps are in the database file
  auto trial = (*store)->GetTrial("b-t399");
  ASSERT_TRUE(trial.ok()) << trial.status();
  EXPECT_EQ(trial->spec().forecast_target().size(), 8192u);
}

TEST(WalCheckpointerTest, TheTimerCheckpointsASmallWal) {
  TempDir dir;
  const std::string path = dir.File("coordinator.db");
  auto store = Store::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  auto checkpointer = WalCheckpointer::Start(
      store->get(), path, {.wal_pages = 1 << 30, .period = std::chrono::milliseconds(20)});
  ASSERT_TRUE(checkpointer.ok()) << checkpointer.status();
  const uintmax_t empty = SizeOf(path);
  InsertBigSweep(**store, "a");
  ASSERT_TRUE(WaitFor([&] { return (*checkpointer)->complete_checkpoints() >= 1; }));
  EXPECT_GT(SizeOf(path), empty + (uintmax_t{3} << 20));
}

}  // namespace
}  // namespace scalelaw::coordinator
