#include "coordinator/store.h"

#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/limits.h"
#include "common/status_macros.h"
#include "coordinator/store_schema.h"

namespace scalelaw::coordinator {
namespace {

// The columns ReadTrial reads, in its order, qualified by the table's name `t`.
// One list, so a query can never read fewer columns than ReadTrial expects.
//
// A live attempt's progress (tokens done, latest losses) is read from its
// newest metric points rather than written into its trial's row with every
// point: that write dirtied one `trials` page per trial in every batch. The
// columns hold what heartbeats and endings wrote, and serve the ended trials
// and a live attempt without points yet.
std::string BuildTrialColumns(const std::string& t) {
  const std::string live = absl::StrCat(t, ".state IN (", v1::TRIAL_STATE_LEASED, ", ",
                                        v1::TRIAL_STATE_RUNNING, ")");
  const std::string of_attempt = absl::StrCat(" FROM metric_points m WHERE m.trial_id = ", t,
                                              ".trial_id AND m.attempt = ", t, ".attempt");
  const auto newest = [&](const char* point_column, const char* trial_column) {
    return absl::StrCat("CASE WHEN ", live, " THEN COALESCE((SELECT m.", point_column, of_attempt,
                        " AND m.", point_column, " IS NOT NULL ORDER BY m.seq DESC LIMIT 1), ", t,
                        ".", trial_column, ") ELSE ", t, ".", trial_column, " END");
  };
  const std::string tokens_done =
      absl::StrCat("CASE WHEN ", live, " THEN MAX(", t, ".tokens_done, COALESCE((SELECT m.tokens",
                   of_attempt, " ORDER BY m.seq DESC LIMIT 1), 0)) ELSE ", t, ".tokens_done END");
  std::string out;
  for (const char* name :
       {"spec", "state", "attempt", "worker_id", "lease_deadline_ms", "result", "reason"}) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", t, ".", name);
  }
  absl::StrAppend(&out, ", ", tokens_done, ", ", newest("train_loss", "latest_train_loss"), ", ",
                  newest("val_loss", "latest_val_loss"), ", ", t, ".resumed_after_attempt");
  return out;
}

// Built once per name: every trial query (each lease, heartbeat and check)
// uses it, and it keys the statement cache.
// `as_t`: for a query that names the trials table `t` (a join).
const std::string& TrialColumns(bool as_t = false) {
  static const std::string plain = BuildTrialColumns("trials");
  static const std::string joined = BuildTrialColumns("t");
  return as_t ? joined : plain;
}

constexpr char kSweepColumns[] = "sweep_id, name, spec, spec_yaml, created_ms, cancelled";

template <typename Message>
absl::Status ParseColumn(const SqliteStatement& stmt, int column, Message* message,
                         const std::string& what) {
  if (!message->ParseFromString(stmt.ColumnBlob(column))) {
    return absl::DataLossError(absl::StrCat("store: cannot parse stored ", what));
  }
  return absl::OkStatus();
}

// A trial's latest loss: SQLite stores a NaN REAL as NULL, which the NOT NULL
// column refuses, so NaN (a diverged run's loss) is the TEXT 'NaN' there.
void BindLoss(SqliteStatement& stmt, int index, double loss) {
  if (std::isnan(loss)) {
    stmt.Bind(index, std::string_view("NaN"));
  } else {
    stmt.Bind(index, loss);
  }
}

double ReadLoss(const SqliteStatement& stmt, int column) {
  if (stmt.ColumnIsText(column)) return std::numeric_limits<double>::quiet_NaN();
  return stmt.ColumnDouble(column);
}

absl::StatusOr<v1::Trial> ReadTrial(const SqliteStatement& stmt) {
  v1::Trial trial;
  SCALELAW_RETURN_IF_ERROR(ParseColumn(stmt, 0, trial.mutable_spec(), "trial spec"));
  trial.set_state(static_cast<v1::TrialState>(stmt.ColumnInt(1)));
  trial.set_attempt(static_cast<uint32_t>(stmt.ColumnInt(2)));
  trial.set_worker_id(stmt.ColumnText(3));
  trial.set_lease_deadline_ms(stmt.ColumnInt(4));
  if (!stmt.ColumnIsNull(5)) {
    SCALELAW_RETURN_IF_ERROR(ParseColumn(stmt, 5, trial.mutable_result(), "trial result"));
  }
  trial.set_reason(stmt.ColumnText(6));
  trial.set_tokens_done(static_cast<uint64_t>(stmt.ColumnInt(7)));
  trial.set_latest_train_loss(ReadLoss(stmt, 8));
  trial.set_latest_val_loss(ReadLoss(stmt, 9));
  trial.set_resumed_after_attempt(static_cast<uint32_t>(stmt.ColumnInt(10)));
  return trial;
}

absl::StatusOr<SweepRecord> ReadSweep(const SqliteStatement& stmt) {
  SweepRecord sweep;
  sweep.sweep_id = stmt.ColumnText(0);
  sweep.name = stmt.ColumnText(1);
  SCALELAW_RETURN_IF_ERROR(ParseColumn(stmt, 2, &sweep.spec, "sweep spec"));
  sweep.spec_yaml = stmt.ColumnText(3);
  sweep.created_ms = stmt.ColumnInt(4);
  sweep.cancelled = stmt.ColumnInt(5) != 0;
  return sweep;
}

constexpr int kPending = v1::TRIAL_STATE_PENDING;
constexpr int kLeased = v1::TRIAL_STATE_LEASED;
constexpr int kRunning = v1::TRIAL_STATE_RUNNING;
constexpr int kSucceeded = v1::TRIAL_STATE_SUCCEEDED;

}  // namespace

