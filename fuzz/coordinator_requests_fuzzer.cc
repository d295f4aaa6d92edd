// The coordinator's request handling, in process: each input is one RPC's
// request message, checked by request_limits.h as the service checks it and
// then handed to the TrialScheduler (or the store reads and the fit the
// service runs), over one real SQLite store that lives as long as the
// process. Errors are fine; a crash, a sanitizer report, an INTERNAL /
// DATA_LOSS / UNKNOWN answer (malformed input must be INVALID_ARGUMENT and
// the like, never a store failure) or a store that fails PRAGMA
// integrity_check is a finding.
//
// The input is
//   byte 0    bits 0-3: which RPC (kRpcs, modulo its size)
//             bit 4:    bind: the request's worker_id, trial_id, attempt,
//                       lease_token (and sweep_id) become those of the lease
//                       the harness's own worker holds, so mutations reach
//                       past the lease-token check
//             bit 5:    first move the clock past the lease timeout and
//                       expire leases
//             bit 6:    first renew every live lease (a coordinator restart)
//   the rest  the request, protobuf wire format (unparsable: ignored, as
//             gRPC would refuse it)
//
// State carries over between inputs (that is what a coordinator sees), so a
// crash may need the inputs before it: rerun with the whole corpus, or with
// -runs over the crash directory. With SCALELAW_FUZZ_WRITE_SEEDS=DIR the
// harness writes its seed corpus (fuzz/corpus/fuzz_coordinator_requests)
// into DIR and exits.
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/stubs/logging.h"
#include "coordinator/clock.h"
#include "coordinator/forecaster.h"
#include "coordinator/request_limits.h"
#include "coordinator/store.h"
#include "coordinator/sweep_fit.h"
#include "coordinator/sweep_summary.h"
#include "coordinator/trial_scheduler.h"
#include "sweeps/spec_defaults.h"
#include "sweeps/spec_validator.h"

