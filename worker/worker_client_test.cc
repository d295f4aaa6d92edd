// WorkerClient against an in-process fake coordinator over real gRPC.
#include "worker/worker_client.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "worker/metric_stream.h"

namespace scalelaw::worker {
namespace {
namespace fs = std::filesystem;

// Grants one trial, then reports no more work. Records what the worker sent.
class FakeCoordinator final : public v1::Coordinator::Service {
 public:
  grpc::Status RegisterWorker(grpc::ServerContext*, const v1::RegisterWorkerRequest* request,
                              v1::RegisterWorkerResponse* response) override {
    std::lock_guard<std::mutex> lock(mu);
    registrations.push_back(*request);
    response->set_worker_id("w-1");
    response->set_heartbeat_interval_ms(50);
    response->set_lease_timeout_ms(2000);
    return grpc::Status::OK;
  }
  grpc::Status LeaseTrial(grpc::ServerContext*, const v1::LeaseTrialRequest* request,
                          v1::LeaseTrialResponse* response) override {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(request->worker_id(), "w-1");
    if (!leased) {
      leased = true;
      response->set_granted(true);
      *response->mutable_trial() = trial;
      response->set_attempt(1);
      response->set_lease_token(lease_token);
    } else {
      response->set_no_more_work(true);
      response->set_retry_after_ms(10);
    }
    return grpc::Status::OK;
  }
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override {
    std::lock_guard<std::mutex> lock(mu);
    ++heartbeats;
    heartbeat_tokens.insert(request->lease_token());
    response->set_keep_going(keep_going);
    return grpc::Status::OK;
  }
  grpc::Status StreamMetrics(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::MetricAck, v1::MetricPoint>* stream) override {
    int stream_number;
    {
      std::lock_guard<std::mutex> lock(mu);
      stream_number = ++streams;
    }
    v1::MetricPoint point;
    while (stream->Read(&point)) {
      std::lock_guard<std::mutex> lock(mu);
      ++points_received;
      point_tokens.insert(point.lease_token());
      if (refuse_stream) {
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                            "attempt 1 no longer holds the lease");
      }
      if (stream_number == 1 && break_first_stream_after > 0 &&
          points_received >= break_first_stream_after) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "injected stream failure");
      }
      stored.insert(point.seq());
      v1::MetricAck ack;
      ack.set_trial_id(point.trial_id());
      ack.set_attempt(point.attempt());
      ack.set_seq(point.seq());
      stream->Write(ack);
    }
    return grpc::Status::OK;
  }
  grpc::Status CompleteTrial(grpc::ServerContext*, const v1::CompleteTrialRequest* request,
                             v1::CompleteTrialResponse* response) override {
    std::lock_guard<std::mutex> lock(mu);
    completed.push_back(*request);
    response->set_accepted(true);
    return grpc::Status::OK;
  }
  grpc::Status FailTrial(grpc::ServerContext*, const v1::FailTrialRequest* request,
                         v1::FailTrialResponse* response) override {
    std::lock_guard<std::mutex> lock(mu);
    failed.push_back(*request);
    response->set_accepted(true);
    return grpc::Status::OK;
  }

  std::mutex mu;
  v1::TrialSpec trial;
  bool leased = false;
  bool keep_going = true;
  bool refuse_stream = false;  // end every stream with FAILED_PRECONDITION
  std::string lease_token = "lease-token-of-attempt-1";
  std::set<std::string> heartbeat_tokens;
  std::set<std::string> point_tokens;
  int break_first_stream_after = 0;
  int heartbeats = 0;
  int streams = 0;
  int points_received = 0;
  std::set<uint64_t> stored;
  std::vector<v1::RegisterWorkerRequest> registrations;
  std::vector<v1::CompleteTrialRequest> completed;
  std::vector<v1::FailTrialRequest> failed;
};

class WorkerClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    corpus_dir_ = fs::temp_directory_path() /
                  ("scalelaw_worker_client_test_" + std::to_string(::getpid()) + "_" +
                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(corpus_dir_);
    for (int d = 0; d < 30; ++d) {
      std::ofstream out(corpus_dir_ / ("doc" + std::to_string(d) + ".txt"));
      for (int s = 0; s < 40; ++s) out << "worker " << d << " streams metric " << s << ".\n";
    }
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    fake_.trial = TinyTrial(/*steps=*/40);
  }
  void TearDown() override {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    fs::remove_all(corpus_dir_);
  }

  v1::TrialSpec TinyTrial(uint64_t steps) const {
    v1::TrialSpec spec;
    spec.set_trial_id("s1-t000");
    spec.set_sweep_id("s1");
    spec.set_tokens(steps * 8 * 16);
    spec.set_seed(1);
    v1::ModelShape* shape = spec.mutable_shape();
    shape->set_n_layer(1);
    shape->set_d_model(32);
    shape->set_n_head(1);
    shape->set_n_ctx(16);
    shape->set_vocab_size(256);
    spec.mutable_optimizer()->set_lr(1e-3);
    spec.mutable_optimizer()->set_min_lr_ratio(0.1);
    spec.mutable_optimizer()->set_beta1(0.9);
    spec.mutable_optimizer()->set_beta2(0.95);
    spec.mutable_data()->set_corpus(corpus_dir_.string());
    spec.mutable_data()->set_val_fraction(0.2);
    spec.mutable_data()->set_tokenizer("byte");
    v1::TrainingConfig* training = spec.mutable_training();
    training->set_batch_size(8);
    training->set_micro_batches(2);
    training->set_threads(1);
    training->set_device("cpu");
    training->set_precision("fp32");
    training->set_eval_points(3);
    training->set_eval_batches(1);
    training->set_log_every_steps(5);
    return spec;
  }

  WorkerOptions Options() const {
    WorkerOptions options;
    options.exit_when_idle = true;
    options.connect_timeout = absl::Seconds(5);
    options.device = "cpu";
    return options;
  }

  std::shared_ptr<grpc::Channel> Channel() const {
    return grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                               grpc::InsecureChannelCredentials());
  }

  fs::path corpus_dir_;
  FakeCoordinator fake_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(WorkerClientTest, CompletesTheTrialResendsAfterABrokenStreamAndExitsWhenIdle) {
  fake_.break_first_stream_after = 3;
  WorkerClient client(Options(), Channel());
  ASSERT_TRUE(client.Run().ok());

  std::lock_guard<std::mutex> lock(fake_.mu);
  ASSERT_EQ(fake_.registrations.size(), 1u);
  EXPECT_EQ(fake_.registrations[0].pid(), ::getpid());
  ASSERT_EQ(fake_.completed.size(), 1u);
  EXPECT_TRUE(fake_.failed.empty());
  const v1::CompleteTrialRequest& done = fake_.completed[0];
  EXPECT_EQ(done.worker_id(), "w-1");
  EXPECT_EQ(done.trial_id(), "s1-t000");
  EXPECT_EQ(done.attempt(), 1u);
  EXPECT_EQ(done.result().steps(), 40u);
  EXPECT_GT(done.result().final_val_loss(), 0.0);
  EXPECT_EQ(client.trials_completed(), 1u);

  // 8 training points (every 5 steps) + 3 evaluations, all stored once,
  // numbered 1..11, after one reconnect.
  EXPECT_GE(fake_.streams, 2);
  EXPECT_EQ(fake_.stored.size(), 11u);
  EXPECT_EQ(*fake_.stored.begin(), 1u);
  EXPECT_EQ(*fake_.stored.rbegin(), 11u);
  EXPECT_GT(fake_.points_received, 11);  // the unacknowledged point went out twice

  // Every call about the attempt carries the lease's credential.
  EXPECT_EQ(done.lease_token(), "lease-token-of-attempt-1");
  EXPECT_EQ(fake_.point_tokens, std::set<std::string>{"lease-token-of-attempt-1"});
}

TEST_F(WorkerClientTest, RefusedMetricStreamDropsTheTrialWithoutResendingOrCompleting) {
  fake_.trial = TinyTrial(/*steps=*/100000);
  fake_.refuse_stream = true;
  WorkerClient client(Options(), Channel());
  ASSERT_TRUE(client.Run().ok());
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_TRUE(fake_.completed.empty());
  EXPECT_TRUE(fake_.failed.empty());
  EXPECT_EQ(fake_.streams, 1);  // a refusal is final: no reconnect
  EXPECT_EQ(client.trials_dropped(), 1u);
}

TEST_F(WorkerClientTest, RevokedLeaseDropsTheTrialWithoutCompletingIt) {
  fake_.trial = TinyTrial(/*steps=*/100000);
  fake_.keep_going = false;
  WorkerClient client(Options(), Channel());
  ASSERT_TRUE(client.Run().ok());
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_TRUE(fake_.completed.empty());
  EXPECT_TRUE(fake_.failed.empty());
  EXPECT_EQ(client.trials_dropped(), 1u);
}

