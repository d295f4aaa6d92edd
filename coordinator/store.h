// The coordinator's durable state: sweeps, trials, attempts, metric points and
// workers in one SQLite file (WAL mode, synchronous=FULL). Every mutating
// method is one transaction that has committed (and reached the disk) when the
// method returns OK, so a caller may acknowledge an RPC after it: killing the
// process at any moment loses nothing that was acknowledged.
//
// The store holds rows; the rules of the trial life cycle live in
// TrialScheduler, which computes the new state of a trial and hands it to
// CommitTrialWrites.
//
// Thread safety: every method is safe to call from any thread (one mutex
// serialises the connection). Read-modify-write sequences spanning several
// calls need the caller's own lock (TrialScheduler holds one); Hold() keeps
// the connection for such a sequence, so that the metric writer's batches
// cannot slip in between its calls (each wait would be a whole batch).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/coordinator_observer.h"
#include "coordinator/sqlite_db.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::coordinator {

// A sweep as stored: its spec as submitted, plus bookkeeping.
struct SweepRecord {
  std::string sweep_id;
  std::string name;
  v1::SweepSpec spec;
  std::string spec_yaml;  // the original text, for provenance; may be empty
  int64_t created_ms = 0;
  bool cancelled = false;
};

// One attempt at a trial: a lease given to a worker and how it ended.
struct AttemptRecord {
  std::string trial_id;
  uint32_t attempt = 0;
  std::string worker_id;
  int64_t start_ms = 0;
  int64_t end_ms = 0;   // 0 while the attempt is open
  std::string outcome;  // "" while open; "succeeded", "diverged", "failed",
                        // "lease_expired", "cancelled"
  std::string reason;
  // The attempt's credential (coordinator/lease_token.h): written when the
  // row is inserted, never changed after. A secret: never sent to clients.
  std::string lease_token;
};

// A new state of one trial (its mutable fields; trial.spec identifies it and
// is not rewritten) plus, optionally, an attempts row: inserted when new; when
// the attempt is already stored only end_ms, outcome and reason are updated
// (worker and start time are kept).
struct TrialWrite {
  v1::Trial trial;
  std::optional<AttemptRecord> attempt;
};

// What Store::AppendMetrics did with a batch of points.
struct AppendedMetrics {
  // Per point, in order: true when stored, false for a resend already held,
  // or why it alone was not stored.
  std::vector<absl::StatusOr<bool>> points;
  // Trials whose attempt the batch moved LEASED -> RUNNING (its first point).
  std::vector<std::string> started;
};

// A job a cluster launcher submitted for a sweep.
struct SweepJob {
  std::string sweep_id;
  std::string launcher;  // "slurm", "kubernetes"
  std::string job_id;    // Slurm job id, Kubernetes Job name
  int64_t submitted_ms = 0;
};

class Store {
 public:
  // The schema version this code writes (PRAGMA user_version).
  static constexpr int kSchemaVersion = 6;

  // Opens or creates the store at `path`, migrating an older schema. A newer
  // schema is refused.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path);
  // Opens an existing store to read (CLI commands beside a running
  // coordinator): never migrates, so reading cannot upgrade a store under an
  // older coordinator. FAILED_PRECONDITION for another schema version.
  static absl::StatusOr<std::unique_ptr<Store>> OpenForReading(const std::string& path);

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store();

  // --- sweeps --------------------------------------------------------------
  // Stores a sweep and all its trials (PENDING, attempt 0) atomically.
  // ALREADY_EXISTS when the sweep id is taken.
  absl::Status InsertSweep(const SweepRecord& sweep, const std::vector<v1::TrialSpec>& trials);
  absl::StatusOr<SweepRecord> GetSweep(const std::string& sweep_id);  // NOT_FOUND
  absl::StatusOr<std::vector<SweepRecord>> ListSweeps();              // oldest first
  absl::StatusOr<int64_t> CountSweeps();
  // Marks the sweep cancelled and applies `writes` (its trials' new states)
  // in one transaction.
  absl::Status CancelSweep(const std::string& sweep_id, const std::vector<TrialWrite>& writes);
  // Clears the sweep's cancelled mark and applies `writes` (its requeued
  // trials) in one transaction.
  absl::Status ResumeSweep(const std::string& sweep_id, const std::vector<TrialWrite>& writes);
  // When the sweep's first attempt started; 0 before any lease.
  absl::StatusOr<int64_t> FirstAttemptStartMs(const std::string& sweep_id);