bool IsEnded(v1::TrialState state) {
  return state == v1::TRIAL_STATE_SUCCEEDED || state == v1::TRIAL_STATE_DIVERGED ||
         state == v1::TRIAL_STATE_FAILED || state == v1::TRIAL_STATE_CANCELLED;
}

// Resets (and unbinds) a cached statement when the guard goes out of scope,
// so no statement keeps a read transaction open between calls.
class Store::ScopedStatement {
 public:
  explicit ScopedStatement(SqliteStatement* stmt) : stmt_(stmt) {}
  ScopedStatement(ScopedStatement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}
  ScopedStatement& operator=(ScopedStatement&&) = delete;
  ~ScopedStatement() {
    if (stmt_) stmt_->Reset();
  }
  SqliteStatement* operator->() const { return stmt_; }
  SqliteStatement& operator*() const { return *stmt_; }

 private:
  SqliteStatement* stmt_;
};

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  SCALELAW_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, OpenDb(path));
  SCALELAW_RETURN_IF_ERROR(store->QuickCheck(path));
  SCALELAW_RETURN_IF_ERROR(store->Migrate());
  return store;
}

absl::StatusOr<std::unique_ptr<Store>> Store::OpenForReading(const std::string& path) {
  // SQLite would create a missing file.
  if (std::error_code error; !std::filesystem::exists(path, error)) {
    return absl::NotFoundError(absl::StrCat("no store at '", path, "'"));
  }
  SCALELAW_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, OpenDb(path));
  SCALELAW_ASSIGN_OR_RETURN(int64_t version, store->db_->QueryInt("PRAGMA user_version"));
  if (version == 0) {
    return absl::FailedPreconditionError(absl::StrCat("'", path, "' is not a scalelaw store"));
  }
  if (version != kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "store '", path, "' has schema version ", version, " and this scalelaw reads version ",
        kSchemaVersion, version < kSchemaVersion
                            ? ": start this version's coordinator on it once to migrate it"
                            : ": use the newer scalelaw that wrote it"));
  }
  return store;
}

// A coordinator must not build on a damaged store: quick_check reads every
// page (seconds for a GB store) and refuses, with what SQLite found.
absl::Status Store::QuickCheck(const std::string& path) {
  SCALELAW_ASSIGN_OR_RETURN(ScopedStatement check, Statement("PRAGMA quick_check"));
  std::string problems;
  while (true) {
    absl::StatusOr<bool> row = check->Step();
    if (!row.ok()) {  // e.g. SQLITE_CORRUPT before the first row
      problems = std::string(row.status().message());
      break;
    }
    if (!*row) break;
    const std::string line = check->ColumnText(0);
    if (line != "ok") absl::StrAppend(&problems, problems.empty() ? "" : "; ", line);
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      "store '", path, "' failed SQLite's quick_check (", problems.substr(0, 1000),
      "); restore it from a copy made with `scalelaw coordinator backup`"));
}

absl::StatusOr<std::unique_ptr<Store>> Store::OpenDb(const std::string& path) {
  SCALELAW_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path));
  sqlite3_busy_timeout(db->handle(), 5000);
  // WAL lets readers (e.g. `sqlite3` from a shell) look while we write;
  // synchronous=FULL fsyncs the WAL at every commit, so an acknowledged change
  // survives a kill or a power cut.
  SCALELAW_ASSIGN_OR_RETURN(auto mode_stmt, db->Prepare("PRAGMA journal_mode=WAL"));
  SCALELAW_ASSIGN_OR_RETURN(bool has_row, mode_stmt->Step());
  if (!has_row || mode_stmt->ColumnText(0) != "wal") {
    return absl::FailedPreconditionError(
        absl::StrCat("store '", path, "': cannot switch to WAL journal mode"));
  }
  mode_stmt.reset();
  SCALELAW_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  return std::unique_ptr<Store>(new Store(std::move(db)));
}

