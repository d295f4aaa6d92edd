#include "coordinator/store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "absl/strings/escaping.h"
#include "coordinator/store_schema.h"
#include "coordinator/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace scalelaw::coordinator {
namespace {

using testing::TempDir;
using ::testing::HasSubstr;

std::vector<v1::TrialSpec> TwoTrials(const std::string& sweep_id) {
  std::vector<v1::TrialSpec> trials(2);
  for (int i = 0; i < 2; ++i) {
    trials[i].set_trial_id(sweep_id + "-t00" + std::to_string(i));
    trials[i].set_sweep_id(sweep_id);
    trials[i].set_tokens(1000 * (i + 1));
    trials[i].mutable_shape()->set_d_model(64);
  }
  return trials;
}

SweepRecord MakeSweep(const std::string& id) {
  SweepRecord sweep;
  sweep.sweep_id = id;
  sweep.name = "demo";
  sweep.spec.set_name("demo");
  sweep.spec.add_tokens(1000);
  sweep.spec_yaml = "name: demo\n";
  sweep.created_ms = 1234;
  return sweep;
}

TEST(StoreTest, SweepAndTrialsRoundTripAcrossReopen) {
  TempDir dir;
  const std::string path = dir.File("coordinator.db");
  {
    auto store = Store::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->InsertSweep(MakeSweep("demo-1"), TwoTrials("demo-1")).ok());

    v1::Trial trial = *(*store)->GetTrial("demo-1-t001");
    trial.set_state(v1::TRIAL_STATE_RUNNING);
    trial.set_attempt(2);
    trial.set_worker_id("w-7");
    trial.set_lease_deadline_ms(99'000);
    trial.set_tokens_done(512);
    trial.set_latest_train_loss(3.5);
    AttemptRecord attempt{"demo-1-t001", 2, "w-7", 50, 0, "", "", "token-7"};
    ASSERT_TRUE((*store)->CommitTrialWrites({TrialWrite{trial, attempt}}).ok());
  }
  auto store = Store::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();

  auto sweep = (*store)->GetSweep("demo-1");
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(sweep->name, "demo");
  EXPECT_EQ(sweep->spec_yaml, "name: demo\n");
  EXPECT_EQ(sweep->created_ms, 1234);
  EXPECT_FALSE(sweep->cancelled);
  ASSERT_EQ(sweep->spec.tokens_size(), 1);

  auto trials = (*store)->ListTrials("demo-1");
  ASSERT_TRUE(trials.ok());
  ASSERT_EQ(trials->size(), 2u);
  EXPECT_EQ((*trials)[0].spec().trial_id(), "demo-1-t000");
  EXPECT_EQ((*trials)[0].state(), v1::TRIAL_STATE_PENDING);
  const v1::Trial& second = (*trials)[1];
  EXPECT_EQ(second.state(), v1::TRIAL_STATE_RUNNING);
  EXPECT_EQ(second.attempt(), 2u);
  EXPECT_EQ(second.worker_id(), "w-7");
  EXPECT_EQ(second.lease_deadline_ms(), 99'000);
  EXPECT_EQ(second.tokens_done(), 512u);
  EXPECT_DOUBLE_EQ(second.latest_train_loss(), 3.5);
  EXPECT_EQ(second.spec().tokens(), 2000u);

  auto held = (*store)->TrialHeldBy("w-7");
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(held->has_value());
  EXPECT_EQ((*held)->spec().trial_id(), "demo-1-t001");
  EXPECT_EQ(*(*store)->CountUnendedTrials("demo-1"), 2);

  auto attempts = (*store)->ListAttempts("demo-1-t001");
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ(attempts->size(), 1u);
  EXPECT_EQ((*attempts)[0].worker_id, "w-7");
  EXPECT_EQ((*attempts)[0].start_ms, 50);
}

// The store holds every sweep, trial and metric: it and its -wal and -shm
// are its owner's only even under a permissive umask.
TEST(StoreTest, StoreFilesArePrivateToTheirOwner) {
  TempDir dir;
  const std::string path = dir.File("coordinator.db");
  const mode_t previous = ::umask(022);
  auto store = Store::Open(path);
  ::umask(previous);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->InsertSweep(MakeSweep("demo-1"), TwoTrials("demo-1")).ok());
  namespace fs = std::filesystem;
  for (const std::string& file : {path, path + "-wal", path + "-shm"}) {
    SCOPED_TRACE(file);
    ASSERT_TRUE(fs::exists(file));
    EXPECT_EQ(fs::status(file).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
  }
}

TEST(StoreTest, EndingAnAttemptKeepsItsStart) {
  TempDir dir;
  auto store = *Store::Open(dir.File("db"));
  ASSERT_TRUE(store->InsertSweep(MakeSweep("s-1"), TwoTrials("s-1")).ok());
  v1::Trial trial = *store->GetTrial("s-1-t000");
  trial.set_attempt(1);
  ASSERT_TRUE(
      store->CommitTrialWrites({{trial, AttemptRecord{"s-1-t000", 1, "w-1", 10, 0, "", "", ""}}})
          .ok());
  trial.set_state(v1::TRIAL_STATE_SUCCEEDED);
  ASSERT_TRUE(store
                  ->CommitTrialWrites(
                      {{trial, AttemptRecord{"s-1-t000", 1, "w-1", 90, 90, "succeeded", "", ""}}})
                  .ok());
  auto attempts = *store->ListAttempts("s-1-t000");
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].start_ms, 10);
  EXPECT_EQ(attempts[0].end_ms, 90);
  EXPECT_EQ(attempts[0].outcome, "succeeded");
  EXPECT_EQ(*store->CountUnendedTrials("s-1"), 1);
}

