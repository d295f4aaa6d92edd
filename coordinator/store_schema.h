// The store's SQLite schema, one constant per version (PRAGMA user_version).
// A new version adds a constant with the statements that migrate from the
// previous one; Store::Migrate applies them in order.
#pragma once

namespace scalelaw::coordinator {

// Schema version 1. Protos are stored as serialised bytes (the wire contract
// is the single source of truth); the columns beside them are what queries
// filter and sort on.
inline constexpr char kSchemaV1[] = R"sql(
CREATE TABLE sweeps (
  sweep_id   TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  spec       BLOB NOT NULL,
  spec_yaml  TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  cancelled  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE trials (
  trial_id          TEXT PRIMARY KEY,
  sweep_id          TEXT NOT NULL REFERENCES sweeps(sweep_id),
  idx               INTEGER NOT NULL,
  spec              BLOB NOT NULL,
  state             INTEGER NOT NULL,
  attempt           INTEGER NOT NULL DEFAULT 0,
  worker_id         TEXT NOT NULL DEFAULT '',
  lease_deadline_ms INTEGER NOT NULL DEFAULT 0,
  result            BLOB,
  reason            TEXT NOT NULL DEFAULT '',
  tokens_done       INTEGER NOT NULL DEFAULT 0,
  latest_train_loss REAL NOT NULL DEFAULT 0,
  latest_val_loss   REAL NOT NULL DEFAULT 0,
  UNIQUE (sweep_id, idx)
);
CREATE INDEX trials_by_state ON trials (state, sweep_id, idx);
CREATE INDEX trials_by_worker ON trials (worker_id);
CREATE TABLE attempts (
  trial_id  TEXT NOT NULL REFERENCES trials(trial_id),
  attempt   INTEGER NOT NULL,
  worker_id TEXT NOT NULL,
  start_ms  INTEGER NOT NULL,
  end_ms    INTEGER NOT NULL DEFAULT 0,
  outcome   TEXT NOT NULL DEFAULT '',
  reason    TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (trial_id, attempt)
);
CREATE TABLE metric_points (
  trial_id     TEXT NOT NULL,
  attempt      INTEGER NOT NULL,
  seq          INTEGER NOT NULL,
  step         INTEGER NOT NULL,
  tokens       INTEGER NOT NULL,
  train_loss   REAL,
  val_loss     REAL,
  wall_seconds REAL NOT NULL,
  point        BLOB NOT NULL,
  PRIMARY KEY (trial_id, attempt, seq)
) WITHOUT ROWID;
CREATE TABLE workers (
  worker_id     TEXT PRIMARY KEY,
  hostname      TEXT NOT NULL,
  pid           INTEGER NOT NULL,
  device        TEXT NOT NULL,
  threads       INTEGER NOT NULL,
  launcher_tag  TEXT NOT NULL,
  registered_ms INTEGER NOT NULL
);
)sql";

// Schema version 2: a trial may wait for another (a WSD cooldown branch for
// its stable run), and a sweep records the jobs a cluster launcher submitted
// for it (Slurm job ids, Kubernetes Job names) so cancel can reach them.
inline constexpr char kSchemaV2[] = R"sql(
ALTER TABLE trials ADD COLUMN depends_on TEXT NOT NULL DEFAULT '';
CREATE INDEX trials_by_dependency ON trials (depends_on);
CREATE TABLE sweep_jobs (
  sweep_id     TEXT NOT NULL REFERENCES sweeps(sweep_id),
  launcher     TEXT NOT NULL,
  job_id       TEXT NOT NULL,
  submitted_ms INTEGER NOT NULL,
  PRIMARY KEY (sweep_id, launcher, job_id)
);
)sql";

// Schema version 3: `sweep resume` requeues ended trials; attempts made
// before it no longer count against max_attempts.
inline constexpr char kSchemaV3[] = R"sql(
ALTER TABLE trials ADD COLUMN resumed_after_attempt INTEGER NOT NULL DEFAULT 0;
)sql";

// Schema version 4: pre-registered forecasts (issue 14). A forecast target's
// trial waits until its sweep's forecasts are stored, and a stored forecast
// is never rewritten: the triggers refuse an UPDATE, a DELETE or an INSERT
// OR REPLACE over a stored row from any client, this coordinator's or a
// user's sqlite3 shell.
inline constexpr char kSchemaV4[] = R"sql(
ALTER TABLE trials ADD COLUMN forecast_target TEXT NOT NULL DEFAULT '';
CREATE TABLE forecasts (
  sweep_id  TEXT NOT NULL REFERENCES sweeps(sweep_id),
  target    TEXT NOT NULL,
  trial_id  TEXT NOT NULL REFERENCES trials(trial_id),
  fitted_ms INTEGER NOT NULL,
  forecast  BLOB NOT NULL,
  PRIMARY KEY (sweep_id, target)
);
CREATE TRIGGER forecasts_never_rewritten BEFORE UPDATE ON forecasts
BEGIN SELECT RAISE(ABORT, 'a stored forecast is never rewritten'); END;
CREATE TRIGGER forecasts_never_deleted BEFORE DELETE ON forecasts
BEGIN SELECT RAISE(ABORT, 'a stored forecast is never deleted'); END;
CREATE TRIGGER forecasts_never_replaced BEFORE INSERT ON forecasts
WHEN EXISTS (SELECT 1 FROM forecasts WHERE sweep_id = NEW.sweep_id AND target = NEW.target)
BEGIN SELECT RAISE(ABORT, 'a stored forecast is never rewritten'); END;
)sql";

// Schema version 5 (issue 20): each attempt's lease token, the credential
// every call about the attempt must carry (coordinator/lease_token.h). An
// attempt leased before the migration has none ('') and takes no calls: its
// worker is told to stop and the trial is requeued when the lease expires.
//
// Not a schema change but a rule of this version: a NaN latest loss of a
// trial (a diverged run's) is stored as the TEXT 'NaN' in its REAL NOT NULL
// column (SQLite would turn a NaN REAL into NULL); ±inf are REALs as they are.
inline constexpr char kSchemaV5[] = R"sql(
ALTER TABLE attempts ADD COLUMN lease_token TEXT NOT NULL DEFAULT '';
)sql";

// Schema version 6 (issue 20): a live attempt's progress is read from its
// newest points instead of being written into its trial's row with each
// point (Store::GetTrial). The newest train loss is almost always the last
// point's; this index finds the newest validation loss, which evaluations
// leave many points apart, in one seek (it covers val_loss: without it the
// planner prefers the primary key and walks back point by point). A NaN
// loss in metric_points is the TEXT 'NaN' too (NULL there means the point
// has no such loss).
inline constexpr char kSchemaV6[] = R"sql(
CREATE INDEX metric_points_with_val_loss ON metric_points (trial_id, attempt, seq, val_loss)
WHERE val_loss IS NOT NULL;
)sql";

// The migrations in order: entry i takes a store from version i to i + 1.
inline constexpr const char* kMigrations[] = {kSchemaV1, kSchemaV2, kSchemaV3, kSchemaV4,
                                              kSchemaV5, kSchemaV6};

}  // namespace scalelaw::coordinator
