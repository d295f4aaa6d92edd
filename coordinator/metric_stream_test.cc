// StreamMetrics end to end: the real CoordinatorService (its MetricWriter
// included) on 127.0.0.1:0, real gRPC streams, a real SQLite file, and a
// second connection that checks what an ack claims.
#include <grpcpp/grpcpp.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <limits>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/clock.h"
#include "coordinator/coordinator_service.h"
#include "coordinator/store.h"
#include "coordinator/test_util.h"
#include "coordinator/trial_scheduler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scalelaw/v1/coordinator.grpc.pb.h"

namespace scalelaw::coordinator {
namespace {

using namespace std::chrono_literals;

// A read connection to the store file, as another process would have.
class StoreReader {
 public:
  explicit StoreReader(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_prepare_v2(db_,
                                 "SELECT COUNT(*) FROM metric_points WHERE trial_id = ? AND "
                                 "attempt = ? AND seq = ?",
                                 -1, &count_, nullptr),
              SQLITE_OK);
  }
  ~StoreReader() {
    sqlite3_finalize(count_);
    sqlite3_close(db_);
  }
  // How many rows hold (trial, attempt, seq), as committed now.
  int Count(const std::string& trial_id, uint32_t attempt, uint64_t seq) {
    sqlite3_reset(count_);
    sqlite3_bind_text(count_, 1, trial_id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(count_, 2, attempt);
    sqlite3_bind_int64(count_, 3, static_cast<int64_t>(seq));
    if (sqlite3_step(count_) != SQLITE_ROW) return -1;
    return sqlite3_column_int(count_, 0);
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* count_ = nullptr;
};

// Another connection holding the store's write lock until it dies: the
// writer's next batch waits (a slow disk), reads go on.
class WriteLock {
 public:
  explicit WriteLock(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  }
  ~WriteLock() {
    EXPECT_EQ(sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db_);
  }

 private:
  sqlite3* db_ = nullptr;
};

// What one stream saw.
struct StreamResult {
  uint64_t acked = 0;
  int out_of_order = 0;
  int acked_not_stored = 0;
  grpc::Status status;
};

class MetricStreamTest : public ::testing::Test {
 protected:
  void TearDown() override { Stop(); }

  void Start(MetricWriterOptions writer_options = {}) {
    auto store = Store::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    scheduler_ = std::make_unique<TrialScheduler>(store_.get(), &clock_);
    ServiceOptions options;
    options.metric_writer = writer_options;
    service_ = std::make_unique<CoordinatorService>(store_.get(), scheduler_.get(), options);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_ != nullptr);
    stub_ = v1::Coordinator::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
    // 2 models x 16 seeds: 32 trials.
    v1::SubmitSweepRequest submit;
    *submit.mutable_spec() = testing::SmallSweepSpec();
    submit.mutable_spec()->clear_seeds();
    for (int seed = 1; seed <= 16; ++seed) submit.mutable_spec()->add_seeds(seed);
    auto submitted = scheduler_->SubmitSweep(submit);
    ASSERT_TRUE(submitted.ok()) << submitted.status();
    ASSERT_EQ(submitted->n_trials(), 32u);
  }

  void Stop() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 5s);
    server_.reset();
    service_.reset();  // its writer stops after the server
    scheduler_.reset();
    store_.reset();
  }

  struct Leased {
    std::string worker_id;
    v1::LeaseTrialResponse lease;
  };
  Leased Lease() {
    Leased leased;
    auto worker = scheduler_->RegisterWorker(v1::RegisterWorkerRequest());
    EXPECT_TRUE(worker.ok());
    leased.worker_id = *worker;
    v1::LeaseTrialRequest request;
    request.set_worker_id(leased.worker_id);
    auto lease = scheduler_->LeaseTrial(request);
    EXPECT_TRUE(lease.ok() && lease->granted());
    leased.lease = *lease;
    return leased;
  }

  static v1::MetricPoint Point(const v1::LeaseTrialResponse& lease, uint64_t seq,
                               double val_loss = 3.0) {
    v1::MetricPoint point;
    point.set_trial_id(lease.trial().trial_id());
    point.set_attempt(lease.attempt());
    point.set_seq(seq);
    point.set_tokens(seq * 64);
    point.set_train_loss(4.0);
    point.set_val_loss(val_loss);
    point.set_lease_token(lease.lease_token());
    return point;
  }