  // --- trials --------------------------------------------------------------
  absl::StatusOr<v1::Trial> GetTrial(const std::string& trial_id);  // NOT_FOUND
  // A sweep's trials in plan order.
  absl::StatusOr<std::vector<v1::Trial>> ListTrials(const std::string& sweep_id);
  // Trials in any of `states`, across sweeps.
  absl::StatusOr<std::vector<v1::Trial>> ListTrialsInStates(
      const std::vector<v1::TrialState>& states);
  // The next PENDING trial of a sweep that is not cancelled: oldest sweep
  // first, then plan order. `sweep_id` empty: any sweep. A WSD branch waits
  // for its stable run to succeed, a forecast target for its sweep's
  // forecasts to be stored.
  absl::StatusOr<std::optional<v1::Trial>> NextPendingTrial(const std::string& sweep_id);
  // PENDING trials that wait for `trial_id` (WSD cooldown branches of a
  // stable run), in plan order.
  absl::StatusOr<std::vector<v1::Trial>> ListPendingDependents(const std::string& trial_id);
  // The LEASED or RUNNING trial held by `worker_id`, if any.
  absl::StatusOr<std::optional<v1::Trial>> TrialHeldBy(const std::string& worker_id);
  // Trials not yet ended (PENDING, LEASED, RUNNING); `sweep_id` empty: all.
  absl::StatusOr<int64_t> CountUnendedTrials(const std::string& sweep_id);
  // Applies every write in one transaction.
  absl::Status CommitTrialWrites(const std::vector<TrialWrite>& writes);
  absl::StatusOr<std::vector<AttemptRecord>> ListAttempts(const std::string& trial_id);
  // The lease token of one attempt; empty when the attempt is not stored (or
  // was leased before tokens existed).
  absl::StatusOr<std::string> LeaseToken(const std::string& trial_id, uint32_t attempt);

  // --- forecasts -----------------------------------------------------------
  // Stores a sweep's forecasts, the final specs of its compute targets'
  // trials (sized from the fit; only PENDING forecast targets are rewritten)
  // and ends `failed_targets` (trial id, reason) FAILED, in one transaction.
  // ALREADY_EXISTS when the sweep has forecasts already:
  // a stored forecast is never rewritten (the schema's triggers refuse an
  // UPDATE or DELETE too).
  absl::Status InsertForecasts(const std::string& sweep_id,
                               const std::vector<v1::Forecast>& forecasts,
                               const std::vector<v1::TrialSpec>& target_specs,
                               const std::vector<std::pair<std::string, std::string>>&
                                   failed_targets = {});
  // A sweep's forecasts in target order; empty before they are stored.
  absl::StatusOr<std::vector<v1::Forecast>> ListForecasts(const std::string& sweep_id);
  // When the trial's first attempt started; 0 before any lease.
  absl::StatusOr<int64_t> FirstLeaseMs(const std::string& trial_id);

  // Keeps the connection to the caller's thread until the guard dies; the
  // store's own methods may be called meanwhile (the lock is recursive).
  std::unique_lock<std::recursive_mutex> Hold() { return std::unique_lock(mu_); }

