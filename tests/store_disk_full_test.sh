#!/usr/bin/env bash
# A full disk under a running coordinator (issue 20). The store lives on a
# 32 MiB tmpfs the test mounts (root only: exit 77, skipped, otherwise); less
# would not hold SQLite's WAL, which grows to ~4 MiB (1,000 pages) before each
# checkpoint, and then no checkpoint could ever run. Mid-sweep the rest of
# that filesystem is filled: the coordinator keeps running and serving reads, refuses new writes with a clear error (a submit names
# the full disk), loses nothing it had stored, and once the space is freed the
# worker's retried points and completions go through: every trial SUCCEEDED,
# each with a whole curve, and the store passes integrity_check.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
scalelaw=$1
fixtures=$2
dir=$(mktemp -d)
small=$dir/small
coordinator_pid=
worker_pid=
cleanup() {
  kill_all "$coordinator_pid" "$worker_pid"
  mountpoint -q "$small" && umount "$small"
  rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$small"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=32m,mode=0700 tmpfs "$small" 2>/dev/null; then
  echo "SKIP: cannot mount a small tmpfs (needs root)"
  exit 77
fi
deadline=$((SECONDS + 240))
fail() { echo "FAIL: $*"; tail -n 20 "$dir"/*.log 2>/dev/null || true; exit 1; }
sql() {
  /usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=10)
print("\n".join("|".join(map(str, r)) for r in db.execute(sys.argv[2])))' "$small/state.db" "$1"
}
points() { sql 'select count(*) from metric_points'; }

"$scalelaw" coordinator --listen 127.0.0.1:0 --metrics-listen "" --db "$small/state.db" \
  --lease-timeout-s 30 2> "$dir/coordinator.log" &
coordinator_pid=$!
address=$(coordinator_address "$dir/coordinator.log") || address=
[ -n "$address" ] || fail "coordinator did not start"
sweep_id=$("$scalelaw" sweep submit "$fixtures/fault_sweep.yaml" -c "$address")
"$scalelaw" worker --coordinator "$address" --sweep "$sweep_id" --exit-when-idle \
  --checkpoint-dir "$dir/checkpoints" --connect-timeout-s 120 > "$dir/worker.log" 2>&1 &
worker_pid=$!
while [ "$(points)" -lt 30 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "no points"
  sleep 0.05
done

# Fill the disk.
dd if=/dev/zero of="$small/fill" bs=4k 2> /dev/null || true
stored=$(points)
echo "disk full with $stored points stored ($(df --output=avail -k "$small" | tail -1) KiB left)"
sleep 3
kill -0 "$coordinator_pid" 2>/dev/null || fail "the coordinator died on a full disk"
if "$scalelaw" sweep submit "$fixtures/fault_sweep.yaml" -c "$address" 2> "$dir/submit.err"; then
  fail "a sweep was submitted to a full disk"
fi
grep -q "disk is full" "$dir/submit.err" || fail "unclear refusal: $(cat "$dir/submit.err")"
"$scalelaw" sweep status "$sweep_id" -c "$address" > /dev/null || fail "reads stopped on a full disk"
now=$(points)
[ "$now" -ge "$stored" ] || fail "stored points were lost: $stored before, $now now"
sleep 2
[ "$(points)" = "$now" ] || fail "points were stored on a full disk?"
grep -q "disk is full" "$dir/coordinator.log" "$dir/worker.log" ||
  fail "neither log says the disk is full"

# Space returns: the sweep finishes without a restart.
rm -f "$small/fill"
while kill -0 "$worker_pid" 2>/dev/null; do
  [ "$SECONDS" -lt "$deadline" ] || fail "the sweep did not finish after space returned"
  sleep 0.2
done
wait "$worker_pid" || fail "the worker exited with an error"
worker_pid=
[ "$(sql 'select group_concat(state) from trials')" = "4,4,4,4,4,4" ] ||
  fail "not every trial SUCCEEDED: $(sql 'select trial_id, state, reason from trials')"
bad=$(sql "select t.trial_id from trials t join metric_points m on m.trial_id = t.trial_id and m.attempt = t.attempt
           group by t.trial_id having min(m.seq) != 1 or max(m.seq) != count(m.seq)")
[ -z "$bad" ] || fail "curves with gaps: $bad"
[ "$(sql 'pragma integrity_check')" = ok ] || fail "integrity_check failed"
echo "ok: $(points) points, $(sql 'select count(*) from attempts') attempts"
