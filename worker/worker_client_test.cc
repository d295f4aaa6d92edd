// WorkerClient against an in-process fake coordinator over real gRPC.
#include "worker/worker_client.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

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
    options.metrics_flush_timeout = absl::Seconds(10);
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
}

TEST_F(WorkerClientTest, MissingCorpusFailsTheTrial) {
  fake_.trial.mutable_data()->set_corpus((corpus_dir_ / "absent").string());
  WorkerClient client(Options(), Channel());
  ASSERT_TRUE(client.Run().ok());
  std::lock_guard<std::mutex> lock(fake_.mu);
  ASSERT_EQ(fake_.failed.size(), 1u);
  EXPECT_NE(fake_.failed[0].reason().find("absent"), std::string::npos);
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

}  // namespace
}  // namespace scalelaw::worker