TEST(StoreTest, DuplicateMetricPointIsIgnored) {
  TempDir dir;
  const std::string path = dir.File("db");
  {
    auto store = *Store::Open(path);
    ASSERT_TRUE(store->InsertSweep(MakeSweep("s-1"), TwoTrials("s-1")).ok());
    v1::MetricPoint point;
    point.set_trial_id("s-1-t000");
    point.set_attempt(1);
    point.set_seq(0);
    point.set_tokens(100);
    point.set_train_loss(4.0);
    EXPECT_EQ(*store->AppendMetric(point, std::nullopt), true);
    point.set_train_loss(9.0);  // a resend must not overwrite
    EXPECT_EQ(*store->AppendMetric(point, std::nullopt), false);
    point.set_seq(1);
    point.set_tokens(200);
    EXPECT_EQ(*store->AppendMetric(point, std::nullopt), true);
    point.set_attempt(2);
    point.set_seq(0);
    EXPECT_EQ(*store->AppendMetric(point, std::nullopt), true);
  }
  auto store = *Store::Open(path);
  auto points = store->ListMetrics("s-1-t000", 1);
  ASSERT_TRUE(points.ok());
  ASSERT_EQ(points->size(), 2u);
  EXPECT_EQ((*points)[0].seq(), 0u);
  EXPECT_DOUBLE_EQ((*points)[0].train_loss(), 4.0);
  EXPECT_EQ((*points)[1].tokens(), 200u);
  EXPECT_EQ(store->ListMetrics("s-1-t000", 2)->size(), 1u);
}

TEST(StoreTest, MetricWithTrialUpdateIsAtomicAndSkippedForDuplicates) {
  TempDir dir;
  auto store = *Store::Open(dir.File("db"));
  ASSERT_TRUE(store->InsertSweep(MakeSweep("s-1"), TwoTrials("s-1")).ok());
  v1::Trial trial = *store->GetTrial("s-1-t000");
  trial.set_latest_train_loss(2.5);
  v1::MetricPoint point;
  point.set_trial_id("s-1-t000");
  point.set_attempt(1);
  ASSERT_TRUE(*store->AppendMetric(point, trial));
  EXPECT_DOUBLE_EQ(store->GetTrial("s-1-t000")->latest_train_loss(), 2.5);
  trial.set_latest_train_loss(7.0);
  ASSERT_FALSE(*store->AppendMetric(point, trial));
  EXPECT_DOUBLE_EQ(store->GetTrial("s-1-t000")->latest_train_loss(), 2.5);
}

TEST(StoreTest, DuplicateSweepAndUnknownIdsAreErrors) {
  TempDir dir;
  auto store = *Store::Open(dir.File("db"));
  ASSERT_TRUE(store->InsertSweep(MakeSweep("s-1"), TwoTrials("s-1")).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(store->InsertSweep(MakeSweep("s-1"), {})));
  EXPECT_TRUE(absl::IsNotFound(store->GetSweep("nope").status()));
  EXPECT_TRUE(absl::IsNotFound(store->GetTrial("nope").status()));
  v1::Trial ghost;
  ghost.mutable_spec()->set_trial_id("ghost");
  EXPECT_TRUE(absl::IsNotFound(store->CommitTrialWrites({TrialWrite{ghost, std::nullopt}})));
  EXPECT_TRUE(absl::IsNotFound(store->CancelSweep("nope", {})));
}

