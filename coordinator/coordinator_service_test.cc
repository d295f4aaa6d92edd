// A real CoordinatorServer on 127.0.0.1:0 driven through a real gRPC stub.
#include <grpcpp/grpcpp.h>

#include <sqlite3.h>

#include <cmath>
#include <functional>
#include <limits>
#include <thread>
#include <utility>
#include <vector>

#include "coordinator/coordinator_server.h"
#include "coordinator/store.h"
#include "coordinator/test_util.h"
#include "proto/coordinator_token.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scalelaw/v1/coordinator.grpc.pb.h"

namespace scalelaw::coordinator {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

class CoordinatorServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(); }

  void StartServer(CoordinatorOptions options = {}) {
    options.db_path = dir_.File("coordinator.db");
    auto server = CoordinatorServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_GT(server_->port(), 0);
    stub_ = v1::Coordinator::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }

  void RestartServer(CoordinatorOptions options = {}) {
    server_->Shutdown();
    server_.reset();
    StartServer(options);
  }

  std::string Submit() {
    v1::SubmitSweepRequest request;
    *request.mutable_spec() = testing::SmallSweepSpec();
    request.set_spec_yaml("name: unit-sweep\n");
    v1::SubmitSweepResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub_->SubmitSweep(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.n_trials(), 2u);
    return response.sweep_id();
  }

  std::string Register() {
    v1::RegisterWorkerRequest request;
    request.set_hostname("test-host");
    request.set_pid(42);
    v1::RegisterWorkerResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->RegisterWorker(&context, request, &response).ok());
    EXPECT_EQ(response.heartbeat_interval_ms(), 5000u);
    EXPECT_EQ(response.lease_timeout_ms(), 30000u);
    return response.worker_id();
  }

  v1::LeaseTrialResponse Lease(const std::string& worker, const std::string& sweep) {
    v1::LeaseTrialRequest request;
    request.set_worker_id(worker);
    request.set_sweep_id(sweep);
    v1::LeaseTrialResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub_->LeaseTrial(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  v1::HeartbeatResponse Beat(const std::string& worker, const v1::LeaseTrialResponse& lease) {
    v1::HeartbeatRequest request;
    request.set_worker_id(worker);
    request.set_trial_id(lease.trial().trial_id());
    request.set_attempt(lease.attempt());
    request.set_tokens_done(100);
    request.set_lease_token(lease.lease_token());
    v1::HeartbeatResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->Heartbeat(&context, request, &response).ok());
    return response;
  }

  v1::Sweep GetSweep(const std::string& sweep) {
    v1::GetSweepRequest request;
    request.set_sweep_id(sweep);
    v1::Sweep response;
    grpc::ClientContext context;
    grpc::Status status = stub_->GetSweep(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  static v1::MetricPoint Point(const v1::LeaseTrialResponse& lease, uint64_t seq) {
    v1::MetricPoint point;
    point.set_trial_id(lease.trial().trial_id());
    point.set_attempt(lease.attempt());
    point.set_seq(seq);
    point.set_step(seq * 10);
    point.set_tokens((seq + 1) * 1000);
    point.set_train_loss(5.0 - 0.5 * static_cast<double>(seq));
    point.set_lease_token(lease.lease_token());
    return point;
  }

  static uint32_t CountOf(const v1::Sweep& sweep, v1::TrialState state) {
    for (const v1::StateCount& count : sweep.counts()) {
      if (count.state() == state) return count.count();
    }
    return 0;
  }

  testing::TempDir dir_;
  std::unique_ptr<CoordinatorServer> server_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
};

TEST_F(CoordinatorServiceTest, SweepRunsToDoneWithStreamedMetrics) {
  const std::string sweep = Submit();
  const std::string worker = Register();
  EXPECT_EQ(GetSweep(sweep).state(), v1::SWEEP_STATE_RUNNING);

  for (int t = 0; t < 2; ++t) {
    v1::LeaseTrialResponse lease = Lease(worker, sweep);
    ASSERT_TRUE(lease.granted());
    EXPECT_EQ(lease.attempt(), 1u);
    EXPECT_TRUE(Beat(worker, lease).keep_going());

    grpc::ClientContext context;
    auto stream = stub_->StreamMetrics(&context);
    int seq1_sends = 0;
    // seq 1 is sent twice, as a worker does after a timeout; both are acked.
    // The resend carries a different loss: the store must keep the first.
    for (uint64_t seq : {0, 1, 1, 2}) {
      v1::MetricPoint point = Point(lease, seq);
      if (seq == 1 && seq1_sends++ % 2 == 1) point.set_train_loss(99.0);
      ASSERT_TRUE(stream->Write(point));
    }
    std::vector<uint64_t> acked;
    v1::MetricAck ack;
    for (int i = 0; i < 4 && stream->Read(&ack); ++i) {
      EXPECT_EQ(ack.trial_id(), lease.trial().trial_id());
      EXPECT_EQ(ack.attempt(), 1u);
      acked.push_back(ack.seq());
    }
    EXPECT_EQ(acked, (std::vector<uint64_t>{0, 1, 1, 2}));
    ASSERT_TRUE(stream->WritesDone());
    EXPECT_FALSE(stream->Read(&ack));
    grpc::Status finish = stream->Finish();
    EXPECT_TRUE(finish.ok()) << finish.error_message();

    v1::CompleteTrialRequest complete;
    complete.set_worker_id(worker);
    complete.set_trial_id(lease.trial().trial_id());
    complete.set_attempt(lease.attempt());
    complete.set_lease_token(lease.lease_token());
    complete.mutable_result()->set_params(100000);
    complete.mutable_result()->set_tokens(lease.trial().tokens());
    complete.mutable_result()->set_final_val_loss(3.25);
    v1::CompleteTrialResponse completed;
    grpc::ClientContext complete_context;
    ASSERT_TRUE(stub_->CompleteTrial(&complete_context, complete, &completed).ok());
    EXPECT_TRUE(completed.accepted());
  }

  v1::Sweep done = GetSweep(sweep);
  EXPECT_EQ(done.state(), v1::SWEEP_STATE_DONE);
  EXPECT_EQ(done.n_trials(), 2u);
  EXPECT_EQ(CountOf(done, v1::TRIAL_STATE_SUCCEEDED), 2u);
  EXPECT_EQ(done.tokens_done(), done.tokens_total());
  EXPECT_EQ(done.tokens_total(), 2'000'000u);

  v1::LeaseTrialResponse idle = Lease(worker, sweep);
  EXPECT_FALSE(idle.granted());
  EXPECT_TRUE(idle.no_more_work());

  v1::ListTrialsRequest list;
  list.set_sweep_id(sweep);
  list.set_include_metrics(true);
  v1::ListTrialsResponse trials;
  grpc::ClientContext list_context;
  ASSERT_TRUE(stub_->ListTrials(&list_context, list, &trials).ok());
  ASSERT_EQ(trials.trials_size(), 2);
  EXPECT_EQ(trials.trials(0).state(), v1::TRIAL_STATE_SUCCEEDED);
  EXPECT_DOUBLE_EQ(trials.trials(0).result().final_val_loss(), 3.25);
  EXPECT_DOUBLE_EQ(trials.trials(0).latest_train_loss(), 4.0);
  // Three distinct points per trial: the resent seq 1 is stored once.
  ASSERT_EQ(trials.metrics_size(), 6);
  EXPECT_EQ(trials.metrics(1).seq(), 1u);
  EXPECT_DOUBLE_EQ(trials.metrics(1).train_loss(), 4.5);
  EXPECT_EQ(trials.metrics(2).seq(), 2u);
  EXPECT_EQ(server_->store().ListMetrics(trials.trials(0).spec().trial_id(), 1)->size(), 3u);

  v1::ListSweepsResponse sweeps;
  grpc::ClientContext sweeps_context;
  ASSERT_TRUE(stub_->ListSweeps(&sweeps_context, v1::ListSweepsRequest(), &sweeps).ok());
  ASSERT_EQ(sweeps.sweeps_size(), 1);
  EXPECT_EQ(sweeps.sweeps(0).sweep_id(), sweep);
  EXPECT_EQ(sweeps.sweeps(0).state(), v1::SWEEP_STATE_DONE);
}

TEST_F(CoordinatorServiceTest, InvalidSpecIsInvalidArgumentNamingTheField) {
  v1::SubmitSweepRequest request;
  *request.mutable_spec() = testing::SmallSweepSpec();
  request.mutable_spec()->mutable_training()->set_batch_size(0);
  v1::SubmitSweepResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub_->SubmitSweep(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("training.batch_size"));
  v1::ListSweepsResponse sweeps;
  grpc::ClientContext list_context;
  ASSERT_TRUE(stub_->ListSweeps(&list_context, v1::ListSweepsRequest(), &sweeps).ok());
  EXPECT_EQ(sweeps.sweeps_size(), 0);
}

TEST_F(CoordinatorServiceTest, BadInputGetsClearErrors) {
  const std::string sweep = Submit();
  {
    grpc::ClientContext context;
    v1::Sweep response;
    grpc::Status status = stub_->GetSweep(&context, v1::GetSweepRequest(), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("sweep_id"));
  }
  {
    grpc::ClientContext context;
    v1::GetSweepRequest request;
    request.set_sweep_id("no-such-sweep");
    v1::Sweep response;
    grpc::Status status = stub_->GetSweep(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_THAT(status.error_message(), HasSubstr("no-such-sweep"));
  }
  {
    grpc::ClientContext context;
    v1::LeaseTrialRequest request;
    request.set_worker_id("w-999");
    v1::LeaseTrialResponse response;
    EXPECT_EQ(stub_->LeaseTrial(&context, request, &response).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext context;
    v1::HeartbeatRequest request;
    request.set_worker_id("w-1");
    request.set_trial_id("no-such-trial");
    v1::HeartbeatResponse response;
    EXPECT_EQ(stub_->Heartbeat(&context, request, &response).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext context;
    v1::ListTrialsRequest request;
    v1::ListTrialsResponse response;
    EXPECT_EQ(stub_->ListTrials(&context, request, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext context;
    v1::GetFitRequest request;
    request.set_sweep_id(sweep);
    request.set_law("cubic");
    v1::FitResult response;
    grpc::Status status = stub_->GetFit(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("law"));
  }
  {
    // No trial has succeeded yet: nothing to fit.
    grpc::ClientContext context;
    v1::GetFitRequest request;
    request.set_sweep_id(sweep);
    v1::FitResult response;
    EXPECT_EQ(stub_->GetFit(&context, request, &response).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
}

TEST_F(CoordinatorServiceTest, StalePointEndsTheStreamAndKilledClientIsHarmless) {
  const std::string sweep = Submit();
  const std::string worker = Register();
  v1::LeaseTrialResponse lease = Lease(worker, sweep);
  ASSERT_TRUE(lease.granted());
  {
    grpc::ClientContext context;
    auto stream = stub_->StreamMetrics(&context);
    ASSERT_TRUE(stream->Write(Point(lease, 0)));
    v1::MetricPoint stale = Point(lease, 1);
    stale.set_attempt(lease.attempt() + 5);
    stream->Write(stale);
    v1::MetricAck ack;
    ASSERT_TRUE(stream->Read(&ack));
    EXPECT_EQ(ack.seq(), 0u);
    EXPECT_FALSE(stream->Read(&ack));
    grpc::Status status = stream->Finish();
    // Attempt 6 was never leased: the token is not its token.
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_THAT(status.error_message(), HasSubstr("lease_token"));
  }
  for (int i = 0; i < 5; ++i) {
    // A worker killed mid-stream: the call is cancelled with a read pending.
    grpc::ClientContext context;
    auto stream = stub_->StreamMetrics(&context);
    ASSERT_TRUE(stream->Write(Point(lease, 10 + i)));
    if (i % 2 == 0) {
      v1::MetricAck ack;
      ASSERT_TRUE(stream->Read(&ack));
    }
    context.TryCancel();
    stream->Finish();
  }
  // The server is still healthy and kept what it acknowledged.
  EXPECT_TRUE(Beat(worker, lease).keep_going());
  EXPECT_GE(server_->store().ListMetrics(lease.trial().trial_id(), 1)->size(), 4u);
}

TEST_F(CoordinatorServiceTest, CancelStopsTheHolder) {
  const std::string sweep = Submit();
  const std::string worker = Register();
  v1::LeaseTrialResponse lease = Lease(worker, sweep);
  v1::CancelSweepRequest request;
  request.set_sweep_id(sweep);
  v1::CancelSweepResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->CancelSweep(&context, request, &response).ok());
  EXPECT_EQ(response.cancelled_trials(), 2u);
  EXPECT_FALSE(Beat(worker, lease).keep_going());
  v1::Sweep cancelled = GetSweep(sweep);
  EXPECT_EQ(cancelled.state(), v1::SWEEP_STATE_CANCELLED);
  EXPECT_EQ(CountOf(cancelled, v1::TRIAL_STATE_CANCELLED), 2u);
  EXPECT_TRUE(Lease(worker, sweep).no_more_work());
}

TEST_F(CoordinatorServiceTest, ResumeRequeuesACancelledSweep) {
  const std::string sweep = Submit();
  const std::string worker = Register();
  const v1::LeaseTrialResponse lease = Lease(worker, sweep);
  {
    v1::CancelSweepRequest request;
    request.set_sweep_id(sweep);
    v1::CancelSweepResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->CancelSweep(&context, request, &response).ok());
  }
  v1::ResumeSweepRequest request;
  request.set_sweep_id(sweep);
  v1::ResumeSweepResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub_->ResumeSweep(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.requeued_trials(), 2u);
  const v1::Sweep resumed = GetSweep(sweep);
  EXPECT_EQ(resumed.state(), v1::SWEEP_STATE_RUNNING);
  EXPECT_EQ(CountOf(resumed, v1::TRIAL_STATE_PENDING), 2u);
  EXPECT_GT(resumed.started_ms(), 0);  // the first attempt's start
  EXPECT_GT(resumed.flops_total(), 0);
  const v1::LeaseTrialResponse again = Lease(worker, sweep);
  EXPECT_TRUE(again.granted());
  EXPECT_EQ(again.trial().trial_id(), lease.trial().trial_id());
  EXPECT_EQ(again.attempt(), 2u);

  grpc::ClientContext unknown_context;
  request.set_sweep_id("nope-1");
  EXPECT_EQ(stub_->ResumeSweep(&unknown_context, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// With a token, every RPC without it is refused before it touches anything.
TEST_F(CoordinatorServiceTest, TokenIsRequiredOnEveryCall) {
  CoordinatorOptions options;
  options.token = "s3cret-token";
  RestartServer(options);
  v1::ListSweepsResponse sweeps;
  {
    grpc::ClientContext context;
    const grpc::Status status = stub_->ListSweeps(&context, v1::ListSweepsRequest(), &sweeps);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_THAT(status.error_message(), HasSubstr("requires a token"));
  }
  {
    auto wrong = v1::Coordinator::NewStub(CoordinatorChannel(server_->address(), "guess"));
    grpc::ClientContext context;
    v1::SubmitSweepRequest request;
    *request.mutable_spec() = testing::SmallSweepSpec();
    v1::SubmitSweepResponse response;
    const grpc::Status status = wrong->SubmitSweep(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_THAT(status.error_message(), HasSubstr("does not match"));
  }
  {
    // Every unary RPC, not only the ones above.
    auto refused = [&](auto method, auto request, auto response) {
      grpc::ClientContext context;
      return ((*stub_).*method)(&context, request, &response).error_code() ==
             grpc::StatusCode::UNAUTHENTICATED;
    };
    using Stub = v1::Coordinator::Stub;
    EXPECT_TRUE(refused(&Stub::RegisterWorker, v1::RegisterWorkerRequest(),
                        v1::RegisterWorkerResponse()));
    EXPECT_TRUE(refused(&Stub::LeaseTrial, v1::LeaseTrialRequest(), v1::LeaseTrialResponse()));
    EXPECT_TRUE(refused(&Stub::Heartbeat, v1::HeartbeatRequest(), v1::HeartbeatResponse()));
    EXPECT_TRUE(
        refused(&Stub::CompleteTrial, v1::CompleteTrialRequest(), v1::CompleteTrialResponse()));
    EXPECT_TRUE(refused(&Stub::FailTrial, v1::FailTrialRequest(), v1::FailTrialResponse()));
    EXPECT_TRUE(refused(&Stub::SubmitSweep, v1::SubmitSweepRequest(), v1::SubmitSweepResponse()));
    EXPECT_TRUE(refused(&Stub::GetSweep, v1::GetSweepRequest(), v1::Sweep()));
    EXPECT_TRUE(refused(&Stub::ListSweeps, v1::ListSweepsRequest(), v1::ListSweepsResponse()));
    EXPECT_TRUE(refused(&Stub::CancelSweep, v1::CancelSweepRequest(), v1::CancelSweepResponse()));
    EXPECT_TRUE(refused(&Stub::ResumeSweep, v1::ResumeSweepRequest(), v1::ResumeSweepResponse()));
    EXPECT_TRUE(refused(&Stub::ListTrials, v1::ListTrialsRequest(), v1::ListTrialsResponse()));
    EXPECT_TRUE(refused(&Stub::GetFit, v1::GetFitRequest(), v1::FitResult()));
    EXPECT_TRUE(
        refused(&Stub::GetForecasts, v1::GetForecastsRequest(), v1::GetForecastsResponse()));
    // Thirteen unary methods and the stream below: the service's whole surface
    // (a new RPC fails here until it is added to this list).
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            v1::Coordinator::service_full_name());
    ASSERT_NE(service, nullptr);
    EXPECT_EQ(service->method_count(), 14);
  }
  {
    // The metric stream is refused too.
    grpc::ClientContext context;
    auto stream = stub_->StreamMetrics(&context);
    v1::MetricPoint point;
    point.set_trial_id("x");
    stream->Write(point);
    stream->WritesDone();
    v1::MetricAck ack;
    EXPECT_FALSE(stream->Read(&ack));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(*server_->store().CountSweeps(), 0);  // nothing got through
  stub_ = v1::Coordinator::NewStub(CoordinatorChannel(server_->address(), "s3cret-token"));
  const std::string sweep = Submit();
  EXPECT_EQ(GetSweep(sweep).n_trials(), 2u);
}

TEST_F(CoordinatorServiceTest, RestartKeepsSweepsAndLeases) {
  const std::string sweep = Submit();
  const std::string worker = Register();
  v1::LeaseTrialResponse lease = Lease(worker, sweep);
  ASSERT_TRUE(Beat(worker, lease).keep_going());

  RestartServer();
  v1::Sweep after = GetSweep(sweep);
  EXPECT_EQ(after.state(), v1::SWEEP_STATE_RUNNING);
  EXPECT_EQ(CountOf(after, v1::TRIAL_STATE_RUNNING), 1u);
  EXPECT_EQ(CountOf(after, v1::TRIAL_STATE_PENDING), 1u);
  // The worker that outlived the restart still holds its lease.
  EXPECT_TRUE(Beat(worker, lease).keep_going());
  v1::LeaseTrialResponse other = Lease(Register(), sweep);
  ASSERT_TRUE(other.granted());
  EXPECT_NE(other.trial().trial_id(), lease.trial().trial_id());
}

TEST_F(CoordinatorServiceTest, SilentWorkersLeaseExpiresOnTheServersTimer) {
  CoordinatorOptions options;
  options.lease_timeout = 300ms;
  options.heartbeat_interval = 100ms;
  options.expiry_scan_interval = 50ms;
  RestartServer(options);
  const std::string sweep = Submit();
  v1::RegisterWorkerRequest register_request;
  v1::RegisterWorkerResponse registered;
  grpc::ClientContext register_context;
  ASSERT_TRUE(stub_->RegisterWorker(&register_context, register_request, &registered).ok());
  v1::LeaseTrialResponse lease = Lease(registered.worker_id(), sweep);
  ASSERT_TRUE(lease.granted());

  const auto deadline = std::chrono::steady_clock::now() + 10s;
  v1::Trial trial;
  do {
    std::this_thread::sleep_for(50ms);
    trial = *server_->store().GetTrial(lease.trial().trial_id());
  } while (trial.state() != v1::TRIAL_STATE_PENDING && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(trial.state(), v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(trial.attempt(), 1u);
  EXPECT_FALSE(Beat(registered.worker_id(), lease).keep_going());
}

TEST_F(CoordinatorServiceTest, ShutdownWithAnOpenStreamCompletes) {
  const std::string sweep = Submit();
  const std::string worker = Register();
  v1::LeaseTrialResponse lease = Lease(worker, sweep);
  grpc::ClientContext context;
  auto stream = stub_->StreamMetrics(&context);
  ASSERT_TRUE(stream->Write(Point(lease, 0)));
  v1::MetricAck ack;
  ASSERT_TRUE(stream->Read(&ack));

  const auto start = std::chrono::steady_clock::now();
  server_->Shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  server_->Wait();  // returns at once after Shutdown
  EXPECT_FALSE(stream->Read(&ack));
  EXPECT_FALSE(stream->Finish().ok());
  // The acknowledged point survived.
  auto store = Store::Open(dir_.File("coordinator.db"));
  server_.reset();
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->ListMetrics(lease.trial().trial_id(), 1)->size(), 1u);
}

// What `PRAGMA integrity_check` says of the store file, read beside the
// running coordinator (WAL lets a second connection read).
std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return "";
  sqlite3_stmt* stmt = nullptr;
  std::string result;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    result += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return result;
}

// Every field out of its limits (request_limits.h) is INVALID_ARGUMENT naming
// it, whichever RPC carries it; nothing is stored, the coordinator keeps
// serving, and the store stays sound.
TEST_F(CoordinatorServiceTest, OutOfLimitFieldsAreInvalidArgumentNamingTheField) {
  const std::string sweep = Submit();
  const std::string worker = Register();
  const v1::LeaseTrialResponse lease = Lease(worker, sweep);
  ASSERT_TRUE(lease.granted());
  constexpr uint64_t kTooBig = uint64_t{1} << 63;
  auto expect_invalid = [](const grpc::Status& status, const std::string& field) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << field << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(field + ": "));
    EXPECT_LT(status.error_message().size(), 400u) << "the message echoes no long value";
  };
  {
    v1::RegisterWorkerRequest request;
    request.set_hostname(std::string(3'900'000, 'h'));
    v1::RegisterWorkerResponse response;
    grpc::ClientContext context;
    expect_invalid(stub_->RegisterWorker(&context, request, &response), "hostname");
  }
  {
    v1::RegisterWorkerRequest request;
    request.set_hostname("ok");
    request.set_device(std::string(300, 'd'));
    v1::RegisterWorkerResponse response;
    grpc::ClientContext context;
    expect_invalid(stub_->RegisterWorker(&context, request, &response), "device");
  }
  {
    v1::LeaseTrialRequest request;
    request.set_worker_id(std::string(20'000, 'w'));
    v1::LeaseTrialResponse response;
    grpc::ClientContext context;
    expect_invalid(stub_->LeaseTrial(&context, request, &response), "worker_id");
  }
  {
    v1::GetSweepRequest request;
    request.set_sweep_id(std::string(20'000, 's'));  // once RESOURCE_EXHAUSTED at the client
    v1::Sweep response;
    grpc::ClientContext context;
    expect_invalid(stub_->GetSweep(&context, request, &response), "sweep_id");
  }
  {
    v1::HeartbeatRequest request;
    request.set_worker_id(worker);
    request.set_trial_id(lease.trial().trial_id());
    request.set_attempt(lease.attempt());
    request.set_lease_token(lease.lease_token());
    request.set_tokens_done(UINT64_MAX);
    v1::HeartbeatResponse response;
    grpc::ClientContext context;
    expect_invalid(stub_->Heartbeat(&context, request, &response), "tokens_done");
  }
  {
    v1::FailTrialRequest request;
    request.set_worker_id(worker);
    request.set_trial_id(lease.trial().trial_id());
    request.set_attempt(lease.attempt());
    request.set_lease_token(lease.lease_token());
    request.set_reason(std::string(5000, 'r'));
    v1::FailTrialResponse response;
    grpc::ClientContext context;
    expect_invalid(stub_->FailTrial(&context, request, &response), "reason");
  }
  {
    v1::CompleteTrialRequest request;
    request.set_worker_id(worker);
    request.set_trial_id(lease.trial().trial_id());
    request.set_attempt(lease.attempt());
    request.set_lease_token(lease.lease_token());
    request.mutable_result()->set_final_val_loss(3.0);
    request.mutable_result()->set_tokens(UINT64_MAX);
    v1::CompleteTrialResponse response;
    grpc::ClientContext context;
    expect_invalid(stub_->CompleteTrial(&context, request, &response), "result.tokens");
  }
  {
    v1::SubmitSweepRequest request;
    *request.mutable_spec() = testing::SmallSweepSpec();
    request.set_spec_yaml(std::string((1 << 20) + 1, 'y'));
    v1::SubmitSweepResponse response;
    grpc::ClientContext context;
    expect_invalid(stub_->SubmitSweep(&context, request, &response), "spec_yaml");
  }
  {
    // 1 model x 1,000 budgets x 10,000 seeds: 1e7 trials, refused before planning.
    v1::SubmitSweepRequest request;
    v1::SweepSpec& spec = *request.mutable_spec() = testing::SmallSweepSpec();
    spec.clear_models();
    spec.add_models()->set_target_params(1e5);
    spec.clear_tokens();
    spec.clear_seeds();
    for (int i = 0; i < 1000; ++i) spec.add_tokens(1e6 + i);
    for (int i = 0; i < 10'000; ++i) spec.add_seeds(static_cast<uint64_t>(i));
    v1::SubmitSweepResponse response;
    grpc::ClientContext context;
    const auto start = std::chrono::steady_clock::now();
    const grpc::Status status = stub_->SubmitSweep(&context, request, &response);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    expect_invalid(status, "seeds");
    EXPECT_THAT(status.error_message(), HasSubstr("10000000 trials"));
  }
  {
    v1::GetFitRequest request;
    request.set_sweep_id(sweep);
    request.set_bootstrap(2'000'000'000);
    v1::FitResult response;
    grpc::ClientContext context;
    expect_invalid(stub_->GetFit(&context, request, &response), "bootstrap");
  }
  {
    v1::GetFitRequest request;
    request.set_sweep_id(sweep);
    for (int i = 0; i < 20'000; ++i) request.add_compute_budgets(1e18);
    v1::FitResult response;
    grpc::ClientContext context;
    expect_invalid(stub_->GetFit(&context, request, &response), "compute_budgets");
  }
  // Metric points: each out-of-limits field ends the stream, nothing stored.
  for (const auto& [field, mutate] :
       std::vector<std::pair<std::string, std::function<void(v1::MetricPoint&)>>>{
           {"seq", [&](v1::MetricPoint& p) { p.set_seq(kTooBig); }},
           {"tokens", [&](v1::MetricPoint& p) { p.set_tokens(UINT64_MAX); }},
           {"step", [&](v1::MetricPoint& p) { p.set_step(kTooBig + 7); }},
           {"wall_seconds",
            [&](v1::MetricPoint& p) {
              p.set_wall_seconds(std::numeric_limits<double>::quiet_NaN());
            }},
           {"trial_id", [&](v1::MetricPoint& p) { p.set_trial_id(std::string(1000, 't')); }},
       }) {
    grpc::ClientContext context;
    auto stream = stub_->StreamMetrics(&context);
    v1::MetricPoint point = Point(lease, 0);
    mutate(point);
    stream->Write(point);
    stream->WritesDone();
    v1::MetricAck ack;
    EXPECT_FALSE(stream->Read(&ack)) << field;
    expect_invalid(stream->Finish(), field);
  }
  // A message over the server's 4 MiB receive limit is refused by gRPC.
  {
    v1::RegisterWorkerRequest request;
    request.set_hostname(std::string(5 << 20, 'h'));
    v1::RegisterWorkerResponse response;
    grpc::ClientContext context;
    EXPECT_EQ(stub_->RegisterWorker(&context, request, &response).error_code(),
              grpc::StatusCode::RESOURCE_EXHAUSTED);
  }

  // Nothing got in, and the coordinator serves on.
  EXPECT_TRUE(server_->store().ListMetrics(lease.trial().trial_id(), 1)->empty());
  EXPECT_EQ(*server_->store().CountWorkers(), 1);
  EXPECT_EQ(*server_->store().CountSweeps(), 1);
  EXPECT_EQ(server_->store().GetTrial(lease.trial().trial_id())->state(),
            v1::TRIAL_STATE_LEASED);
  EXPECT_TRUE(Beat(worker, lease).keep_going());
  EXPECT_TRUE(Lease(Register(), sweep).granted());
  EXPECT_EQ(IntegrityCheck(dir_.File("coordinator.db")), "ok");
}

// The per-lease credential on the wire: Heartbeat, a metric point,
// CompleteTrial and FailTrial without the lease's token, or with another
// lease's, are PERMISSION_DENIED and store nothing.
TEST_F(CoordinatorServiceTest, CallsAboutALeaseNeedItsToken) {
  const std::string sweep = Submit();
  const std::string victim = Register();
  const std::string thief = Register();
  EXPECT_NE(victim.substr(0, victim.find('.')), victim) << "worker ids carry a secret";
  const v1::LeaseTrialResponse lease = Lease(victim, sweep);
  const v1::LeaseTrialResponse own = Lease(thief, sweep);
  ASSERT_TRUE(lease.granted() && own.granted());
  ASSERT_EQ(lease.lease_token().size(), 32u);
  const std::string trial_id = lease.trial().trial_id();

  for (const std::string& token : {std::string(), own.lease_token()}) {
    SCOPED_TRACE(token.empty() ? "missing token" : "another lease's token");
    auto expect_denied = [&](const grpc::Status& status) {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
      EXPECT_THAT(status.error_message(), HasSubstr("lease_token"));
      EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr(lease.lease_token())));
      if (!token.empty()) {
        EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr(token)));
      }
    };
    for (const std::string& worker : {victim, thief}) {
      {
        v1::HeartbeatRequest request;
        request.set_worker_id(worker);
        request.set_trial_id(trial_id);
        request.set_attempt(lease.attempt());
        request.set_lease_token(token);
        v1::HeartbeatResponse response;
        grpc::ClientContext context;
        expect_denied(stub_->Heartbeat(&context, request, &response));
      }
      {
        v1::CompleteTrialRequest request;
        request.set_worker_id(worker);
        request.set_trial_id(trial_id);
        request.set_attempt(lease.attempt());
        request.set_lease_token(token);
        request.mutable_result()->set_final_val_loss(-5);
        request.mutable_result()->set_params(123);
        v1::CompleteTrialResponse response;
        grpc::ClientContext context;
        expect_denied(stub_->CompleteTrial(&context, request, &response));
      }
      {
        v1::FailTrialRequest request;
        request.set_worker_id(worker);
        request.set_trial_id(trial_id);
        request.set_attempt(lease.attempt());
        request.set_lease_token(token);
        request.set_reason("stolen");
        v1::FailTrialResponse response;
        grpc::ClientContext context;
        expect_denied(stub_->FailTrial(&context, request, &response));
      }
    }
    {
      grpc::ClientContext context;
      auto stream = stub_->StreamMetrics(&context);
      v1::MetricPoint point = Point(lease, 0);
      point.set_lease_token(token);
      stream->Write(point);
      stream->WritesDone();
      v1::MetricAck ack;
      EXPECT_FALSE(stream->Read(&ack));
      expect_denied(stream->Finish());
    }
  }
  EXPECT_TRUE(server_->store().ListMetrics(trial_id, 1)->empty());
  const v1::Trial untouched = *server_->store().GetTrial(trial_id);
  EXPECT_EQ(untouched.state(), v1::TRIAL_STATE_LEASED);
  EXPECT_FALSE(untouched.has_result());

  // ListTrials shows worker ids without their secret.
  v1::ListTrialsRequest list;
  list.set_sweep_id(sweep);
  v1::ListTrialsResponse trials;
  grpc::ClientContext list_context;
  ASSERT_TRUE(stub_->ListTrials(&list_context, list, &trials).ok());
  for (const v1::Trial& trial : trials.trials()) {
    EXPECT_EQ(trial.worker_id().find('.'), std::string::npos) << trial.worker_id();
  }
  EXPECT_EQ(trials.trials(0).worker_id(), victim.substr(0, victim.find('.')));

  // The holder with its token carries on, also after a restart.
  RestartServer();
  EXPECT_TRUE(Beat(victim, lease).keep_going());
  grpc::ClientContext context;
  auto stream = stub_->StreamMetrics(&context);
  ASSERT_TRUE(stream->Write(Point(lease, 0)));
  v1::MetricAck ack;
  ASSERT_TRUE(stream->Read(&ack));
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(server_->store().ListMetrics(trial_id, 1)->size(), 1u);
}

// Points of a finished trial are refused and do not show in its metrics
// (they once did, in `sweep export`); a NaN divergence is recorded DIVERGED
// with its points.
TEST_F(CoordinatorServiceTest, NanDivergenceIsRecordedAndAFinishedTrialTakesNoPoints) {
  const std::string sweep = Submit();
  const std::string worker = Register();
  const v1::LeaseTrialResponse lease = Lease(worker, sweep);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  {
    grpc::ClientContext context;
    auto stream = stub_->StreamMetrics(&context);
    v1::MetricPoint first = Point(lease, 0);
    v1::MetricPoint diverging = Point(lease, 1);
    diverging.set_train_loss(nan);
    diverging.set_val_loss(std::numeric_limits<double>::infinity());
    v1::MetricPoint after = Point(lease, 2);
    after.set_train_loss(nan);
    for (const v1::MetricPoint& point : {first, diverging, after}) {
      ASSERT_TRUE(stream->Write(point));
    }
    v1::MetricAck ack;
    for (uint64_t seq = 0; seq < 3; ++seq) {
      ASSERT_TRUE(stream->Read(&ack)) << "a NaN point blocks none after it";
      EXPECT_EQ(ack.seq(), seq);
    }
    stream->WritesDone();
    const grpc::Status finish = stream->Finish();
    EXPECT_TRUE(finish.ok()) << finish.error_message();
  }
  v1::CompleteTrialRequest complete;
  complete.set_worker_id(worker);
  complete.set_trial_id(lease.trial().trial_id());
  complete.set_attempt(lease.attempt());
  complete.set_lease_token(lease.lease_token());
  complete.mutable_result()->set_diverged(true);
  complete.mutable_result()->set_divergence_reason("loss is nan");
  complete.mutable_result()->set_final_train_loss(nan);
  complete.mutable_result()->set_final_val_loss(nan);
  v1::CompleteTrialResponse completed;
  grpc::ClientContext complete_context;
  const grpc::Status status = stub_->CompleteTrial(&complete_context, complete, &completed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(completed.accepted());
  {
    grpc::ClientContext context;
    auto stream = stub_->StreamMetrics(&context);
    v1::MetricPoint late = Point(lease, 3);
    late.set_train_loss(-5);
    stream->Write(late);
    stream->WritesDone();
    v1::MetricAck ack;
    EXPECT_FALSE(stream->Read(&ack));
    const grpc::Status refused = stream->Finish();
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(refused.error_message(), HasSubstr("TRIAL_STATE_DIVERGED"));
  }
  v1::ListTrialsRequest list;
  list.set_sweep_id(sweep);
  list.set_include_metrics(true);
  v1::ListTrialsResponse trials;
  grpc::ClientContext list_context;
  ASSERT_TRUE(stub_->ListTrials(&list_context, list, &trials).ok());
  EXPECT_EQ(trials.trials(0).state(), v1::TRIAL_STATE_DIVERGED);
  EXPECT_TRUE(std::isnan(trials.trials(0).latest_train_loss()));
  EXPECT_TRUE(std::isnan(trials.trials(0).result().final_val_loss()));
  ASSERT_EQ(trials.metrics_size(), 3);  // not the late one
  EXPECT_TRUE(std::isnan(trials.metrics(1).train_loss()));
  EXPECT_TRUE(std::isinf(trials.metrics(1).val_loss()));
  EXPECT_EQ(trials.metrics(2).seq(), 2u);
  EXPECT_EQ(IntegrityCheck(dir_.File("coordinator.db")), "ok");
}

TEST(CoordinatorServerTest, BadOptionsAreRejected) {
  testing::TempDir dir;
  EXPECT_TRUE(absl::IsInvalidArgument(CoordinatorServer::Start({}).status()));
  CoordinatorOptions options;
  options.db_path = dir.File("db");
  options.heartbeat_interval = 60s;
  EXPECT_TRUE(absl::IsInvalidArgument(CoordinatorServer::Start(options).status()));
  options.heartbeat_interval = 1s;
  options.listen_address = "256.1.1.1:1";
  EXPECT_TRUE(absl::IsUnavailable(CoordinatorServer::Start(options).status()));
}

}  // namespace
}  // namespace scalelaw::coordinator
