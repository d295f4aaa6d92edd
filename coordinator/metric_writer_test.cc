// MetricWriter and Store::AppendMetrics against a real SQLite store. A second
// connection holding the write lock stands in for a slow disk: the writer's
// batch waits in BEGIN while the test fills the queue behind it.
#include "coordinator/metric_writer.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "coordinator/clock.h"
#include "coordinator/store.h"
#include "coordinator/test_util.h"
#include "coordinator/trial_scheduler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace scalelaw::coordinator {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Counts committed store transactions.
class CommitCounter final : public CoordinatorObserver {
 public:
  void OnStoreWrite(std::chrono::nanoseconds) override { ++commits; }
  std::atomic<int> commits{0};
};

// Another connection to the store file holding its write lock until Release.
class WriteLock {
 public:
  explicit WriteLock(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  }
  ~WriteLock() {
    Release();
    sqlite3_close(db_);
  }
  void Release() {
    if (held_) {
      EXPECT_EQ(sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    }
    held_ = false;
  }

 private:
  sqlite3* db_ = nullptr;
  bool held_ = true;
};

// The outcome of one point, filled in by its `done`.
struct Outcome {
  std::promise<absl::StatusOr<MetricWrite>> promise;
  std::future<absl::StatusOr<MetricWrite>> future = promise.get_future();
  MetricWriter::Done Done() {
    return [this](absl::StatusOr<MetricWrite> r) { promise.set_value(std::move(r)); };
  }
  absl::StatusOr<MetricWrite> Get() {
    if (future.wait_for(30s) != std::future_status::ready) {
      return absl::DeadlineExceededError("no completion within 30 s");
    }
    return future.get();
  }
};

class MetricWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    store_->set_observer(&commits_);
    scheduler_ = std::make_unique<TrialScheduler>(store_.get(), &clock_);
    v1::SubmitSweepRequest submit;
    *submit.mutable_spec() = testing::SmallSweepSpec();
    ASSERT_TRUE(scheduler_->SubmitSweep(submit).ok());
    auto worker = scheduler_->RegisterWorker(v1::RegisterWorkerRequest());
    ASSERT_TRUE(worker.ok());
    worker_ = *worker;
    v1::LeaseTrialRequest request;
    request.set_worker_id(worker_);
    auto lease = scheduler_->LeaseTrial(request);
    ASSERT_TRUE(lease.ok() && lease->granted());
    lease_ = *lease;
  }

  v1::MetricPoint Point(uint64_t seq) const {
    v1::MetricPoint point;
    point.set_trial_id(lease_.trial().trial_id());
    point.set_attempt(lease_.attempt());
    point.set_seq(seq);
    point.set_tokens(seq * 100);
    point.set_train_loss(5.0 - 0.001 * static_cast<double>(seq));
    point.set_val_loss(6.0 - 0.001 * static_cast<double>(seq));
    point.set_lease_token(lease_.lease_token());
    return point;
  }

  std::vector<uint64_t> StoredSeqs() {
    auto points = store_->ListMetrics(lease_.trial().trial_id(), lease_.attempt());
    EXPECT_TRUE(points.ok()) << points.status();
    std::vector<uint64_t> seqs;
    for (const v1::MetricPoint& point : *points) seqs.push_back(point.seq());
    return seqs;
  }

  // Waits (bounded) until the writer has taken everything queued.
  static void WaitUntilTaken(const MetricWriter& writer) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (writer.queued() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    ASSERT_EQ(writer.queued(), 0u);
  }

  testing::TempDir dir_;
  const std::string path_ = dir_.File("coordinator.db");
  FakeClock clock_;
  CommitCounter commits_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<TrialScheduler> scheduler_;
  std::string worker_;
  v1::LeaseTrialResponse lease_;
};

