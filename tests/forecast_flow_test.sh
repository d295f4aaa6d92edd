#!/usr/bin/env bash
# Pre-registered forecasts through the real binaries (issue 14): a real
# coordinator on 127.0.0.1 and two real workers run a sweep with one forecast
# target. The coordinator is SIGKILLed as soon as the forecast is stored and
# restarted on the same store. From the store afterwards:
#   - the forecast was stored after every ladder trial ended and before the
#     target's first lease, and the restart changed nothing of it;
#   - SQL cannot rewrite or delete it;
#   - `sweep forecast --json` reports the error |predicted - actual| / actual
#     recomputed from the stored prediction and the target's stored points;
#   - a target inside the ladder's range is refused at submit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
scalelaw=$1
fixtures=$2
dir=$(mktemp -d)
coordinator_pid=
worker_pids=()
cleanup() {
  kill_all "$coordinator_pid" "${worker_pids[@]}"
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -n 30 "$dir"/*.log 2>/dev/null || true; exit 1; }
sql() { /usr/bin/python3 -c 'import sqlite3,sys; print("\n".join("|".join(map(str, r)) for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])))' "$dir/state.db" "$1"; }

start_coordinator() {  # start_coordinator LISTEN LOG
  "$scalelaw" coordinator --listen "$1" --metrics-listen "" --db "$dir/state.db" \
    --lease-timeout-s 20 2> "$2" &
  coordinator_pid=$!
  address=$(coordinator_address "$2") && return 0
  fail "coordinator did not start: $(cat "$2")"
}

start_coordinator 127.0.0.1:0 "$dir/coordinator-1.log"
port=${address##*:}

# A target inside the ladder's range is refused, naming the field.
sed 's/d_model: 96, n_head: 3}, tokens: 163840/d_model: 48, n_head: 1}, tokens: 81920/' \
  "$fixtures/forecast_sweep.yaml" > "$dir/inside.yaml"
if "$scalelaw" sweep submit "$dir/inside.yaml" -c "$address" 2> "$dir/inside.err"; then
  fail "a target inside the ladder was accepted"
fi
grep -q "forecast.targets\[0\]: its compute .* is inside the ladder's range" "$dir/inside.err" ||
  fail "unexpected refusal: $(cat "$dir/inside.err")"

sweep_id=$("$scalelaw" sweep submit "$fixtures/forecast_sweep.yaml" -c "$address")
[ -n "$sweep_id" ] || fail "no sweep id"
for i in 1 2; do
  "$scalelaw" worker --coordinator "$address" --sweep "$sweep_id" --exit-when-idle \
    --checkpoint-dir "$dir/checkpoints" --connect-timeout-s 60 > "$dir/worker-$i.log" 2>&1 &
  worker_pids+=($!)
done

# SIGKILL the coordinator the moment the forecast is in the store.
for _ in $(seq 1200); do
  [ "$(sql 'select count(*) from forecasts')" = 1 ] && break
  sleep 0.1
done
[ "$(sql 'select count(*) from forecasts')" = 1 ] || fail "no forecast was stored"
kill -9 "$coordinator_pid"
wait "$coordinator_pid" 2>/dev/null || true
before=$(sql 'select target, trial_id, fitted_ms, hex(forecast) from forecasts')
target_state=$(sql "select state from trials where forecast_target != ''")
echo "coordinator killed with the target in state $target_state"
start_coordinator "127.0.0.1:$port" "$dir/coordinator-2.log"

for pid in "${worker_pids[@]}"; do
  wait "$pid" || fail "a worker exited with an error"
done
worker_pids=()

# Nothing acknowledged was lost, and the forecast is what it was.
[ "$(sql 'select group_concat(state) from trials')" = "4,4,4,4,4,4,4,4,4,4" ] ||
  fail "not every trial SUCCEEDED: $(sql 'select trial_id, state from trials')"
[ "$(sql 'select target, trial_id, fitted_ms, hex(forecast) from forecasts')" = "$before" ] ||
  fail "the forecast changed across the restart"

# Stored after the ladder ended, before the target's first lease.
fitted=$(sql 'select fitted_ms from forecasts')
ladder_end=$(sql "select max(a.end_ms) from attempts a join trials t using (trial_id) where t.forecast_target = ''")
first_lease=$(sql "select min(a.start_ms) from attempts a join trials t using (trial_id) where t.forecast_target != ''")
[ "$ladder_end" -le "$fitted" ] || fail "forecast at $fitted before the ladder ended at $ladder_end"
[ "$fitted" -lt "$first_lease" ] || fail "forecast at $fitted not before the target's first lease $first_lease"

# SQL cannot rewrite or delete it.
if sql "update forecasts set fitted_ms = 0" 2> "$dir/update.err"; then fail "UPDATE was allowed"; fi
grep -q "never rewritten" "$dir/update.err" || fail "UPDATE refused for another reason: $(cat "$dir/update.err")"
if sql "delete from forecasts" 2> /dev/null; then fail "DELETE was allowed"; fi

# The reported error, recomputed from the stored values.
"$scalelaw" sweep forecast "$sweep_id" --db "$dir/state.db" --json > "$dir/forecast.json"
actual=$(sql "select m.val_loss from metric_points m join trials t on t.trial_id = m.trial_id and t.attempt = m.attempt where t.forecast_target != '' and m.val_loss is not null order by m.seq desc limit 1")
/usr/bin/python3 - "$dir/forecast.json" "$actual" "$fitted" "$first_lease" <<'PY' || fail "forecast JSON"
import datetime, json, math, sys
report = json.load(open(sys.argv[1]))
actual, fitted_ms, lease_ms = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
[f] = report["forecasts"]
assert f["target"] == "big", f
assert f["actual_loss"] == actual, (f["actual_loss"], actual)
assert math.isclose(abs(f["rel_error"]), abs(f["predicted_loss"] - actual) / actual, rel_tol=1e-12), f
assert math.isclose(f["rel_error"], (f["predicted_loss"] - actual) / actual, rel_tol=1e-12), f
lo, hi = f["interval"]
assert 0 < lo < f["predicted_loss"] < hi, f
plo, phi = f["parameter_interval"]
assert lo <= plo and phi <= hi, ("the prediction interval holds the parameter interval", f)
assert f["inside"] == (lo <= actual <= hi), f
def ms(text):
    return int(datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)
assert ms(f["fitted_at"]) == fitted_ms and ms(f["first_target_lease_at"]) == lease_ms, f
assert f["fit"]["n_points"] == 6 and len(f["fit"]["point_ids"]) == 6, f["fit"]
assert "big" not in " ".join(f["fit"]["point_ids"]), "the target was fitted"
print("forecast", f["predicted_loss"], f["interval"], "actual", actual, "error", f["rel_error"])
PY

# The same through the restarted coordinator.
"$scalelaw" sweep forecast "$sweep_id" -c "$address" --json > "$dir/forecast-rpc.json"
cmp -s "$dir/forecast.json" "$dir/forecast-rpc.json" || fail "the coordinator and the store disagree"
"$scalelaw" sweep status "$sweep_id" -c "$address" | grep -q "^big " || fail "status shows no forecast"
echo "ok"