  // --- metrics -------------------------------------------------------------
  // Stores `point` unless (trial_id, attempt, seq) is already held, and applies
  // `trial_update` if given, in one transaction. Returns false for a
  // duplicate (nothing changes then).
  absl::StatusOr<bool> AppendMetric(const v1::MetricPoint& point,
                                    const std::optional<v1::Trial>& trial_update);
  // Group commit (coordinator/metric_writer.h): stores `points` in ONE
  // transaction, so one fsync makes them all durable. Each point gets its
  // own SAVEPOINT and its own result, in order: true when stored, false for
  // a resend already held (nothing changes then), or the point's error (it
  // alone is not stored), e.g. FAILED_PRECONDITION when its attempt no
  // longer holds the live lease. A point is stored only while its attempt
  // is LEASED or RUNNING, so a state change committed meanwhile (completion,
  // failure, expiry) is never overwritten; the attempt's first point moves
  // it LEASED -> RUNNING, and is the only one that writes the trial's row
  // (its progress is read from the points: GetTrial). When the batch itself
  // fails (BEGIN or COMMIT, e.g. RESOURCE_EXHAUSTED for a full disk) the
  // error comes back and none of the points is stored.
  absl::StatusOr<AppendedMetrics> AppendMetrics(const std::vector<v1::MetricPoint>& points);
  // The points of one attempt, by sequence number.
  absl::StatusOr<std::vector<v1::MetricPoint>> ListMetrics(const std::string& trial_id,
                                                           uint32_t attempt);

  // --- cluster jobs ----------------------------------------------------------
  // Records a job a launcher submitted for a sweep (idempotent).
  absl::Status RecordSweepJob(const std::string& sweep_id, const std::string& launcher,
                              const std::string& job_id, int64_t now_ms);
  absl::StatusOr<std::vector<SweepJob>> ListSweepJobs(const std::string& sweep_id);

  // --- workers -------------------------------------------------------------
  absl::Status InsertWorker(const std::string& worker_id, const v1::RegisterWorkerRequest& info,
                            int64_t now_ms);
  absl::StatusOr<bool> WorkerExists(const std::string& worker_id);
  absl::StatusOr<int64_t> CountWorkers();

  // Hands the WAL's checkpoints to the caller (coordinator/wal_checkpointer.h):
  // SQLite's automatic checkpoint, which runs inside a commit, is turned off,
  // and `on_commit` is told the WAL's size in pages after every commit, on
  // the committing thread with the store's lock held, so it must be quick.
  // An empty function gives the automatic checkpoints back.
  void set_wal_commit_hook(std::function<void(int wal_pages)> on_commit);

  // Told the duration of every committed write transaction. Not owned; may be
  // null. Set it before the store is shared between threads.
  void set_observer(CoordinatorObserver* observer) { observer_ = observer; }

 private:
  class ScopedStatement;
  explicit Store(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  static absl::StatusOr<std::unique_ptr<Store>> OpenDb(const std::string& path);
  absl::Status QuickCheck(const std::string& path);
  absl::Status Migrate();
  // A cached prepared statement for `sql`, reset when the returned guard dies.
  absl::StatusOr<ScopedStatement> Statement(std::string_view sql);
  template <typename Fn>
  absl::Status InTransaction(Fn&& body);
  absl::Status WriteTrial(const TrialWrite& write);
  // INSERT OR IGNORE of one point's row: false when it was held already.
  absl::StatusOr<bool> InsertMetricRow(const v1::MetricPoint& point);
  // One point of AppendMetrics, inside the batch's transaction; adds its
  // trial to `started` when the point moved it LEASED -> RUNNING.
  absl::StatusOr<bool> AppendMetricInBatch(const v1::MetricPoint& point,
                                           std::vector<std::string>* started);
  absl::Status SetCancelled(const std::string& sweep_id, bool cancelled,
                            const std::vector<TrialWrite>& writes);
  absl::StatusOr<std::vector<v1::Trial>> QueryTrials(const std::string& sql,
                                                     const std::vector<std::string>& args);

  std::recursive_mutex mu_;  // recursive: Hold() and the methods it spans
  CoordinatorObserver* observer_ = nullptr;
  std::function<void(int)> wal_commit_hook_;
  std::unique_ptr<SqliteDb> db_;
  std::map<std::string, std::unique_ptr<SqliteStatement>, std::less<>> statements_;
};

// Whether a trial in `state` has ended (SUCCEEDED, DIVERGED, FAILED, CANCELLED).
bool IsEnded(v1::TrialState state);

}  // namespace scalelaw::coordinator