TEST(StoreTest, FailedTransactionLeavesNoTrace) {
  TempDir dir;
  auto store = *Store::Open(dir.File("db"));
  ASSERT_TRUE(store->InsertSweep(MakeSweep("s-1"), TwoTrials("s-1")).ok());
  v1::Trial good = *store->GetTrial("s-1-t000");
  good.set_state(v1::TRIAL_STATE_FAILED);
  v1::Trial ghost;
  ghost.mutable_spec()->set_trial_id("ghost");
  EXPECT_FALSE(store->CommitTrialWrites({{good, std::nullopt}, {ghost, std::nullopt}}).ok());
  EXPECT_EQ(store->GetTrial("s-1-t000")->state(), v1::TRIAL_STATE_PENDING);
}

TEST(StoreTest, CancelAndPendingOrder) {
  TempDir dir;
  auto store = *Store::Open(dir.File("db"));
  SweepRecord first = MakeSweep("a-1");
  first.created_ms = 1;
  SweepRecord second = MakeSweep("b-2");
  second.created_ms = 2;
  ASSERT_TRUE(store->InsertSweep(second, TwoTrials("b-2")).ok());
  ASSERT_TRUE(store->InsertSweep(first, TwoTrials("a-1")).ok());
  EXPECT_EQ((*store->NextPendingTrial(""))->spec().trial_id(), "a-1-t000");
  EXPECT_EQ((*store->NextPendingTrial("b-2"))->spec().trial_id(), "b-2-t000");

  ASSERT_TRUE(store->CancelSweep("a-1", {}).ok());
  EXPECT_TRUE(store->GetSweep("a-1")->cancelled);
  EXPECT_EQ((*store->NextPendingTrial(""))->spec().trial_id(), "b-2-t000");
  EXPECT_FALSE(store->NextPendingTrial("a-1")->has_value());
  EXPECT_EQ(store->ListSweeps()->front().sweep_id, "a-1");
}