TEST_F(MetricWriterTest, PointsQueuedTogetherShareOneCommit) {
  MetricWriter writer(store_.get(), nullptr);
  Outcome first;
  std::vector<Outcome> rest(200);
  {
    WriteLock lock(path_);
    writer.Enqueue(Point(1), first.Done(), [] {});
    WaitUntilTaken(writer);  // the first batch waits for the lock
    for (size_t i = 0; i < rest.size(); ++i) writer.Enqueue(Point(i + 2), rest[i].Done(), [] {});
    commits_.commits = 0;
  }
  ASSERT_TRUE(first.Get().ok());
  for (Outcome& outcome : rest) {
    auto written = outcome.Get();
    ASSERT_TRUE(written.ok()) << written.status();
    EXPECT_EQ(*written, MetricWrite::kStored);
  }
  // The first batch, then the 200 queued behind it: one transaction each.
  EXPECT_EQ(commits_.commits, 2);
  EXPECT_EQ(StoredSeqs().size(), 201u);

  // The trial's metric fields follow the last point; LEASED became RUNNING.
  auto trial = store_->GetTrial(lease_.trial().trial_id());
  ASSERT_TRUE(trial.ok());
  EXPECT_EQ(trial->state(), v1::TRIAL_STATE_RUNNING);
  EXPECT_EQ(trial->tokens_done(), 201u * 100);
  EXPECT_DOUBLE_EQ(trial->latest_train_loss(), 5.0 - 0.201);
  EXPECT_DOUBLE_EQ(trial->latest_val_loss(), 6.0 - 0.201);
}