void Store::set_wal_commit_hook(std::function<void(int)> on_commit) {
  std::lock_guard lock(mu_);
  wal_commit_hook_ = std::move(on_commit);
  if (!wal_commit_hook_) {
    sqlite3_wal_autocheckpoint(db_->handle(), 1000);  // SQLite's default hook
    return;
  }
  // Replaces the automatic checkpoint, which is itself a WAL hook.
  sqlite3_wal_hook(
      db_->handle(),
      [](void* self, sqlite3*, const char*, int pages) {
        static_cast<Store*>(self)->wal_commit_hook_(pages);
        return SQLITE_OK;
      },
      this);
}

Store::~Store() {
  statements_.clear();  // finalise statements before the connection closes
}

absl::Status Store::Migrate() {
  SCALELAW_ASSIGN_OR_RETURN(int64_t version, db_->QueryInt("PRAGMA user_version"));
  if (version == kSchemaVersion) return absl::OkStatus();
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat("store schema version ", version,
                                                      " is newer than this coordinator's (",
                                                      kSchemaVersion, "); upgrade scalelaw"));
  }
  // Version 0 is a new file; each migration takes it one version further.
  SCALELAW_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  absl::Status status;
  for (int64_t v = version; v < kSchemaVersion && status.ok(); ++v) {
    status = db_->Exec(kMigrations[v]);
  }
  if (status.ok()) status = db_->Exec(absl::StrCat("PRAGMA user_version=", kSchemaVersion));
  if (status.ok()) status = db_->Exec("COMMIT");
  if (!status.ok()) (void)db_->Exec("ROLLBACK");
  return status;
}

absl::StatusOr<Store::ScopedStatement> Store::Statement(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    SCALELAW_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(sql));
    it = statements_.emplace(std::string(sql), std::move(stmt)).first;
  }
  it->second->Reset();
  return ScopedStatement(it->second.get());
}

template <typename Fn>
absl::Status Store::InTransaction(Fn&& body) {
  const auto start = std::chrono::steady_clock::now();
  SCALELAW_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  absl::Status status = body();
  if (status.ok()) status = db_->Exec("COMMIT");
  if (!status.ok()) (void)db_->Exec("ROLLBACK");
  if (status.ok() && observer_ != nullptr) {
    observer_->OnStoreWrite(std::chrono::steady_clock::now() - start);
  }
  return status;
}

// --- sweeps ------------------------------------------------------------------