TEST(StoreTest, FileIsWalWithVersionedSchema) {
  TempDir dir;
  const std::string path = dir.File("db");
  ASSERT_TRUE(Store::Open(path).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  auto query_text = [&](const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
    std::string value;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return value;
  };
  EXPECT_EQ(query_text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(query_text("PRAGMA user_version"), std::to_string(Store::kSchemaVersion));
  // A file from a newer scalelaw is refused rather than misread.
  sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto reopened = Store::Open(path);
  EXPECT_TRUE(absl::IsFailedPrecondition(reopened.status())) << reopened.status();
}

// A version-2 file (before `sweep resume`) migrates to the current schema on
// Open and keeps its rows; reading (OpenForReading) never migrates.
TEST(StoreTest, MigratesAVersion2StoreAndReadersDoNot) {
  TempDir dir;
  const std::string path = dir.File("v2.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, kSchemaV1, nullptr, nullptr, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, kSchemaV2, nullptr, nullptr, nullptr), SQLITE_OK);
    v1::TrialSpec spec;
    spec.set_trial_id("old-1-t000");
    const std::string insert =
        "INSERT INTO sweeps (sweep_id, name, spec, created_ms) VALUES ('old-1', 'old', x'', 1);"
        "INSERT INTO trials (trial_id, sweep_id, idx, spec, state, attempt) VALUES "
        "('old-1-t000', 'old-1', 0, x'" + absl::BytesToHexString(spec.SerializeAsString()) +
        "', 6, 2); PRAGMA user_version=2;";
    ASSERT_EQ(sqlite3_exec(db, insert.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  auto reader = Store::OpenForReading(path);
  EXPECT_TRUE(absl::IsFailedPrecondition(reader.status())) << reader.status();
  EXPECT_THAT(std::string(reader.status().message()), HasSubstr("migrate"));
  reader = absl::StatusOr<std::unique_ptr<Store>>();  // close before migrating

  auto store = Store::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  auto trial = (*store)->GetTrial("old-1-t000");
  ASSERT_TRUE(trial.ok()) << trial.status();
  EXPECT_EQ(trial->state(), v1::TRIAL_STATE_FAILED);
  EXPECT_EQ(trial->attempt(), 2u);
  EXPECT_EQ(trial->resumed_after_attempt(), 0u);
  store->reset();
  EXPECT_TRUE(Store::OpenForReading(path).ok());
  EXPECT_TRUE(absl::IsNotFound(Store::OpenForReading(dir.File("missing.db")).status()));
  EXPECT_FALSE(std::filesystem::exists(dir.File("missing.db")));
}

// A forecast target waits for its sweep's forecasts; once stored they can
// be neither inserted again nor changed by SQL, and a compute target's spec
// is rewritten in the same transaction.
TEST(StoreTest, ForecastsGateTheirTargetsAndAreNeverRewritten) {
  TempDir dir;
  const std::string path = dir.File("db");
  auto store = *Store::Open(path);
  std::vector<v1::TrialSpec> trials = TwoTrials("f-1");
  trials[1].set_forecast_target("big");
  ASSERT_TRUE(store->InsertSweep(MakeSweep("f-1"), trials).ok());

  v1::Forecast early;
  early.set_sweep_id("f-1");
  early.set_target("big");
  early.set_trial_id("f-1-t001");
  // Not while a ladder trial is unended.
  EXPECT_TRUE(absl::IsFailedPrecondition(store->InsertForecasts("f-1", {early}, {})));

  // The ladder trial leases; the target does not, before its forecast.
  v1::Trial ladder = *store->GetTrial("f-1-t000");
  EXPECT_EQ((*store->NextPendingTrial("f-1"))->spec().trial_id(), "f-1-t000");
  ladder.set_state(v1::TRIAL_STATE_SUCCEEDED);
  ASSERT_TRUE(store->CommitTrialWrites({TrialWrite{ladder, std::nullopt}}).ok());
  EXPECT_FALSE(store->NextPendingTrial("f-1")->has_value());
  EXPECT_TRUE(store->ListForecasts("f-1")->empty());

  v1::Forecast forecast;
  forecast.set_sweep_id("f-1");
  forecast.set_target("big");
  forecast.set_trial_id("f-1-t001");
  forecast.set_predicted_loss(2.5);
  forecast.set_fitted_ms(42);
  v1::TrialSpec sized = trials[1];
  sized.set_tokens(777);
  ASSERT_TRUE(store->InsertForecasts("f-1", {forecast}, {sized}).ok());
  auto next = store->NextPendingTrial("f-1");
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ((*next)->spec().trial_id(), "f-1-t001");
  EXPECT_EQ((*next)->spec().tokens(), 777u);

  v1::Forecast other = forecast;
  other.set_predicted_loss(9.9);
  absl::Status again = store->InsertForecasts("f-1", {other}, {});
  EXPECT_TRUE(absl::IsAlreadyExists(again)) << again;
  EXPECT_THAT(std::string(again.message()), HasSubstr("never rewritten"));
  store.reset();

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE forecasts SET fitted_ms = 0", nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_THAT(sqlite3_errmsg(db), HasSubstr("never rewritten"));
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM forecasts", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db,
                         "INSERT OR REPLACE INTO forecasts (sweep_id, target, trial_id, "
                         "fitted_ms, forecast) VALUES ('f-1', 'big', 'f-1-t001', 0, x'')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);

  auto reopened = *Store::OpenForReading(path);
  auto stored = reopened->ListForecasts("f-1");
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ(stored->front().predicted_loss(), 2.5);
  EXPECT_EQ(stored->front().fitted_ms(), 42);
}

// A diverged run's losses: SQLite turns a NaN REAL into NULL, which the
// trials table's NOT NULL columns refuse; the store keeps NaN (and ±inf) as
// they were, in the trial and in the points, across a reopen.
TEST(StoreTest, NonFiniteLossesAreStoredAndReadBack) {
  TempDir dir;
  const std::string path = dir.File("db");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  {
    auto store = *Store::Open(path);
    ASSERT_TRUE(store->InsertSweep(MakeSweep("n-1"), TwoTrials("n-1")).ok());
    v1::Trial trial = *store->GetTrial("n-1-t000");
    trial.set_state(v1::TRIAL_STATE_RUNNING);
    trial.set_attempt(1);
    v1::MetricPoint point;
    point.set_trial_id("n-1-t000");
    point.set_attempt(1);
    point.set_seq(0);
    point.set_train_loss(nan);
    point.set_val_loss(-inf);
    trial.set_latest_train_loss(nan);
    trial.set_latest_val_loss(-inf);
    auto appended = store->AppendMetric(point, trial);
    ASSERT_TRUE(appended.ok()) << appended.status();
    EXPECT_TRUE(*appended);
    v1::Trial other = *store->GetTrial("n-1-t001");
    other.set_state(v1::TRIAL_STATE_DIVERGED);
    other.set_latest_train_loss(inf);
    other.set_latest_val_loss(nan);
    other.mutable_result()->set_final_val_loss(nan);
    ASSERT_TRUE(store->CommitTrialWrites({TrialWrite{other, std::nullopt}}).ok());
  }
  auto store = *Store::OpenForReading(path);
  const v1::Trial running = *store->GetTrial("n-1-t000");
  EXPECT_TRUE(std::isnan(running.latest_train_loss()));
  EXPECT_EQ(running.latest_val_loss(), -inf);
  const v1::Trial diverged = *store->GetTrial("n-1-t001");
  EXPECT_EQ(diverged.state(), v1::TRIAL_STATE_DIVERGED);
  EXPECT_EQ(diverged.latest_train_loss(), inf);
  EXPECT_TRUE(std::isnan(diverged.latest_val_loss()));
  EXPECT_TRUE(std::isnan(diverged.result().final_val_loss()));
  const std::vector<v1::MetricPoint> points = *store->ListMetrics("n-1-t000", 1);
  ASSERT_EQ(points.size(), 1u);
  EXPECT_TRUE(std::isnan(points[0].train_loss()));
  EXPECT_EQ(points[0].val_loss(), -inf);
}

// Schema 5 keeps a lease token per attempt; a version-4 store migrates with
// its open attempts tokenless (they take no calls), and a new attempt's token
// survives a reopen and the attempt's end.
TEST(StoreTest, AttemptsKeepTheirLeaseTokenAndAVersion4StoreMigrates) {
  TempDir dir;
  const std::string path = dir.File("v4.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    for (const char* schema : {kSchemaV1, kSchemaV2, kSchemaV3, kSchemaV4}) {
      ASSERT_EQ(sqlite3_exec(db, schema, nullptr, nullptr, nullptr), SQLITE_OK);
    }
    v1::TrialSpec spec;
    spec.set_trial_id("old-1-t000");
    const std::string insert =
        "INSERT INTO sweeps (sweep_id, name, spec, created_ms) VALUES ('old-1', 'old', x'', 1);"
        "INSERT INTO trials (trial_id, sweep_id, idx, spec, state, attempt, worker_id) VALUES "
        "('old-1-t000', 'old-1', 0, x'" + absl::BytesToHexString(spec.SerializeAsString()) +
        "', 3, 1, 'w-1');"
        "INSERT INTO attempts (trial_id, attempt, worker_id, start_ms) VALUES "
        "('old-1-t000', 1, 'w-1', 5); PRAGMA user_version=4;";
    ASSERT_EQ(sqlite3_exec(db, insert.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  {
    auto store = Store::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ(*(*store)->LeaseToken("old-1-t000", 1), "");
    EXPECT_EQ(*(*store)->LeaseToken("old-1-t000", 2), "");
    v1::Trial trial = *(*store)->GetTrial("old-1-t000");
    trial.set_attempt(2);
    ASSERT_TRUE((*store)
                    ->CommitTrialWrites({TrialWrite{
                        trial, AttemptRecord{"old-1-t000", 2, "w-2", 9, 0, "", "", "abc123"}}})
                    .ok());
    // Ending the attempt (a record without a token) keeps its token.
    ASSERT_TRUE((*store)
                    ->CommitTrialWrites({TrialWrite{
                        trial, AttemptRecord{"old-1-t000", 2, "w-2", 9, 10, "failed", "x", ""}}})
                    .ok());
  }
  auto store = *Store::OpenForReading(path);
  EXPECT_EQ(*store->LeaseToken("old-1-t000", 2), "abc123");
  const std::vector<AttemptRecord> attempts = *store->ListAttempts("old-1-t000");
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[1].lease_token, "abc123");
  EXPECT_EQ(attempts[1].outcome, "failed");
}

}  // namespace
}  // namespace scalelaw::coordinator
