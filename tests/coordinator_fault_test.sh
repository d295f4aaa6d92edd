#!/usr/bin/env bash
# Coordinator crash safety (issue 20): a real coordinator on 127.0.0.1 serves
# a sweep to two real workers and is SIGKILLed at least six times — while
# metric streams run, right after a lease was granted, right after a trial
# completed, while a worker is dead as well, and at seeded random moments — and
# restarted on the same store and port after a random pause. Workers ride out
# each outage (a killed worker is started again, as a launcher would). At the
# end, from the store:
#   - every trial SUCCEEDED with exactly one succeeded attempt;
#   - each succeeded attempt's points are seq 1..n, no gap, no duplicate,
#     and end with an evaluation (nothing acknowledged was lost: a worker
#     completes a trial only once every point is acknowledged);
#   - PRAGMA integrity_check passes.
# Prints the time from each restart to the first newly stored point.
# Usage: coordinator_fault_test.sh SCALELAW FIXTURES [SEED]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
scalelaw=$1
fixtures=$2
seed=${3:-${SCALELAW_FAULT_SEED:-$$}}
RANDOM=$seed
dir=$(mktemp -d)
coordinator_pid=
declare -A worker_pids=()
cleanup() {
  kill_all "$coordinator_pid" "${worker_pids[@]}"
  rm -rf "$dir"
}
trap cleanup EXIT
deadline=$((SECONDS + 420))
fail() {
  echo "FAIL (seed $seed): $*"
  tail -n 20 "$dir"/*.log 2>/dev/null || true
  exit 1
}
sql() {
  /usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=10)
print("\n".join("|".join(map(str, r)) for r in db.execute(sys.argv[2])))' "$dir/state.db" "$1"
}
now_ms() { date +%s%3N; }

start_coordinator() {  # start_coordinator LISTEN
  local log=$dir/coordinator-$((++starts)).log
  "$scalelaw" coordinator --listen "$1" --metrics-listen "" --db "$dir/state.db" \
    --lease-timeout-s 20 --token-file "$dir/token" 2> "$log" &
  coordinator_pid=$!
  address=$(coordinator_address "$log") && return 0
  fail "coordinator did not start: $(cat "$log")"
}
start_worker() {  # start_worker I
  SCALELAW_TOKEN_FILE=$dir/token "$scalelaw" worker --coordinator "$address" --sweep "$sweep_id" \
    --exit-when-idle --checkpoint-dir "$dir/checkpoints" --connect-timeout-s 120 \
    >> "$dir/worker-$1.log" 2>&1 &
  worker_pids[$1]=$!
}
points() { sql 'select count(*) from metric_points'; }
wait_until() {  # wait_until WHAT SQL-CONDITION-COMMAND...
  local what=$1; shift
  while ! "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out waiting for $what"
    all_ended && return 1
    sleep 0.05
  done
}
all_ended() { [ "$(sql 'select count(*) from trials where state not in (4, 5, 6, 7)')" = 0 ]; }
restart_times=()
kill_and_restart() {  # kill_and_restart WHY
  local before
  kill -9 "$coordinator_pid"
  wait "$coordinator_pid" 2>/dev/null || true
  before=$(points)
  kills+=("$1")
  echo "kill $((${#kills[@]})): $1 (points stored: $before)"
  sleep "$(( RANDOM % 25 + 5 ))e-1"
  start_coordinator "127.0.0.1:$port"
  local restarted
  restarted=$(now_ms)
  while [ "$(points)" = "$before" ] && ! all_ended; do
    [ "$SECONDS" -lt "$deadline" ] || fail "no point stored after restart $((${#kills[@]}))"
    sleep 0.02
  done
  all_ended || restart_times+=($(( $(now_ms) - restarted )))
}

umask 077
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/token"
starts=0
kills=()
start_coordinator 127.0.0.1:0
port=${address##*:}
sweep_id=$(SCALELAW_TOKEN_FILE=$dir/token "$scalelaw" sweep submit "$fixtures/fault_sweep.yaml" -c "$address")
[ -n "$sweep_id" ] || fail "no sweep id"
start_worker 1
start_worker 2

streaming() { [ "$(points)" -gt "${1:-0}" ]; }
attempts() { sql 'select count(*) from attempts'; }
succeeded() { sql 'select count(*) from trials where state = 4'; }
more_attempts() { [ "$(attempts)" -gt "$1" ]; }
more_succeeded() { [ "$(succeeded)" -gt "$1" ]; }

# 1: while both metric streams run.
wait_until "metric points" streaming 20 && kill_and_restart "during the metric streams"
# An online backup while the coordinator writes is a whole, checked store.
"$scalelaw" coordinator backup --db "$dir/state.db" --out "$dir/backup.db" > "$dir/backup.out" ||
  fail "backup: $(cat "$dir/backup.out")"
[ "$(/usr/bin/python3 -c 'import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); print(d.execute("pragma integrity_check").fetchone()[0], d.execute("select count(*) from trials").fetchone()[0])' "$dir/backup.db")" = "ok 6" ] ||
  fail "the backup is not a whole store"
[ "$(stat -c %a "$dir/backup.db")" = 600 ] || fail "the backup is readable by others"
if "$scalelaw" coordinator backup --db "$dir/state.db" --out "$dir/backup.db" 2> "$dir/backup.err"; then
  fail "a backup overwrote a file"
fi
grep -q -- "--out: .* exists" "$dir/backup.err" || fail "unexpected refusal: $(cat "$dir/backup.err")"
# 2: right after a trial completed (its worker is between CompleteTrial and
# its next LeaseTrial, or still waiting for the answer).
n=$(succeeded); wait_until "a completion" more_succeeded "$n" && kill_and_restart "right after a completion"
# 3: right after a lease was granted.
n=$(attempts); wait_until "a lease" more_attempts "$n" && kill_and_restart "right after a lease"
# 4: a worker dies too; both come back.
if ! all_ended; then
  kill -9 "${worker_pids[1]}"; wait "${worker_pids[1]}" 2>/dev/null || true
  sleep 0.2
  kill_and_restart "while worker 1 is dead"
  start_worker 1
fi
# 5 and on: at random moments until the sweep ends (at least two more).
while ! all_ended; do
  sleep "$(( RANDOM % 30 + 5 ))e-1"
  all_ended && break
  kill_and_restart "at a random moment"
done
[ "${#kills[@]}" -ge 5 ] || fail "the sweep ended after only ${#kills[@]} kills; make its trials longer"

# Workers exit once the coordinator has no more work.
for i in "${!worker_pids[@]}"; do
  pid=${worker_pids[$i]}
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "worker $i did not exit"
    sleep 0.1
  done
  wait "$pid" || fail "worker $i exited with an error"
done
worker_pids=()

[ "$(sql 'select group_concat(state) from trials')" = "4,4,4,4,4,4" ] ||
  fail "not every trial SUCCEEDED: $(sql 'select trial_id, state, reason from trials')"
[ "$(sql "select count(*) from attempts where outcome = 'succeeded'")" = 6 ] ||
  fail "succeeded attempts: $(sql 'select trial_id, attempt, outcome from attempts')"
[ "$(sql "select count(*) from (select trial_id from attempts where outcome = 'succeeded' group by trial_id having count(*) = 1)")" = 6 ] ||
  fail "a trial succeeded more than once"
[ "$(stat -c %a "$dir/state.db")" = 600 ] || fail "the store is readable by others"
# The succeeded attempt's curve is whole: seq 1..n and an evaluation last.
bad=$(sql "select t.trial_id, count(m.seq), min(m.seq), max(m.seq)
           from trials t join metric_points m on m.trial_id = t.trial_id and m.attempt = t.attempt
           group by t.trial_id having min(m.seq) != 1 or max(m.seq) != count(m.seq)")
[ -z "$bad" ] || fail "curves with gaps: $bad"
bad=$(sql "select t.trial_id from trials t where
           (select m.val_loss from metric_points m where m.trial_id = t.trial_id and m.attempt = t.attempt
            order by m.seq desc limit 1) is null")
[ -z "$bad" ] || fail "curves that do not end with an evaluation: $bad"
[ "$(sql 'pragma integrity_check')" = ok ] || fail "integrity_check: $(sql 'pragma integrity_check')"
if grep -l "completing the trial anyway" "$dir"/worker-*.log; then fail "a worker completed with points unacknowledged"; fi

echo "seed $seed: ${#kills[@]} coordinator kills, $(sql 'select count(*) from attempts') attempts, $(points) points"
echo "restart to first new point (ms): ${restart_times[*]}"
echo "ok"