absl::Status Store::InsertSweep(const SweepRecord& sweep,
                                const std::vector<v1::TrialSpec>& trials) {
  std::lock_guard lock(mu_);
  return InTransaction([&]() -> absl::Status {
    {
      SCALELAW_ASSIGN_OR_RETURN(auto exists,
                                Statement("SELECT COUNT(*) FROM sweeps WHERE sweep_id = ?"));
      exists->Bind(1, sweep.sweep_id);
      SCALELAW_RETURN_IF_ERROR(exists->Step().status());
      if (exists->ColumnInt(0) > 0) {
        return absl::AlreadyExistsError(absl::StrCat("sweep '", sweep.sweep_id, "' exists"));
      }
    }
    SCALELAW_ASSIGN_OR_RETURN(
        auto insert, Statement("INSERT INTO sweeps (sweep_id, name, spec, spec_yaml, created_ms, "
                               "cancelled) VALUES (?, ?, ?, ?, ?, ?)"));
    insert->Bind(1, sweep.sweep_id)
        .Bind(2, sweep.name)
        .BindBlob(3, sweep.spec.SerializeAsString())
        .Bind(4, sweep.spec_yaml)
        .Bind(5, sweep.created_ms)
        .Bind(6, int64_t{sweep.cancelled ? 1 : 0});
    SCALELAW_RETURN_IF_ERROR(insert->Run());
    SCALELAW_ASSIGN_OR_RETURN(
        auto trial_insert,
        Statement("INSERT INTO trials (trial_id, sweep_id, idx, spec, state, depends_on, "
                  "forecast_target) VALUES (?, ?, ?, ?, ?, ?, ?)"));
    for (size_t i = 0; i < trials.size(); ++i) {
      trial_insert->Bind(1, trials[i].trial_id())
          .Bind(2, sweep.sweep_id)
          .Bind(3, static_cast<int64_t>(i))
          .BindBlob(4, trials[i].SerializeAsString())
          .Bind(5, int64_t{kPending})
          .Bind(6, trials[i].wsd().stable_trial_id())
          .Bind(7, trials[i].forecast_target());
      SCALELAW_RETURN_IF_ERROR(trial_insert->Run());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<SweepRecord> Store::GetSweep(const std::string& sweep_id) {
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(auto stmt, Statement(absl::StrCat("SELECT ", kSweepColumns,
                                                              " FROM sweeps WHERE sweep_id = ?")));
  stmt->Bind(1, sweep_id);
  SCALELAW_ASSIGN_OR_RETURN(bool found, stmt->Step());
  if (!found) return absl::NotFoundError(absl::StrCat("no sweep '", limits::Echo(sweep_id), "'"));
  return ReadSweep(*stmt);
}

absl::StatusOr<std::vector<SweepRecord>> Store::ListSweeps() {
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(
      auto stmt,
      Statement(absl::StrCat("SELECT ", kSweepColumns, " FROM sweeps ORDER BY created_ms, rowid")));
  std::vector<SweepRecord> sweeps;
  while (true) {
    SCALELAW_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    SCALELAW_ASSIGN_OR_RETURN(auto sweep, ReadSweep(*stmt));
    sweeps.push_back(std::move(sweep));
  }
  return sweeps;
}

absl::StatusOr<int64_t> Store::CountSweeps() {
  std::lock_guard lock(mu_);
  return db_->QueryInt("SELECT COUNT(*) FROM sweeps");
}

absl::Status Store::CancelSweep(const std::string& sweep_id,
                                const std::vector<TrialWrite>& writes) {
  return SetCancelled(sweep_id, true, writes);
}

absl::Status Store::ResumeSweep(const std::string& sweep_id,
                                const std::vector<TrialWrite>& writes) {
  return SetCancelled(sweep_id, false, writes);
}

absl::Status Store::SetCancelled(const std::string& sweep_id, bool cancelled,
                                 const std::vector<TrialWrite>& writes) {
  std::lock_guard lock(mu_);
  return InTransaction([&]() -> absl::Status {
    SCALELAW_ASSIGN_OR_RETURN(auto stmt,
                              Statement("UPDATE sweeps SET cancelled = ? WHERE sweep_id = ?"));
    stmt->Bind(1, int64_t{cancelled}).Bind(2, sweep_id);
    SCALELAW_RETURN_IF_ERROR(stmt->Run());
    if (sqlite3_changes(db_->handle()) != 1) {
      return absl::NotFoundError(absl::StrCat("no sweep '", limits::Echo(sweep_id), "'"));
    }
    for (const TrialWrite& write : writes) SCALELAW_RETURN_IF_ERROR(WriteTrial(write));
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> Store::FirstAttemptStartMs(const std::string& sweep_id) {
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(
      auto stmt, Statement("SELECT COALESCE(MIN(a.start_ms), 0) FROM attempts a "
                           "JOIN trials t ON t.trial_id = a.trial_id WHERE t.sweep_id = ?"));
  stmt->Bind(1, sweep_id);
  SCALELAW_RETURN_IF_ERROR(stmt->Step().status());
  return stmt->ColumnInt(0);
}

// --- trials ------------------------------------------------------------------

absl::StatusOr<std::vector<v1::Trial>> Store::QueryTrials(const std::string& sql,
                                                          const std::vector<std::string>& args) {
  SCALELAW_ASSIGN_OR_RETURN(auto stmt, Statement(sql));
  for (size_t i = 0; i < args.size(); ++i) stmt->Bind(static_cast<int>(i + 1), args[i]);
  std::vector<v1::Trial> trials;
  while (true) {
    SCALELAW_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    SCALELAW_ASSIGN_OR_RETURN(auto trial, ReadTrial(*stmt));
    trials.push_back(std::move(trial));
  }
  return trials;
}

absl::StatusOr<v1::Trial> Store::GetTrial(const std::string& trial_id) {
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(
      auto trials,
      QueryTrials(absl::StrCat("SELECT ", TrialColumns(), " FROM trials WHERE trial_id = ?"),
                  {trial_id}));
  if (trials.empty()) {
    return absl::NotFoundError(absl::StrCat("no trial '", limits::Echo(trial_id), "'"));
  }
  return std::move(trials.front());
}

absl::StatusOr<std::vector<v1::Trial>> Store::ListTrials(const std::string& sweep_id) {
  std::lock_guard lock(mu_);
  return QueryTrials(
      absl::StrCat("SELECT ", TrialColumns(), " FROM trials WHERE sweep_id = ? ORDER BY idx"),
      {sweep_id});
}

absl::StatusOr<std::vector<v1::Trial>> Store::ListTrialsInStates(
    const std::vector<v1::TrialState>& states) {
  std::lock_guard lock(mu_);
  std::string in;
  for (v1::TrialState state : states) {
    absl::StrAppend(&in, in.empty() ? "" : ", ", static_cast<int>(state));
  }
  if (in.empty()) return std::vector<v1::Trial>{};
  return QueryTrials(absl::StrCat("SELECT ", TrialColumns(), " FROM trials WHERE state IN (", in,
                                  ") ORDER BY sweep_id, idx"),
                     {});
}

absl::StatusOr<std::optional<v1::Trial>> Store::NextPendingTrial(const std::string& sweep_id) {
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(
      auto trials,
      QueryTrials(absl::StrCat("SELECT ", TrialColumns(/*as_t=*/true),
                               " FROM trials t JOIN sweeps s ON s.sweep_id = t.sweep_id "
                               "WHERE t.state = ",
                               kPending,
                               " AND s.cancelled = 0 AND (?1 = '' OR t.sweep_id = ?1) "
                               // A cooldown branch waits for its stable run.
                               "AND (t.depends_on = '' OR EXISTS (SELECT 1 FROM trials d "
                               "WHERE d.trial_id = t.depends_on AND d.state = ",
                               kSucceeded,
                               ")) "
                               // A forecast target waits for its forecast.
                               "AND (t.forecast_target = '' OR EXISTS (SELECT 1 FROM forecasts f "
                               "WHERE f.sweep_id = t.sweep_id)) "
                               "ORDER BY s.created_ms, s.rowid, t.idx LIMIT 1"),
                  {sweep_id}));
  if (trials.empty()) return std::optional<v1::Trial>();
  return std::optional<v1::Trial>(std::move(trials.front()));
}

absl::StatusOr<std::vector<v1::Trial>> Store::ListPendingDependents(const std::string& trial_id) {
  std::lock_guard lock(mu_);
  return QueryTrials(absl::StrCat("SELECT ", TrialColumns(), " FROM trials WHERE depends_on = ? ",
                                  "AND state = ", kPending, " ORDER BY idx"),
                     {trial_id});
}

absl::Status Store::InsertForecasts(const std::string& sweep_id,
                                    const std::vector<v1::Forecast>& forecasts,
                                    const std::vector<v1::TrialSpec>& target_specs,
                                    const std::vector<std::pair<std::string, std::string>>&
                                        failed_targets) {
  std::lock_guard lock(mu_);
  return InTransaction([&]() -> absl::Status {
    {
      SCALELAW_ASSIGN_OR_RETURN(auto exists,
                                Statement("SELECT COUNT(*) FROM forecasts WHERE sweep_id = ?"));
      exists->Bind(1, sweep_id);
      SCALELAW_RETURN_IF_ERROR(exists->Step().status());
      if (exists->ColumnInt(0) > 0) {
        return absl::AlreadyExistsError(absl::StrCat(
            "sweep '", sweep_id, "' already has its forecasts; a stored forecast is never rewritten"));
      }
    }
    {
      // The ladder read for the fit may have changed since (a cancel or a
      // resume while fitting): a forecast is only of a whole, ended ladder.
      SCALELAW_ASSIGN_OR_RETURN(
          auto unended,
          Statement(absl::StrCat(
              "SELECT (SELECT cancelled FROM sweeps WHERE sweep_id = ?1) + (SELECT COUNT(*) FROM "
              "trials WHERE sweep_id = ?1 AND forecast_target = '' AND state IN (",
              kPending, ", ", kLeased, ", ", kRunning, "))")));
      unended->Bind(1, sweep_id);
      SCALELAW_RETURN_IF_ERROR(unended->Step().status());
      if (unended->ColumnInt(0) > 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "sweep '", sweep_id, "' is cancelled or has unended ladder trials: no forecast now"));
      }
    }
    SCALELAW_ASSIGN_OR_RETURN(
        auto insert, Statement("INSERT INTO forecasts (sweep_id, target, trial_id, fitted_ms, "
                               "forecast) VALUES (?, ?, ?, ?, ?)"));
    for (const v1::Forecast& forecast : forecasts) {
      insert->Bind(1, sweep_id)
          .Bind(2, forecast.target())
          .Bind(3, forecast.trial_id())
          .Bind(4, forecast.fitted_ms())
          .BindBlob(5, forecast.SerializeAsString());
      SCALELAW_RETURN_IF_ERROR(insert->Run());
    }
    SCALELAW_ASSIGN_OR_RETURN(
        auto update, Statement(absl::StrCat("UPDATE trials SET spec = ? WHERE trial_id = ? AND "
                                            "sweep_id = ? AND forecast_target != '' AND state = ",
                                            kPending)));
    for (const v1::TrialSpec& spec : target_specs) {
      update->BindBlob(1, spec.SerializeAsString()).Bind(2, spec.trial_id()).Bind(3, sweep_id);
      SCALELAW_RETURN_IF_ERROR(update->Run());
      if (sqlite3_changes(db_->handle()) != 1) {
        return absl::FailedPreconditionError(absl::StrCat(
            "trial '", spec.trial_id(), "' is not a pending forecast target of sweep '", sweep_id,
            "'"));
      }
    }
    SCALELAW_ASSIGN_OR_RETURN(
        auto fail, Statement(absl::StrCat("UPDATE trials SET state = ", v1::TRIAL_STATE_FAILED,
                                          ", reason = ? WHERE trial_id = ? AND sweep_id = ? AND "
                                          "forecast_target != '' AND state = ",
                                          kPending)));
    for (const auto& [trial_id, reason] : failed_targets) {
      fail->Bind(1, reason).Bind(2, trial_id).Bind(3, sweep_id);
      SCALELAW_RETURN_IF_ERROR(fail->Run());
      if (sqlite3_changes(db_->handle()) != 1) {
        return absl::FailedPreconditionError(absl::StrCat(
            "trial '", trial_id, "' is not a pending forecast target of sweep '", sweep_id, "'"));
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<v1::Forecast>> Store::ListForecasts(const std::string& sweep_id) {
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(
      auto stmt, Statement("SELECT f.forecast FROM forecasts f JOIN trials t ON "
                           "t.trial_id = f.trial_id WHERE f.sweep_id = ? ORDER BY t.idx"));
  stmt->Bind(1, sweep_id);
  std::vector<v1::Forecast> forecasts;
  while (true) {
    SCALELAW_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    SCALELAW_RETURN_IF_ERROR(ParseColumn(*stmt, 0, &forecasts.emplace_back(), "forecast"));
  }
  return forecasts;
}

absl::StatusOr<int64_t> Store::FirstLeaseMs(const std::string& trial_id) {
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(
      auto stmt,
      Statement("SELECT COALESCE(MIN(start_ms), 0) FROM attempts WHERE trial_id = ?"));
  stmt->Bind(1, trial_id);
  SCALELAW_RETURN_IF_ERROR(stmt->Step().status());
  return stmt->ColumnInt(0);
}

absl::Status Store::RecordSweepJob(const std::string& sweep_id, const std::string& launcher,
                                   const std::string& job_id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  return InTransaction([&]() -> absl::Status {
    SCALELAW_ASSIGN_OR_RETURN(auto insert,
                              Statement("INSERT OR IGNORE INTO sweep_jobs (sweep_id, launcher, "
                                        "job_id, submitted_ms) VALUES (?, ?, ?, ?)"));
    insert->Bind(1, sweep_id).Bind(2, launcher).Bind(3, job_id).Bind(4, now_ms);
    return insert->Run();
  });
}

absl::StatusOr<std::vector<SweepJob>> Store::ListSweepJobs(const std::string& sweep_id) {
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(auto stmt,
                            Statement("SELECT launcher, job_id, submitted_ms FROM sweep_jobs "
                                      "WHERE sweep_id = ? ORDER BY submitted_ms, job_id"));
  stmt->Bind(1, sweep_id);
  std::vector<SweepJob> jobs;
  while (true) {
    SCALELAW_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    jobs.push_back(SweepJob{sweep_id, stmt->ColumnText(0), stmt->ColumnText(1), stmt->ColumnInt(2)});
  }
  return jobs;
}

absl::StatusOr<std::optional<v1::Trial>> Store::TrialHeldBy(const std::string& worker_id) {
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(
      auto trials, QueryTrials(absl::StrCat("SELECT ", TrialColumns(),
                                            " FROM trials WHERE worker_id = ? AND state IN (",
                                            kLeased, ", ", kRunning, ") LIMIT 1"),
                               {worker_id}));
  if (trials.empty()) return std::optional<v1::Trial>();
  return std::optional<v1::Trial>(std::move(trials.front()));
}

absl::StatusOr<int64_t> Store::CountUnendedTrials(const std::string& sweep_id) {
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(
      auto stmt,
      Statement(absl::StrCat("SELECT COUNT(*) FROM trials WHERE state IN (", kPending, ", ",
                             kLeased, ", ", kRunning, ") AND (?1 = '' OR sweep_id = ?1)")));
  stmt->Bind(1, sweep_id);
  SCALELAW_RETURN_IF_ERROR(stmt->Step().status());
  return stmt->ColumnInt(0);
}

absl::Status Store::WriteTrial(const TrialWrite& write) {
  const v1::Trial& trial = write.trial;
  SCALELAW_ASSIGN_OR_RETURN(
      auto stmt,
      Statement("UPDATE trials SET state = ?, attempt = ?, worker_id = ?, lease_deadline_ms = ?, "
                "result = ?, reason = ?, tokens_done = ?, latest_train_loss = ?, "
                "latest_val_loss = ?, resumed_after_attempt = ? WHERE trial_id = ?"));
  stmt->Bind(1, int64_t{trial.state()})
      .Bind(2, int64_t{trial.attempt()})
      .Bind(3, trial.worker_id())
      .Bind(4, trial.lease_deadline_ms());
  if (trial.has_result()) {
    stmt->BindBlob(5, trial.result().SerializeAsString());
  } else {
    stmt->BindNull(5);
  }
  stmt->Bind(6, trial.reason()).Bind(7, static_cast<int64_t>(trial.tokens_done()));
  BindLoss(*stmt, 8, trial.latest_train_loss());
  BindLoss(*stmt, 9, trial.latest_val_loss());
  stmt->Bind(10, int64_t{trial.resumed_after_attempt()})
      .Bind(11, trial.spec().trial_id());
  SCALELAW_RETURN_IF_ERROR(stmt->Run());
  if (sqlite3_changes(db_->handle()) != 1) {
    return absl::NotFoundError(absl::StrCat("no trial '", trial.spec().trial_id(), "'"));
  }
  if (write.attempt) {
    const AttemptRecord& a = *write.attempt;
    SCALELAW_ASSIGN_OR_RETURN(
        auto attempt,
        Statement("INSERT INTO attempts (trial_id, attempt, worker_id, start_ms, end_ms, "
                  "outcome, reason, lease_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                  "ON CONFLICT (trial_id, attempt) DO UPDATE SET end_ms = excluded.end_ms, "
                  "outcome = excluded.outcome, reason = excluded.reason"));
    attempt->Bind(1, a.trial_id)
        .Bind(2, int64_t{a.attempt})
        .Bind(3, a.worker_id)
        .Bind(4, a.start_ms)
        .Bind(5, a.end_ms)
        .Bind(6, a.outcome)
        .Bind(7, a.reason)
        .Bind(8, a.lease_token);
    SCALELAW_RETURN_IF_ERROR(attempt->Run());
  }
  return absl::OkStatus();
}

absl::Status Store::CommitTrialWrites(const std::vector<TrialWrite>& writes) {
  std::lock_guard lock(mu_);
  return InTransaction([&]() -> absl::Status {
    for (const TrialWrite& write : writes) SCALELAW_RETURN_IF_ERROR(WriteTrial(write));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<AttemptRecord>> Store::ListAttempts(const std::string& trial_id) {
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(
      auto stmt, Statement("SELECT trial_id, attempt, worker_id, start_ms, end_ms, outcome, "
                           "reason, lease_token FROM attempts WHERE trial_id = ? "
                           "ORDER BY attempt"));
  stmt->Bind(1, trial_id);
  std::vector<AttemptRecord> attempts;
  while (true) {
    SCALELAW_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    attempts.push_back(AttemptRecord{stmt->ColumnText(0), static_cast<uint32_t>(stmt->ColumnInt(1)),
                                     stmt->ColumnText(2), stmt->ColumnInt(3), stmt->ColumnInt(4),
                                     stmt->ColumnText(5), stmt->ColumnText(6),
                                     stmt->ColumnText(7)});
  }
  return attempts;
}

absl::StatusOr<std::string> Store::LeaseToken(const std::string& trial_id, uint32_t attempt) {
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(
      auto stmt, Statement("SELECT lease_token FROM attempts WHERE trial_id = ? AND attempt = ?"));
  stmt->Bind(1, trial_id).Bind(2, int64_t{attempt});
  SCALELAW_ASSIGN_OR_RETURN(bool found, stmt->Step());
  return found ? stmt->ColumnText(0) : std::string();
}

// --- metrics -----------------------------------------------------------------

absl::StatusOr<bool> Store::AppendMetric(const v1::MetricPoint& point,
                                         const std::optional<v1::Trial>& trial_update) {
  std::lock_guard lock(mu_);
  bool inserted = false;
  SCALELAW_RETURN_IF_ERROR(InTransaction([&]() -> absl::Status {
    SCALELAW_ASSIGN_OR_RETURN(inserted, InsertMetricRow(point));
    if (inserted && trial_update)
      SCALELAW_RETURN_IF_ERROR(WriteTrial(TrialWrite{*trial_update, {}}));
    return absl::OkStatus();
  }));
  return inserted;
}

absl::StatusOr<bool> Store::InsertMetricRow(const v1::MetricPoint& point) {
  SCALELAW_ASSIGN_OR_RETURN(
      auto stmt,
      Statement("INSERT OR IGNORE INTO metric_points (trial_id, attempt, seq, step, tokens, "
                "train_loss, val_loss, wall_seconds, point) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  stmt->Bind(1, point.trial_id())
      .Bind(2, int64_t{point.attempt()})
      .Bind(3, static_cast<int64_t>(point.seq()))
      .Bind(4, static_cast<int64_t>(point.step()))
      .Bind(5, static_cast<int64_t>(point.tokens()));
  // NULL means "no such loss in this point"; a NaN loss is the TEXT 'NaN'.
  if (point.has_train_loss()) {
    BindLoss(*stmt, 6, point.train_loss());
  } else {
    stmt->BindNull(6);
  }
  if (point.has_val_loss()) {
    BindLoss(*stmt, 7, point.val_loss());
  } else {
    stmt->BindNull(7);
  }
  stmt->Bind(8, point.wall_seconds()).BindBlob(9, point.SerializeAsString());
  SCALELAW_RETURN_IF_ERROR(stmt->Run());
  return sqlite3_changes(db_->handle()) == 1;
}

absl::StatusOr<AppendedMetrics> Store::AppendMetrics(const std::vector<v1::MetricPoint>& points) {
  std::lock_guard lock(mu_);
  AppendedMetrics appended;
  appended.points.reserve(points.size());
  SCALELAW_RETURN_IF_ERROR(InTransaction([&]() -> absl::Status {
    for (const v1::MetricPoint& point : points) {
      SCALELAW_RETURN_IF_ERROR(db_->Exec("SAVEPOINT point"));
      absl::StatusOr<bool> stored = AppendMetricInBatch(point, &appended.started);
      if (stored.ok()) {
        SCALELAW_RETURN_IF_ERROR(db_->Exec("RELEASE point"));
      } else {
        // Some errors (a full disk, I/O) make SQLite roll back the whole
        // transaction: then the batch fails as one.
        if (sqlite3_get_autocommit(db_->handle())) return stored.status();
        SCALELAW_RETURN_IF_ERROR(db_->Exec("ROLLBACK TO point; RELEASE point"));
      }
      appended.points.push_back(std::move(stored));
    }
    return absl::OkStatus();
  }));
  return appended;
}

absl::StatusOr<bool> Store::AppendMetricInBatch(const v1::MetricPoint& point,
                                                std::vector<std::string>* started) {
  // Read, not written: whether this attempt still holds the live lease. The
  // scheduler may have ended or requeued it since it checked the stream's
  // first point, and that change must stand.
  SCALELAW_ASSIGN_OR_RETURN(
      auto live, Statement("SELECT state FROM trials WHERE trial_id = ? AND attempt = ? AND "
                           "state IN (?, ?)"));
  live->Bind(1, point.trial_id())
      .Bind(2, int64_t{point.attempt()})
      .Bind(3, int64_t{kLeased})
      .Bind(4, int64_t{kRunning});
  SCALELAW_ASSIGN_OR_RETURN(bool holds, live->Step());
  if (!holds) {
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", limits::Echo(point.trial_id()), ": attempt ", point.attempt(),
                     " no longer holds the lease (the trial was ended or requeued)"));
  }
  const bool leased = live->ColumnInt(0) == kLeased;
  live->Reset();
  SCALELAW_ASSIGN_OR_RETURN(bool inserted, InsertMetricRow(point));
  if (!inserted || !leased) return inserted;
  // The attempt's first point: LEASED -> RUNNING, the one write to its row.
  SCALELAW_ASSIGN_OR_RETURN(
      auto run, Statement("UPDATE trials SET state = ? WHERE trial_id = ? AND attempt = ? AND "
                          "state = ?"));
  run->Bind(1, int64_t{kRunning})
      .Bind(2, point.trial_id())
      .Bind(3, int64_t{point.attempt()})
      .Bind(4, int64_t{kLeased});
  SCALELAW_RETURN_IF_ERROR(run->Run());
  started->push_back(point.trial_id());
  return true;
}

absl::StatusOr<std::vector<v1::MetricPoint>> Store::ListMetrics(const std::string& trial_id,
                                                                uint32_t attempt) {
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(auto stmt, Statement("SELECT point FROM metric_points WHERE trial_id = "
                                                 "? AND attempt = ? ORDER BY seq"));
  stmt->Bind(1, trial_id).Bind(2, int64_t{attempt});
  std::vector<v1::MetricPoint> points;
  while (true) {
    SCALELAW_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    v1::MetricPoint point;
    SCALELAW_RETURN_IF_ERROR(ParseColumn(*stmt, 0, &point, "metric point"));
    points.push_back(std::move(point));
  }
  return points;
}

// --- workers -----------------------------------------------------------------

absl::Status Store::InsertWorker(const std::string& worker_id,
                                 const v1::RegisterWorkerRequest& info, int64_t now_ms) {
  std::lock_guard lock(mu_);
  return InTransaction([&]() -> absl::Status {
    SCALELAW_ASSIGN_OR_RETURN(
        auto stmt, Statement("INSERT INTO workers (worker_id, hostname, pid, device, threads, "
                             "launcher_tag, registered_ms) VALUES (?, ?, ?, ?, ?, ?, ?)"));
    stmt->Bind(1, worker_id)
        .Bind(2, info.hostname())
        .Bind(3, info.pid())
        .Bind(4, info.device())
        .Bind(5, int64_t{info.threads()})
        .Bind(6, info.launcher_tag())
        .Bind(7, now_ms);
    return stmt->Run();
  });
}

absl::StatusOr<bool> Store::WorkerExists(const std::string& worker_id) {
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(auto stmt,
                            Statement("SELECT COUNT(*) FROM workers WHERE worker_id = ?"));
  stmt->Bind(1, worker_id);
  SCALELAW_RETURN_IF_ERROR(stmt->Step().status());
  return stmt->ColumnInt(0) > 0;
}

absl::StatusOr<int64_t> Store::CountWorkers() {
  std::lock_guard lock(mu_);
  return db_->QueryInt("SELECT COUNT(*) FROM workers");
}

}  // namespace scalelaw::coordinator