  // Streams seq first..last without waiting for acks, reading the acks on a
  // second thread; with `check`, each ack is looked up in the store the
  // moment it arrives. `after_acks(n)` runs on the reading thread after the
  // n-th ack.
  StreamResult Stream(const v1::LeaseTrialResponse& lease, uint64_t first, uint64_t last,
                      bool check, double val_loss = 3.0,
                      const std::function<void(uint64_t)>& after_acks = nullptr) {
    StreamResult result;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 60s);
    auto stream = stub_->StreamMetrics(&context);
    std::thread reader([&] {
      std::unique_ptr<StoreReader> db = check ? std::make_unique<StoreReader>(path_) : nullptr;
      v1::MetricAck ack;
      while (stream->Read(&ack)) {
        if (ack.seq() != first + result.acked) ++result.out_of_order;
        if (db && db->Count(ack.trial_id(), ack.attempt(), ack.seq()) != 1) {
          ++result.acked_not_stored;
        }
        ++result.acked;
        if (after_acks) after_acks(result.acked);
      }
    });
    for (uint64_t seq = first; seq <= last; ++seq) {
      if (!stream->Write(Point(lease, seq, val_loss))) break;  // the server ended the stream
    }
    stream->WritesDone();
    reader.join();
    result.status = stream->Finish();
    return result;
  }

  std::vector<uint64_t> StoredSeqs(const v1::LeaseTrialResponse& lease) {
    auto points = store_->ListMetrics(lease.trial().trial_id(), lease.attempt());
    EXPECT_TRUE(points.ok()) << points.status();
    std::vector<uint64_t> seqs;
    for (const v1::MetricPoint& point : *points) seqs.push_back(point.seq());
    return seqs;
  }

  void ManyStreamsAllAckedInOrderAndStoredOnce() {
    constexpr int kStreams = 32;
    constexpr uint64_t kPoints = 500;
    std::vector<Leased> leases;
    for (int i = 0; i < kStreams; ++i) leases.push_back(Lease());
    std::vector<StreamResult> results(kStreams);
    std::vector<std::thread> threads;
    for (int i = 0; i < kStreams; ++i) {
      threads.emplace_back([&, i] {
        // A quarter of the streams check every ack against the store.
        results[i] = Stream(leases[i].lease, 1, kPoints, /*check=*/i % 4 == 0);
      });
    }
    for (std::thread& thread : threads) thread.join();
    for (int i = 0; i < kStreams; ++i) {
      SCOPED_TRACE(leases[i].lease.trial().trial_id());
      EXPECT_TRUE(results[i].status.ok()) << results[i].status.error_message();
      EXPECT_EQ(results[i].acked, kPoints);
      EXPECT_EQ(results[i].out_of_order, 0);
      EXPECT_EQ(results[i].acked_not_stored, 0);
      const std::vector<uint64_t> seqs = StoredSeqs(leases[i].lease);
      ASSERT_EQ(seqs.size(), kPoints);
      for (uint64_t k = 0; k < kPoints; ++k) EXPECT_EQ(seqs[k], k + 1);
      auto trial = store_->GetTrial(leases[i].lease.trial().trial_id());
      ASSERT_TRUE(trial.ok());
      EXPECT_EQ(trial->state(), v1::TRIAL_STATE_RUNNING);
      EXPECT_EQ(trial->tokens_done(), kPoints * 64);
    }
  }

  testing::TempDir dir_;
  const std::string path_ = dir_.File("coordinator.db");
  SystemClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<TrialScheduler> scheduler_;
  std::unique_ptr<CoordinatorService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
};

TEST_F(MetricStreamTest, ThirtyTwoStreamsAllAckedInOrderDurableAndStoredOnce) {
  Start();
  ManyStreamsAllAckedInOrderAndStoredOnce();
}

TEST_F(MetricStreamTest, ThirtyTwoStreamsThroughATinyQueueStillAllArrive) {
  // Streams pause and resume all the time (back-pressure), and batches are small.
  Start({.max_queued_points = 8, .max_batch_points = 4});
  ManyStreamsAllAckedInOrderAndStoredOnce();
}

TEST_F(MetricStreamTest, NoAckBeforeThePointIsCommitted) {
  Start();
  Leased leased = Lease();
  std::atomic<uint64_t> acked{0};
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  auto stream = stub_->StreamMetrics(&context);
  std::thread reader([&] {
    v1::MetricAck ack;
    while (stream->Read(&ack)) ++acked;
  });
  {
    WriteLock lock(path_);
    for (uint64_t seq = 1; seq <= 10; ++seq) ASSERT_TRUE(stream->Write(Point(leased.lease, seq)));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(acked, 0u);  // read and queued, but not yet durable
  }
  stream->WritesDone();
  reader.join();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(acked, 10u);
  EXPECT_EQ(StoredSeqs(leased.lease).size(), 10u);
}

