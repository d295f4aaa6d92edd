#!/usr/bin/env bash
# The cluster-facing flow through the real binaries, on 127.0.0.1 only:
#   - a coordinator that requires a token refuses calls without it;
#   - a `kind: kubernetes` sweep, with no kubectl, gets its Indexed Job
#     manifest written and `sweep submit` says how to apply it;
#   - the manifest's own worker command (token from the environment, as the
#     Secret gives it) runs the trials; cancelled mid-run, `sweep resume`
#     requeues them and writes a Job of its own, whose workers finish every
#     trial once; a worker with a wrong token or an unknown sweep exits 3, the
#     code the Job's podFailurePolicy fails on;
#   - `sweep status` shows compute and jobs; `sweep export` through the
#     coordinator equals the export from the store file.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
scalelaw=$1
fixtures=$2
dir=$(mktemp -d)
coordinator_pid=
cleanup() {
  if [ -n "$coordinator_pid" ]; then kill "$coordinator_pid" 2>/dev/null || true; wait "$coordinator_pid" 2>/dev/null || true; fi
  if [ -n "${KEEP_DIR:-}" ]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A token file must be its owner's only: the coordinator refuses one others
# can read (checked below).
(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/token")
"$scalelaw" coordinator --listen 127.0.0.1:0 --metrics-listen "" --db "$dir/state.db" \
  --jobs-dir "$dir/jobs" --token-file "$dir/token" --kubectl "$dir/no-kubectl" \
  --lease-timeout-s 20 2> "$dir/coordinator.log" &
coordinator_pid=$!
address=$(coordinator_address "$dir/coordinator.log") || address=
[ -n "$address" ] || fail "coordinator did not start: $(cat "$dir/coordinator.log")"
grep -q "token required" "$dir/coordinator.log" || fail "coordinator does not say it wants a token"

# No token: refused, with a message that says what to do.
if "$scalelaw" sweep list -c "$address" 2> "$dir/err"; then fail "sweep list without a token succeeded"; fi
grep -q "requires a token" "$dir/err" || fail "unhelpful refusal: $(cat "$dir/err")"
# A token file others can read is refused before any call, naming the fix.
cp "$dir/token" "$dir/open-token" && chmod 644 "$dir/open-token"
if "$scalelaw" sweep list -c "$address" --token-file "$dir/open-token" 2> "$dir/err"; then
  fail "sweep list with a world-readable token file succeeded"
fi
grep -q "chmod 600 $dir/open-token" "$dir/err" || fail "no chmod hint: $(cat "$dir/err")"

sweep() { "$scalelaw" sweep --coordinator "$address" --token-file "$dir/token" "$@"; }
sweep_id=$(sweep submit "$fixtures/k8s_sweep.yaml" 2> "$dir/submit.err")
manifest="$dir/jobs/kubernetes/$sweep_id/job.yaml"
test -s "$manifest" || fail "no manifest at $manifest"
grep -qF "kubectl apply -f $manifest" "$dir/submit.err" || fail "submit did not say how to apply: $(cat "$dir/submit.err")"

# The manifest's worker command, as a pod would run it.
worker_command() {  # worker_command MANIFEST: the container's command, our binary first
  /usr/bin/python3 - "$1" "$scalelaw" <<'PY'
import shlex, sys, yaml
job = yaml.safe_load(open(sys.argv[1]))
spec = job["spec"]
assert spec["completionMode"] == "Indexed" and spec["completions"] == 2 and spec["parallelism"] == 2, spec
pod = spec["template"]["spec"]
c = pod["containers"][0]
assert c["image"] == "registry.example.org/scalelaw:test", c["image"]
assert c["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "scalelaw-token", "key": "token"}, c["env"]
assert c["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}, c["resources"]
rules = spec["podFailurePolicy"]["rules"]
assert rules[0]["action"] == "FailJob" and 3 in rules[0]["onExitCodes"]["values"], rules
command = c["command"]
assert command[0] == "scalelaw" and "--coordinator" in command, command
command[0] = sys.argv[2]
print(shlex.join(command))
PY
}
start_workers() {  # start_workers MANIFEST TAG: two pods' worth, token from the environment
  read -r -a worker < <(worker_command "$1")
  pids=()
  for i in 0 1; do
    SCALELAW_TOKEN=$(cat "$dir/token") "${worker[@]}" > "$dir/worker-$2-$i.log" 2>&1 &
    pids+=($!)
  done
}
trial_states() { /usr/bin/python3 -c 'import sqlite3,sys; print(" ".join(str(r[0]) for r in sqlite3.connect(sys.argv[1]).execute("select state from trials order by idx")))' "$dir/state.db"; }

# A worker with the wrong token, or for a sweep that does not exist, cannot
# work: exit 3 (FailJob), at once.
read -r -a worker < <(worker_command "$manifest")
status=0
SCALELAW_TOKEN=wrong timeout 30 "${worker[@]}" > "$dir/wrong.log" 2>&1 || status=$?
[ "$status" -eq 3 ] || fail "a worker with a wrong token exited $status, not 3: $(tail -3 "$dir/wrong.log")"
status=0
SCALELAW_TOKEN=$(cat "$dir/token") timeout 30 "$scalelaw" worker --coordinator "$address" \
  --sweep no-such-sweep --exit-when-idle > "$dir/unknown.log" 2>&1 || status=$?
[ "$status" -eq 3 ] || fail "a worker for an unknown sweep exited $status, not 3: $(tail -3 "$dir/unknown.log")"

# First attempts: cancel the sweep while both trials run.
start_workers "$manifest" a
for _ in $(seq 200); do [ "$(trial_states)" = "3 3" ] && break; sleep 0.1; done
[ "$(trial_states)" = "3 3" ] || fail "trials not both RUNNING: $(trial_states)"
sweep cancel "$sweep_id" | grep -q "cancelled 2 trials" || fail "cancel"
for pid in "${pids[@]}"; do wait "$pid" || fail "a cancelled worker exited $?"; done
sweep status "$sweep_id" > "$dir/status"; grep -q "CANCELLED" "$dir/status" || fail "not cancelled: $(cat "$dir/status")"

# Resume: both trials requeued, and a Job of its own for the new workers.
sweep resume "$sweep_id" > "$dir/resume"
relaunch="$dir/jobs/kubernetes/$sweep_id/job-r1.yaml"
grep -q "requeued 2 trials" "$dir/resume" || fail "resume: $(cat "$dir/resume")"
grep -qF "kubernetes manifest:$relaunch" "$dir/resume" || fail "resume did not re-launch: $(cat "$dir/resume")"
grep -q "name: scalelaw-$sweep_id-r1" "$relaunch" || fail "the relaunch reuses the first Job's name"

start_workers "$relaunch" b
saw_eta=0
for _ in $(seq 600); do
  sweep status "$sweep_id" > "$dir/status" || true
  grep -q "ETA" "$dir/status" && saw_eta=1
  grep -q "DONE" "$dir/status" && break
  sleep 0.2
done
for pid in "${pids[@]}"; do wait "$pid" || fail "a worker exited $?: $(tail -5 "$dir"/worker-b-*.log)"; done
grep -q "DONE" "$dir/status" || fail "sweep not done: $(cat "$dir/status")"
grep -q "SUCCEEDED 2" "$dir/status" || fail "not every trial succeeded: $(cat "$dir/status")"
grep -q "compute .* FLOPs" "$dir/status" || fail "no compute line: $(cat "$dir/status")"
grep -qF "jobs: kubernetes manifest:$manifest, kubernetes manifest:$relaunch" "$dir/status" ||
  fail "no jobs line: $(cat "$dir/status")"
[ "$saw_eta" = 1 ] || fail "sweep status never showed an ETA while the trials ran"

# Every trial ended once: its cancelled first attempt, then one succeeded
# attempt that the resume did not count against max_attempts.
/usr/bin/python3 - "$dir/state.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("select trial_id, state, attempt, resumed_after_attempt from trials").fetchall()
assert len(rows) == 2 and all(state == 4 for _, state, _, _ in rows), rows
for trial_id, _, attempt, resumed_after in rows:
    outcomes = [o for (o,) in db.execute("select outcome from attempts where trial_id = ? order by attempt", (trial_id,))]
    assert outcomes == ["cancelled", "succeeded"], (trial_id, outcomes)
    assert (attempt, resumed_after) == (2, 1), (trial_id, attempt, resumed_after)
print("store: every trial cancelled once, resumed, and succeeded once")
PY

sweep export "$sweep_id" --format csv > "$dir/via-coordinator.csv"
"$scalelaw" sweep export "$sweep_id" --db "$dir/state.db" --format csv > "$dir/via-db.csv"
[ "$(wc -l < "$dir/via-db.csv")" -gt 2 ] || fail "export has no rows"
cmp -s "$dir/via-coordinator.csv" "$dir/via-db.csv" || fail "export via coordinator differs from --db"
if sweep export "$sweep_id" --db "$dir/state.db" > /dev/null 2> "$dir/both.err"; then
  fail "export with both --db and --coordinator was accepted"
fi
grep -q "give one, not both" "$dir/both.err" || fail "unclear refusal: $(cat "$dir/both.err")"
echo "cluster_flow: ok"