TEST_F(WorkerClientTest, StopFailsTheRunningTrialAsRetriable) {
  fake_.trial = TinyTrial(/*steps=*/100000);
  WorkerClient client(Options(), Channel());
  std::thread stopper([&] {
    while (true) {
      {
        std::lock_guard<std::mutex> lock(fake_.mu);
        if (fake_.heartbeats > 0) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    client.Stop();
  });
  ASSERT_TRUE(client.Run().ok());
  stopper.join();
  std::lock_guard<std::mutex> lock(fake_.mu);
  EXPECT_TRUE(fake_.completed.empty());
  ASSERT_EQ(fake_.failed.size(), 1u);
  EXPECT_TRUE(fake_.failed[0].retriable());
  EXPECT_NE(fake_.failed[0].reason().find("worker stopped"), std::string::npos)
      << fake_.failed[0].reason();
  EXPECT_EQ(fake_.failed[0].lease_token(), "lease-token-of-attempt-1");
  EXPECT_EQ(fake_.heartbeat_tokens, std::set<std::string>{"lease-token-of-attempt-1"});
}

TEST_F(WorkerClientTest, AnEmptyLeaseTokenIsSentEmpty) {
  fake_.lease_token = "";
  WorkerClient client(Options(), Channel());
  ASSERT_TRUE(client.Run().ok());
  std::lock_guard<std::mutex> lock(fake_.mu);
  ASSERT_EQ(fake_.completed.size(), 1u);
  EXPECT_EQ(fake_.completed[0].lease_token(), "");
  EXPECT_EQ(fake_.point_tokens, std::set<std::string>{""});
}

TEST_F(WorkerClientTest, MissingCorpusFailsTheTrial) {
  fake_.trial.mutable_data()->set_corpus((corpus_dir_ / "absent").string());
  WorkerClient client(Options(), Channel());
  ASSERT_TRUE(client.Run().ok());
  std::lock_guard<std::mutex> lock(fake_.mu);
  ASSERT_EQ(fake_.failed.size(), 1u);
  EXPECT_NE(fake_.failed[0].reason().find("absent"), std::string::npos);
}

// A rogue coordinator (or anyone on a plaintext channel) hands out a trial
// whose id or checkpoint directory points elsewhere: the worker writes
// nothing there and fails the trial for good, saying why.
TEST_F(WorkerClientTest, TrialsThatWouldWriteOutsideTheCheckpointDirectoryFailForGood) {
  const fs::path root = corpus_dir_ / "a" / "b" / "c" / "ckpt";
  struct Case {
    std::string trial_id;
    std::string checkpoint_dir;
    std::string reason;
  };
  for (const Case& c : {Case{"../../../escaped-1", root.string(), "trial_id: must be a plain name"},
                        Case{"/etc/cron.d/x", root.string(), "trial_id: must be a plain name"},
                        Case{"s1-t000", "/etc/cron.d", "must not be in the system directory /etc"},
                        Case{"s1-t000", root.string() + "/../../../../escaped-2",
                             "must not contain a '..' component"}}) {
    SCOPED_TRACE(c.trial_id + " in " + c.checkpoint_dir);
    {
      std::lock_guard<std::mutex> lock(fake_.mu);
      fake_.leased = false;
      fake_.failed.clear();
      fake_.trial = TinyTrial(/*steps=*/10);
      fake_.trial.set_trial_id(c.trial_id);
      fake_.trial.mutable_training()->set_checkpoint_dir(c.checkpoint_dir);
    }
    WorkerClient client(Options(), Channel());
    ASSERT_TRUE(client.Run().ok());
    std::lock_guard<std::mutex> lock(fake_.mu);
    ASSERT_EQ(fake_.failed.size(), 1u);
    EXPECT_FALSE(fake_.failed[0].retriable());
    EXPECT_NE(fake_.failed[0].reason().find(c.reason), std::string::npos)
        << fake_.failed[0].reason();
    EXPECT_TRUE(fake_.completed.empty());
  }
  EXPECT_FALSE(fs::exists(corpus_dir_ / "a" / "escaped-1"));
  EXPECT_FALSE(fs::exists(corpus_dir_ / "escaped-2"));
  EXPECT_FALSE(fs::exists(root));  // nothing was written, not even the directory
  EXPECT_FALSE(fs::exists("/etc/cron.d/s1-t000"));
}

TEST(WorkerClientUnreachableTest, GivesUpAfterTheConnectTimeout) {
  WorkerOptions options;
  options.connect_timeout = absl::Seconds(1);
  options.device = "cpu";
  // Port 1 on loopback: nothing listens there.
  WorkerClient client(options,
                      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
  const auto start = std::chrono::steady_clock::now();
  const absl::Status status = client.Run();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// Back-pressure: with nothing acknowledging (no coordinator), Push takes
// points up to max_unacknowledged, then blocks instead of dropping one, until
// the trial is stopped.
TEST(MetricStreamTest, PushBlocksWhenFullAndNeverDropsAPoint) {
  auto stub = v1::Coordinator::NewStub(
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
  std::atomic<bool> stop{false};
  MetricStream stream(stub.get(), "s1-t000", 1,
                      {.lease_token = "t", .max_unacknowledged = 3, .stop = &stop});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(stream.Push(v1::MetricPoint()).ok());

  std::atomic<bool> returned{false};
  absl::Status fourth;
  std::thread pusher([&] {
    fourth = stream.Push(v1::MetricPoint());
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(returned.load()) << "Push must block while the buffer is full";
  EXPECT_EQ(stream.Flush(absl::Milliseconds(50)).code(), absl::StatusCode::kDeadlineExceeded);
  stop = true;
  pusher.join();
  EXPECT_EQ(fourth.code(), absl::StatusCode::kCancelled) << fourth;
  EXPECT_EQ(stream.pushed(), 3u);
  EXPECT_EQ(stream.unacknowledged(), 3u);
  EXPECT_EQ(stream.Flush().code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace scalelaw::worker