TEST_F(MetricWriterTest, ManyThreadsEachPointStoredOnceAndCompletedInOrder) {
  MetricWriter writer(store_.get(), nullptr, {.max_queued_points = 64, .max_batch_points = 16});
  constexpr int kThreads = 8, kPerThread = 250;
  // What each thread's points heard, kept outside the threads: the writer
  // may complete them after their thread has enqueued its last.
  struct Heard {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<uint64_t> completed;
    int failures = 0;
  };
  std::vector<Heard> heard(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Heard& mine = heard[t];
      for (int i = 0; i < kPerThread; ++i) {
        const uint64_t seq = uint64_t(t) * kPerThread + i + 1;
        // Every tenth point is sent twice: the resend is a duplicate.
        for (int copy = 0; copy < (i % 10 == 0 ? 2 : 1); ++copy) {
          const MetricWrite expected = copy == 0 ? MetricWrite::kStored : MetricWrite::kDuplicate;
          writer.Enqueue(
              Point(seq),
              [&mine, seq, expected](absl::StatusOr<MetricWrite> r) {
                std::lock_guard lock(mine.mu);
                if (!r.ok() || *r != expected) ++mine.failures;
                mine.completed.push_back(seq);
                mine.cv.notify_all();
              },
              [] {});
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (Heard& mine : heard) {
    std::unique_lock lock(mine.mu);
    ASSERT_TRUE(mine.cv.wait_for(
        lock, 30s, [&] { return mine.completed.size() == size_t{kPerThread + kPerThread / 10}; }));
    EXPECT_EQ(mine.failures, 0);
    EXPECT_TRUE(std::is_sorted(mine.completed.begin(), mine.completed.end()));
  }
  const std::vector<uint64_t> seqs = StoredSeqs();
  ASSERT_EQ(seqs.size(), size_t{kThreads * kPerThread});
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1);
}

TEST_F(MetricWriterTest, ABadPointFailsAloneInItsBatch) {
  // Its trial has no live attempt: the point is refused within its
  // SAVEPOINT, its neighbours stay.
  v1::MetricPoint bad = Point(2);
  bad.set_trial_id("no-such-trial");
  auto results = store_->AppendMetrics({Point(1), bad, Point(3)});
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->points.size(), 3u);
  EXPECT_TRUE(results->points[0].ok() && *results->points[0]);
  EXPECT_FALSE(results->points[1].ok());
  EXPECT_TRUE(results->points[2].ok() && *results->points[2]);
  // The first point started the attempt; the third found it running.
  EXPECT_THAT(results->started, ::testing::ElementsAre(lease_.trial().trial_id()));
  EXPECT_THAT(StoredSeqs(), ::testing::ElementsAre(1, 3));

  // Through the writer: the neighbours of a bad point are stored and acked.
  MetricWriter writer(store_.get(), nullptr);
  Outcome before, failing, after;
  bad.set_seq(5);
  {
    WriteLock lock(path_);
    writer.Enqueue(Point(4), before.Done(), [] {});
    writer.Enqueue(bad, failing.Done(), [] {});
    writer.Enqueue(Point(6), after.Done(), [] {});
  }
  EXPECT_TRUE(before.Get().ok());
  EXPECT_FALSE(failing.Get().ok());
  EXPECT_TRUE(after.Get().ok());
  EXPECT_THAT(StoredSeqs(), ::testing::ElementsAre(1, 3, 4, 6));
  auto none = store_->ListMetrics("no-such-trial", lease_.attempt());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(MetricWriterTest, APointOfATrialEndedSinceItsCheckIsRefusedAndTheStateStands) {
  // The race the writer opens: checked live, then completed, then written.
  ASSERT_TRUE(scheduler_->RecordMetric(Point(1)).ok());
  v1::MetricPoint late = Point(2);
  late.set_val_loss(9.0);
  ASSERT_TRUE(scheduler_->CheckMetric(late).ok());
  v1::CompleteTrialRequest complete;
  complete.set_worker_id(worker_);
  complete.set_trial_id(lease_.trial().trial_id());
  complete.set_attempt(lease_.attempt());
  complete.set_lease_token(lease_.lease_token());
  complete.mutable_result()->set_final_val_loss(1.25);
  complete.mutable_result()->set_final_train_loss(1.5);
  complete.mutable_result()->set_tokens(100);
  ASSERT_TRUE(*scheduler_->CompleteTrial(complete));

  MetricWriter writer(store_.get(), nullptr);
  Outcome outcome;
  writer.Enqueue(late, outcome.Done(), [] {});
  auto written = outcome.Get();
  EXPECT_TRUE(absl::IsFailedPrecondition(written.status())) << written.status();
  EXPECT_THAT(written.status().message(), HasSubstr("no longer holds the lease"));
  auto trial = store_->GetTrial(lease_.trial().trial_id());
  ASSERT_TRUE(trial.ok());
  EXPECT_EQ(trial->state(), v1::TRIAL_STATE_SUCCEEDED);
  EXPECT_DOUBLE_EQ(trial->latest_val_loss(), 1.25);
  EXPECT_THAT(StoredSeqs(), ::testing::ElementsAre(1));
}

TEST_F(MetricWriterTest, ANanLossIsStoredAsNanInTheTrial) {
  v1::MetricPoint point = Point(1);
  point.set_train_loss(std::numeric_limits<double>::quiet_NaN());
  auto results = store_->AppendMetrics({point});
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_TRUE(results->points[0].ok()) << results->points[0].status();
  auto trial = store_->GetTrial(lease_.trial().trial_id());
  ASSERT_TRUE(trial.ok());
  EXPECT_TRUE(std::isnan(trial->latest_train_loss()));
  EXPECT_DOUBLE_EQ(trial->latest_val_loss(), point.val_loss());
}

TEST_F(MetricWriterTest, AFullQueueAsksForAPauseAndSaysWhenThereIsRoom) {
  MetricWriter writer(store_.get(), nullptr, {.max_queued_points = 4, .max_batch_points = 100});
  std::vector<Outcome> outcomes(5);
  std::atomic<int> room_calls{0};
  {
    WriteLock lock(path_);
    EXPECT_TRUE(writer.Enqueue(Point(1), outcomes[0].Done(), [&] { ++room_calls; }));
    WaitUntilTaken(writer);
    EXPECT_TRUE(writer.Enqueue(Point(2), outcomes[1].Done(), [&] { ++room_calls; }));
    EXPECT_TRUE(writer.Enqueue(Point(3), outcomes[2].Done(), [&] { ++room_calls; }));
    EXPECT_TRUE(writer.Enqueue(Point(4), outcomes[3].Done(), [&] { ++room_calls; }));
    // The fourth queued point fills the queue: it is taken all the same.
    EXPECT_FALSE(writer.Enqueue(Point(5), outcomes[4].Done(), [&] { ++room_calls; }));
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(room_calls, 0);  // nothing drains while the disk is "slow"
  }
  for (Outcome& outcome : outcomes) EXPECT_TRUE(outcome.Get().ok());
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (room_calls == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(room_calls, 1);
  EXPECT_EQ(StoredSeqs().size(), 5u);
}

TEST_F(MetricWriterTest, ShutdownFailsQueuedPointsAndStoresNoneOfThem) {
  MetricWriter writer(store_.get(), nullptr);
  Outcome in_batch;
  std::vector<Outcome> queued(20);
  std::atomic<bool> room{false};
  std::thread shutdown;
  {
    WriteLock lock(path_);
    writer.Enqueue(Point(1), in_batch.Done(), [] {});
    WaitUntilTaken(writer);
    for (size_t i = 0; i < queued.size(); ++i)
      writer.Enqueue(Point(i + 2), queued[i].Done(), [] {});
    shutdown = std::thread([&] { writer.Shutdown(); });
    std::this_thread::sleep_for(100ms);  // Shutdown waits for the batch in BEGIN
  }
  shutdown.join();
  // The batch being written completes; the queued points fail unstored.
  EXPECT_TRUE(in_batch.Get().ok());
  for (Outcome& outcome : queued) {
    auto written = outcome.Get();
    EXPECT_TRUE(absl::IsUnavailable(written.status())) << written.status();
  }
  EXPECT_THAT(StoredSeqs(), ::testing::ElementsAre(1));
  // After shutdown a point fails at once, on the caller's thread.
  Outcome late;
  writer.Enqueue(Point(100), late.Done(), [&] { room = true; });
  ASSERT_EQ(late.future.wait_for(0s), std::future_status::ready);
  EXPECT_TRUE(absl::IsUnavailable(late.Get().status()));
  EXPECT_THAT(StoredSeqs(), ::testing::ElementsAre(1));
}

TEST_F(MetricWriterTest, AFailedBatchFailsEveryPointAndStoresNone) {
  MetricWriter writer(store_.get(), nullptr);
  std::vector<Outcome> outcomes(10);
  {
    // Held past the store's 5 s busy timeout: the batch's BEGIN fails.
    WriteLock lock(path_);
    for (size_t i = 0; i < outcomes.size(); ++i) {
      writer.Enqueue(Point(i + 1), outcomes[i].Done(), [] {});
    }
    for (Outcome& outcome : outcomes) {
      auto written = outcome.Get();
      EXPECT_TRUE(absl::IsUnavailable(written.status())) << written.status();
    }
  }
  EXPECT_TRUE(StoredSeqs().empty());
  // Resent once the store is free, they are stored.
  Outcome resent;
  writer.Enqueue(Point(1), resent.Done(), [] {});
  EXPECT_TRUE(resent.Get().ok());
  EXPECT_THAT(StoredSeqs(), ::testing::ElementsAre(1));
}

TEST_F(MetricWriterTest, OnStoredHearsOfNewPointsBeforeTheirCompletion) {
  std::mutex mu;
  std::vector<uint64_t> heard;
  std::vector<std::string> started;
  MetricWriter writer(store_.get(), [&](const std::vector<v1::MetricPoint>& stored,
                                        const std::vector<std::string>& started_now) {
    std::lock_guard lock(mu);
    for (const v1::MetricPoint& point : stored) heard.push_back(point.seq());
    started.insert(started.end(), started_now.begin(), started_now.end());
  });
  Outcome first, duplicate;
  bool heard_before_done = false;
  writer.Enqueue(
      Point(7),
      [&](absl::StatusOr<MetricWrite> r) {
        {
          std::lock_guard lock(mu);
          heard_before_done = heard.size() == 1;
        }
        first.promise.set_value(std::move(r));
      },
      [] {});
  ASSERT_TRUE(first.Get().ok());
  writer.Enqueue(Point(7), duplicate.Done(), [] {});
  EXPECT_EQ(*duplicate.Get(), MetricWrite::kDuplicate);
  EXPECT_TRUE(heard_before_done);
  std::lock_guard lock(mu);
  EXPECT_THAT(heard, ::testing::ElementsAre(7));  // a resend is not news
  EXPECT_THAT(started, ::testing::ElementsAre(lease_.trial().trial_id()));  // LEASED -> RUNNING
}

}  // namespace
}  // namespace scalelaw::coordinator