namespace {

namespace fs = std::filesystem;
using namespace scalelaw;
using namespace scalelaw::coordinator;
using namespace std::chrono_literals;

enum Rpc : uint8_t {
  kRegisterWorker,
  kLeaseTrial,
  kHeartbeat,
  kMetricPoint,
  kCompleteTrial,
  kFailTrial,
  kSubmitSweep,
  kGetSweep,
  kListSweeps,
  kCancelSweep,
  kResumeSweep,
  kListTrials,
  kGetFit,
  kGetForecasts,
  kRpcCount,
};
constexpr uint8_t kBind = 1 << 4;
constexpr uint8_t kExpire = 1 << 5;
constexpr uint8_t kRenew = 1 << 6;

// A submitted spec that would plan more than this many trials is validated
// but not stored: the cap the validator enforces (100,000) is already
// covered by the spec harness, and storing that many per input would make
// every large grid a timeout.
constexpr double kMaxSubmittedTrials = 64;
// Resamples GetFit runs here; the limit check sees the request's own count.
constexpr uint32_t kMaxFuzzBootstrap = 8;
constexpr uint64_t kFreshSweepEvery = 64;
constexpr uint64_t kIntegrityCheckEvery = 512;

// A valid two-trial sweep, as the coordinator tests use.
v1::SweepSpec SeedSpec() {
  v1::SweepSpec spec = sweeps::DefaultSweepSpec();
  spec.set_name("fuzz-sweep");
  spec.add_models()->set_target_params(1e5);
  spec.add_models()->set_target_params(2e5);
  spec.add_tokens(1e6);
  spec.add_seeds(1);
  spec.set_max_attempts(2);
  return spec;
}

double TrialsAtMost(const v1::SweepSpec& spec) {
  const double seeds = spec.seeds_size();
  const double budgets = spec.tokens_size() + spec.tokens_per_param_size() + 1;
  const double isoflop =
      spec.isoflop().budgets_size() * static_cast<double>(spec.isoflop().sizes_per_budget());
  return (spec.models_size() * budgets + isoflop) * seeds + spec.forecast().targets_size();
}

// What must never come back for a malformed request.
void CheckNotInternal(const absl::Status& status, const char* rpc) {
  const absl::StatusCode code = status.code();
  if (code == absl::StatusCode::kInternal || code == absl::StatusCode::kDataLoss ||
      code == absl::StatusCode::kUnknown) {
    std::fprintf(stderr, "%s answered %s\n", rpc, status.ToString().c_str());
    std::abort();
  }
}

class Harness {
 public:
  Harness() {
    std::string pattern = (fs::temp_directory_path() / "scalelaw-fuzz-store-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    dir_ = pattern;
    db_path_ = (dir_ / "coordinator.db").string();
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(db_path_);
    if (!store.ok()) Die("Store::Open", store.status());
    store_ = std::move(*store);
    SchedulerOptions options;
    options.lease_timeout = 10s;
    options.retry_after = 250ms;
    scheduler_ = std::make_unique<TrialScheduler>(store_.get(), &clock_, options);
    v1::RegisterWorkerRequest worker;
    worker.set_hostname("fuzz-host");
    absl::StatusOr<std::string> id = scheduler_->RegisterWorker(worker);
    if (!id.ok()) Die("RegisterWorker", id.status());
    worker_id_ = *id;
    SubmitSeedSweep();
  }

  ~Harness() {
    scheduler_.reset();
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  void Run(const uint8_t* data, size_t size) {
    if (size == 0) return;
    const uint8_t control = data[0];
    const bool bind = (control & kBind) != 0;
    if (control & kExpire) {
      clock_.Advance(scheduler_->options().lease_timeout + 1ms);
      CheckNotInternal(scheduler_->ExpireLeases().status(), "ExpireLeases");
    }
    if (control & kRenew) CheckNotInternal(scheduler_->RenewLiveLeases(), "RenewLiveLeases");
    Dispatch(static_cast<Rpc>((control & 0x0f) % kRpcCount), bind, data + 1, size - 1);
    clock_.Advance(10ms);
    if (++iterations_ % kFreshSweepEvery == 0) SubmitSeedSweep();
    if (iterations_ % kIntegrityCheckEvery == 0) CheckIntegrity();
  }

  void CheckIntegrity() const {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(db_path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      std::fprintf(stderr, "cannot open %s: %s\n", db_path_.c_str(), sqlite3_errmsg(db));
      std::abort();
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* stmt = nullptr;
    std::string result;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK) {
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        result += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
        result += '\n';
      }
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    if (result != "ok\n") {
      std::fprintf(stderr, "PRAGMA integrity_check: %s\n", result.c_str());
      std::abort();
    }
  }

 private:
  [[noreturn]] static void Die(const char* what, const absl::Status& status) {
    std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
    std::abort();
  }

  void SubmitSeedSweep() {
    v1::SubmitSweepRequest request;
    *request.mutable_spec() = SeedSpec();
    absl::StatusOr<v1::SubmitSweepResponse> submitted = scheduler_->SubmitSweep(request);
    if (!submitted.ok()) Die("SubmitSweep", submitted.status());
    sweep_id_ = submitted->sweep_id();
  }

  // The parsed request, or nullopt (the input is skipped).
  template <typename Request>
  static std::optional<Request> Parse(const uint8_t* data, size_t size) {
    Request request;
    if (!request.ParseFromArray(data, static_cast<int>(size))) return std::nullopt;
    return request;
  }

  // The lease fields of the harness's worker, into a request that names them.
  template <typename Request>
  void BindLease(Request* request) const {
    request->set_worker_id(worker_id_);
    request->set_trial_id(lease_.trial().trial_id());
    request->set_attempt(lease_.attempt());
    request->set_lease_token(lease_.lease_token());
  }

  // CheckRequestLimits, as the service's RefuseOutOfLimits applies it.
  template <typename Request>
  static bool WithinLimits(const Request& request) {
    const absl::Status within = CheckRequestLimits(request);
    if (!within.ok() && within.code() != absl::StatusCode::kInvalidArgument) {
      Die("CheckRequestLimits", within);
    }
    return within.ok();
  }

  void Dispatch(Rpc rpc, bool bind, const uint8_t* data, size_t size) {
    switch (rpc) {
      case kRegisterWorker: {
        auto request = Parse<v1::RegisterWorkerRequest>(data, size);
        if (!request || !WithinLimits(*request)) return;
        CheckNotInternal(scheduler_->RegisterWorker(*request).status(), "RegisterWorker");
        return;
      }
      case kLeaseTrial: {
        auto request = Parse<v1::LeaseTrialRequest>(data, size);
        if (!request) return;
        if (bind) request->set_worker_id(worker_id_);
        if (!WithinLimits(*request)) return;
        absl::StatusOr<v1::LeaseTrialResponse> lease = scheduler_->LeaseTrial(*request);
        CheckNotInternal(lease.status(), "LeaseTrial");
        if (bind && lease.ok() && lease->granted()) lease_ = *lease;
        return;
      }
      case kHeartbeat: {
        auto request = Parse<v1::HeartbeatRequest>(data, size);
        if (!request) return;
        if (bind) BindLease(&*request);
        if (!WithinLimits(*request)) return;
        CheckNotInternal(scheduler_->Heartbeat(*request).status(), "Heartbeat");
        return;
      }
      case kMetricPoint: {  // MetricStreamReactor::OnReadDone's path
        auto point = Parse<v1::MetricPoint>(data, size);
        if (!point) return;
        if (bind) {
          point->set_trial_id(lease_.trial().trial_id());
          point->set_attempt(lease_.attempt());
          point->set_lease_token(lease_.lease_token());
        }
        if (!WithinLimits(*point)) return;
        CheckNotInternal(scheduler_->RecordMetric(*point).status(), "RecordMetric");
        return;
      }
      case kCompleteTrial: {
        auto request = Parse<v1::CompleteTrialRequest>(data, size);
        if (!request) return;
        if (bind) BindLease(&*request);
        if (!WithinLimits(*request)) return;
        CheckNotInternal(scheduler_->CompleteTrial(*request).status(), "CompleteTrial");
        return;
      }
      case kFailTrial: {
        auto request = Parse<v1::FailTrialRequest>(data, size);
        if (!request) return;
        if (bind) BindLease(&*request);
        if (!WithinLimits(*request)) return;
        CheckNotInternal(scheduler_->FailTrial(*request).status(), "FailTrial");
        return;
      }
      case kSubmitSweep: {
        auto request = Parse<v1::SubmitSweepRequest>(data, size);
        if (!request || !WithinLimits(*request)) return;
        if (TrialsAtMost(request->spec()) > kMaxSubmittedTrials) {
          (void)sweeps::ValidateSweepSpec(request->spec());
          return;
        }
        CheckNotInternal(scheduler_->SubmitSweep(*request).status(), "SubmitSweep");
        return;
      }
      default:
        DispatchSweepRead(rpc, bind, data, size);
    }
  }

  // The sweep-level RPCs: reads of the store (as CoordinatorService does
  // them), cancel, resume and the fit.
  void DispatchSweepRead(Rpc rpc, bool bind, const uint8_t* data, size_t size) {
    switch (rpc) {
      case kGetSweep: {
        auto request = Parse<v1::GetSweepRequest>(data, size);
        if (!request) return;
        if (bind) request->set_sweep_id(sweep_id_);
        if (!WithinLimits(*request)) return;
        CheckNotInternal(Summary(request->sweep_id()).status(), "GetSweep");
        return;
      }
      case kListSweeps: {
        auto request = Parse<v1::ListSweepsRequest>(data, size);
        if (!request || !WithinLimits(*request)) return;
        absl::StatusOr<std::vector<SweepRecord>> sweeps = store_->ListSweeps();
        CheckNotInternal(sweeps.status(), "ListSweeps");
        if (!sweeps.ok()) return;
        // The newest few: the store gains a sweep every kFreshSweepEvery inputs.
        for (size_t i = sweeps->size() > 4 ? sweeps->size() - 4 : 0; i < sweeps->size(); ++i) {
          CheckNotInternal(Summary((*sweeps)[i].sweep_id).status(), "ListSweeps");
        }
        return;
      }
      case kCancelSweep: {
        auto request = Parse<v1::CancelSweepRequest>(data, size);
        if (!request) return;
        if (bind) request->set_sweep_id(sweep_id_);
        if (!WithinLimits(*request)) return;
        CheckNotInternal(scheduler_->CancelSweep(request->sweep_id()).status(), "CancelSweep");
        return;
      }
      case kResumeSweep: {
        auto request = Parse<v1::ResumeSweepRequest>(data, size);
        if (!request) return;
        if (bind) request->set_sweep_id(sweep_id_);
        if (!WithinLimits(*request)) return;
        CheckNotInternal(scheduler_->ResumeSweep(request->sweep_id()).status(), "ResumeSweep");
        return;
      }
      case kListTrials: {
        auto request = Parse<v1::ListTrialsRequest>(data, size);
        if (!request) return;
        if (bind) request->set_sweep_id(sweep_id_);
        if (!WithinLimits(*request)) return;
        CheckNotInternal(ListTrials(*request), "ListTrials");
        return;
      }
      case kGetFit: {
        auto request = Parse<v1::GetFitRequest>(data, size);
        if (!request) return;
        if (bind) request->set_sweep_id(sweep_id_);
        if (!WithinLimits(*request)) return;
        absl::StatusOr<std::vector<v1::Trial>> trials = SweepTrials(request->sweep_id());
        if (!trials.ok()) return CheckNotInternal(trials.status(), "GetFit");
        request->set_bootstrap(std::min(request->bootstrap(), kMaxFuzzBootstrap));
        CheckNotInternal(FitSweep(*trials, *request, {/*num_threads=*/1}).status(), "GetFit");
        return;
      }
      case kGetForecasts: {
        auto request = Parse<v1::GetForecastsRequest>(data, size);
        if (!request) return;
        if (bind) request->set_sweep_id(sweep_id_);
        if (!WithinLimits(*request)) return;
        if (request->sweep_id().empty()) return;  // the service's RequireSweepId
        CheckNotInternal(ForecastOutcomes(*store_, request->sweep_id()).status(), "GetForecasts");
        return;
      }
      default:
        return;
    }
  }

  absl::StatusOr<std::vector<v1::Trial>> SweepTrials(const std::string& sweep_id) {
    if (sweep_id.empty()) return absl::InvalidArgumentError("sweep_id: must not be empty");
    absl::Status known = store_->GetSweep(sweep_id).status();
    if (!known.ok()) return known;
    return store_->ListTrials(sweep_id);
  }

  // CoordinatorService::Summary.
  absl::StatusOr<v1::Sweep> Summary(const std::string& sweep_id) {
    if (sweep_id.empty()) return absl::InvalidArgumentError("sweep_id: must not be empty");
    absl::StatusOr<SweepRecord> sweep = store_->GetSweep(sweep_id);
    if (!sweep.ok()) return sweep.status();
    absl::StatusOr<std::vector<v1::Trial>> trials = store_->ListTrials(sweep_id);
    if (!trials.ok()) return trials.status();
    absl::StatusOr<std::vector<SweepJob>> jobs = store_->ListSweepJobs(sweep_id);
    if (!jobs.ok()) return jobs.status();
    absl::StatusOr<int64_t> started = store_->FirstAttemptStartMs(sweep_id);
    if (!started.ok()) return started.status();
    return SummarizeSweep(*sweep, *trials, *jobs, SweepTimes{*started, clock_.NowMs()});
  }

  // CoordinatorService::ListTrials.
  absl::Status ListTrials(const v1::ListTrialsRequest& request) {
    absl::StatusOr<std::vector<v1::Trial>> trials = SweepTrials(request.sweep_id());
    if (!trials.ok()) return trials.status();
    for (const v1::Trial& trial : *trials) {
      if (!request.include_metrics() || trial.attempt() == 0) continue;
      absl::Status listed = store_->ListMetrics(trial.spec().trial_id(), trial.attempt()).status();
      if (!listed.ok()) return listed;
    }
    return absl::OkStatus();
  }

  fs::path dir_;
  std::string db_path_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<TrialScheduler> scheduler_;
  std::string worker_id_;
  std::string sweep_id_;          // the newest seed sweep
  v1::LeaseTrialResponse lease_;  // the harness worker's latest granted lease
  uint64_t iterations_ = 0;
};

// --- the seed corpus ----------------------------------------------------------

void WriteSeed(const fs::path& dir, const std::string& name, uint8_t control,
               const google::protobuf::Message& message) {
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.put(static_cast<char>(control));
  out << message.SerializeAsString();
}

void WriteSeeds(const fs::path& dir) {
  fs::create_directories(dir);
  v1::RegisterWorkerRequest reg;
  reg.set_hostname("node-1");
  reg.set_pid(4242);
  reg.set_device("cpu");
  reg.set_threads(2);
  reg.set_launcher_tag("slurm-123");
  WriteSeed(dir, "register", kRegisterWorker, reg);

  WriteSeed(dir, "lease_bound", kLeaseTrial | kBind, v1::LeaseTrialRequest());
  v1::LeaseTrialRequest lease;
  lease.set_worker_id("w-1.0123456789abcdef");
  lease.set_sweep_id("fuzz-sweep-1");
  WriteSeed(dir, "lease_unknown_worker", kLeaseTrial, lease);

  v1::HeartbeatRequest beat;
  beat.set_tokens_done(65536);
  WriteSeed(dir, "heartbeat_bound", kHeartbeat | kBind, beat);
  WriteSeed(dir, "heartbeat_after_expiry", kHeartbeat | kBind | kExpire, beat);
  beat.set_worker_id("w-2.x");
  beat.set_trial_id("fuzz-sweep-1-t000");
  beat.set_attempt(1);
  beat.set_lease_token("00000000000000000000000000000000");
  WriteSeed(dir, "heartbeat_wrong_token", kHeartbeat, beat);

  v1::MetricPoint point;
  point.set_seq(1);
  point.set_step(10);
  point.set_tokens(40960);
  point.set_flops(1e12);
  point.set_train_loss(4.5);
  point.set_lr(3e-4);
  point.set_tokens_per_second(1e4);
  point.set_wall_seconds(1.5);
  WriteSeed(dir, "metric_bound", kMetricPoint | kBind, point);
  point.set_seq(2);
  point.set_val_loss(std::numeric_limits<double>::quiet_NaN());
  point.set_noise_scale(12.0);
  WriteSeed(dir, "metric_nan_val_loss", kMetricPoint | kBind, point);

  v1::CompleteTrialRequest complete;
  v1::TrialResult* result = complete.mutable_result();
  result->set_params(100000);
  result->set_non_embedding_params(80000);
  result->set_flops_per_token_6n(6e5);
  result->set_tokens(1000000);
  result->set_flops(6e11);
  result->set_final_val_loss(3.25);
  result->set_final_train_loss(3.1);
  result->set_device("cpu");
  result->set_steps(100);
  WriteSeed(dir, "complete_bound", kCompleteTrial | kBind, complete);
  result->set_diverged(true);
  result->set_final_train_loss(std::numeric_limits<double>::quiet_NaN());
  result->set_divergence_reason("loss is nan at step 40");
  WriteSeed(dir, "complete_diverged", kCompleteTrial | kBind, complete);

  v1::FailTrialRequest fail;
  fail.set_reason("CUDA out of memory");
  fail.set_retriable(true);
  WriteSeed(dir, "fail_retriable", kFailTrial | kBind, fail);
  fail.set_preempted(true);
  WriteSeed(dir, "fail_preempted", kFailTrial | kBind | kRenew, fail);

  v1::SubmitSweepRequest submit;
  *submit.mutable_spec() = SeedSpec();
  submit.set_spec_yaml("name: fuzz-sweep\n");
  WriteSeed(dir, "submit", kSubmitSweep, submit);

  v1::GetSweepRequest get;
  WriteSeed(dir, "get_sweep_bound", kGetSweep | kBind, get);
  WriteSeed(dir, "list_sweeps", kListSweeps, v1::ListSweepsRequest());
  WriteSeed(dir, "cancel_bound", kCancelSweep | kBind, v1::CancelSweepRequest());
  WriteSeed(dir, "resume_bound", kResumeSweep | kBind, v1::ResumeSweepRequest());
  v1::ListTrialsRequest list;
  list.set_include_metrics(true);
  WriteSeed(dir, "list_trials_bound", kListTrials | kBind, list);
  v1::GetFitRequest fit;
  fit.set_law("power");
  fit.add_compute_budgets(1e18);
  fit.set_bootstrap(2);
  fit.set_level(0.9);
  fit.set_bootstrap_unit("size");
  WriteSeed(dir, "get_fit_bound", kGetFit | kBind, fit);
  WriteSeed(dir, "get_forecasts_bound", kGetForecasts | kBind, v1::GetForecastsRequest());
}

Harness* harness = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  if (const char* seeds = std::getenv("SCALELAW_FUZZ_WRITE_SEEDS")) {
    WriteSeeds(seeds);
    std::exit(0);
  }
  // Mutated strings are often not UTF-8: protobuf logs each, which only slows the run.
  google::protobuf::SetLogHandler(nullptr);
  harness = new Harness();
  std::atexit([] {
    harness->CheckIntegrity();
    delete harness;
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  harness->Run(data, size);
  return 0;
}