TEST_F(MetricStreamTest, ACompletionRacingQueuedPointsKeepsItsState) {
  Start();
  for (int round = 0; round < 6; ++round) {
    Leased leased = Lease();
    const std::string trial_id = leased.lease.trial().trial_id();
    SCOPED_TRACE(trial_id);
    std::atomic<bool> completed{false};
    // The points say val_loss 9; the completion says 1.25. Complete while
    // the stream still has points in flight to the writer.
    StreamResult result =
        Stream(leased.lease, 1, 3000, /*check=*/false, /*val_loss=*/9.0, [&](uint64_t acks) {
          if (acks != uint64_t(20 + 40 * round)) return;
          v1::CompleteTrialRequest complete;
          complete.set_worker_id(leased.worker_id);
          complete.set_trial_id(trial_id);
          complete.set_attempt(leased.lease.attempt());
          complete.set_lease_token(leased.lease.lease_token());
          complete.mutable_result()->set_final_val_loss(1.25);
          complete.mutable_result()->set_final_train_loss(1.5);
          complete.mutable_result()->set_tokens(10);
          auto accepted = scheduler_->CompleteTrial(complete);
          completed = accepted.ok() && *accepted;
        });
    ASSERT_TRUE(completed);
    // The points after the completion were refused, not stored.
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << result.status.error_message();
    EXPECT_EQ(result.out_of_order, 0);
    auto trial = store_->GetTrial(trial_id);
    ASSERT_TRUE(trial.ok());
    EXPECT_EQ(trial->state(), v1::TRIAL_STATE_SUCCEEDED);
    EXPECT_DOUBLE_EQ(trial->latest_val_loss(), 1.25);
    EXPECT_DOUBLE_EQ(trial->result().final_val_loss(), 1.25);
    // Every acked point is stored; nothing past what was acked before the end
    // plus what was already queued.
    const std::vector<uint64_t> seqs = StoredSeqs(leased.lease);
    EXPECT_GE(seqs.size(), result.acked);
    EXPECT_LT(seqs.size(), 3000u);
  }
}

TEST_F(MetricStreamTest, AClientGoneWithPointsQueuedLeavesTheServerWell) {
  Start();
  Leased leased = Lease();
  {
    WriteLock lock(path_);
    grpc::ClientContext context;
    auto stream = stub_->StreamMetrics(&context);
    for (uint64_t seq = 1; seq <= 50; ++seq) ASSERT_TRUE(stream->Write(Point(leased.lease, seq)));
    std::this_thread::sleep_for(200ms);  // the server has read them into the writer's queue
    context.TryCancel();
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
    std::this_thread::sleep_for(100ms);
  }  // the writer now stores them and completes them into the cancelled stream
  // The worker comes back and resends: every point is stored once.
  StreamResult again = Stream(leased.lease, 1, 60, /*check=*/true);
  EXPECT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_EQ(again.acked, 60u);
  EXPECT_EQ(again.acked_not_stored, 0);
  const std::vector<uint64_t> seqs = StoredSeqs(leased.lease);
  ASSERT_EQ(seqs.size(), 60u);
  for (uint64_t k = 0; k < 60; ++k) EXPECT_EQ(seqs[k], k + 1);
}

TEST_F(MetricStreamTest, PausedStreamsBlockNoOtherCall) {
  Start({.max_queued_points = 8, .max_batch_points = 4});
  struct Open {
    Leased leased;
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::MetricPoint, v1::MetricAck>> stream;
    uint64_t acked = 0;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Open>> open;
  for (int i = 0; i < 4; ++i) {
    auto& o = open.emplace_back(std::make_unique<Open>());
    o->leased = Lease();
    o->context.set_deadline(std::chrono::system_clock::now() + 60s);
    o->stream = stub_->StreamMetrics(&o->context);
    // The first point has its check (a store read) behind it before the
    // store is held up: later points of the attempt need none.
    ASSERT_TRUE(o->stream->Write(Point(o->leased.lease, 1)));
    v1::MetricAck ack;
    ASSERT_TRUE(o->stream->Read(&ack));
    o->acked = 1;
  }
  std::vector<std::thread> streams;
  {
    WriteLock lock(path_);
    for (auto& o : open) {
      streams.emplace_back([&o, this] {
        std::thread reader([&] {
          v1::MetricAck ack;
          while (o->stream->Read(&ack)) ++o->acked;
        });
        for (uint64_t seq = 2; seq <= 200; ++seq) {
          if (!o->stream->Write(Point(o->leased.lease, seq))) break;
        }
        o->stream->WritesDone();
        reader.join();
        o->status = o->stream->Finish();
      });
    }
    std::this_thread::sleep_for(200ms);  // the queue is full; the streams are paused
    // Another call is served at once: no gRPC thread waits for the queue.
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 2s);
    auto stream = stub_->StreamMetrics(&context);
    v1::MetricPoint out_of_limits = Point(open[0]->leased.lease, 1);
    out_of_limits.set_wall_seconds(std::numeric_limits<double>::infinity());
    stream->Write(out_of_limits);
    stream->WritesDone();
    v1::MetricAck ack;
    EXPECT_FALSE(stream->Read(&ack));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  for (std::thread& thread : streams) thread.join();
  for (auto& o : open) {
    EXPECT_TRUE(o->status.ok()) << o->status.error_message();
    EXPECT_EQ(o->acked, 200u);
    EXPECT_EQ(StoredSeqs(o->leased.lease).size(), 200u);
  }
}

}  // namespace
}  // namespace scalelaw::coordinator
