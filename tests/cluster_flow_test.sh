#!/usr/bin/env bash
# The cluster-facing flow through the real binaries, on 127.0.0.1 only:
#   - a coordinator that requires a token refuses calls without it;
#   - a `kind: kubernetes` sweep, with no kubectl, gets its Indexed Job
#     manifest written and `sweep submit` says how to apply it;
#   - cancel, then `sweep resume` requeues every trial and re-launches;
#   - the manifest's own worker command (token from the environment, as the
#     Secret gives it) trains the sweep to the end, every trial once; a worker
#     with a wrong token exits 3, the code the Job's podFailurePolicy fails on;
#   - `sweep status` shows compute and jobs; `sweep export` through the
#     coordinator equals the export from the store file.
set -euo pipefail
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

head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/token"
"$scalelaw" coordinator --listen 127.0.0.1:0 --metrics-listen "" --db "$dir/state.db" \
  --jobs-dir "$dir/jobs" --token-file "$dir/token" --kubectl "$dir/no-kubectl" \
  --lease-timeout-s 20 2> "$dir/coordinator.log" &
coordinator_pid=$!
for _ in $(seq 100); do
  address=$(sed -n 's/^coordinator listening on \([0-9.:]*\) .*/\1/p' "$dir/coordinator.log")
  [ -n "$address" ] && break
  sleep 0.1
done
[ -n "$address" ] || fail "coordinator did not start: $(cat "$dir/coordinator.log")"
grep -q "token required" "$dir/coordinator.log" || fail "coordinator does not say it wants a token"

# No token: refused, with a message that says what to do.
if "$scalelaw" sweep list -c "$address" 2> "$dir/err"; then fail "sweep list without a token succeeded"; fi
grep -q "requires a token" "$dir/err" || fail "unhelpful refusal: $(cat "$dir/err")"

sweep() { "$scalelaw" sweep --coordinator "$address" --token-file "$dir/token" "$@"; }
sweep_id=$(sweep submit "$fixtures/k8s_sweep.yaml" 2> "$dir/submit.err")
manifest="$dir/jobs/kubernetes/$sweep_id/job.yaml"
test -s "$manifest" || fail "no manifest at $manifest"
grep -qF "kubectl apply -f $manifest" "$dir/submit.err" || fail "submit did not say how to apply: $(cat "$dir/submit.err")"

sweep cancel "$sweep_id" | grep -q "cancelled 2 trials" || fail "cancel"
sweep status "$sweep_id" > "$dir/status" ; grep -q "CANCELLED" "$dir/status" || fail "not cancelled: $(cat "$dir/status")"
sweep resume "$sweep_id" > "$dir/resume"
grep -q "requeued 2 trials" "$dir/resume" || fail "resume: $(cat "$dir/resume")"
grep -qF "kubernetes manifest:$manifest" "$dir/resume" || fail "resume did not re-launch: $(cat "$dir/resume")"

# The manifest's worker command, as a pod would run it.
/usr/bin/python3 - "$manifest" "$scalelaw" "$address" > "$dir/command" <<'PY'
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
read -r -a worker < "$dir/command"

# A worker with the wrong token cannot work: exit 3 (FailJob), at once.
status=0
SCALELAW_TOKEN=wrong "${worker[@]}" > "$dir/wrong.log" 2>&1 || status=$?
[ "$status" -eq 3 ] || fail "a worker with a wrong token exited $status, not 3: $(tail -3 "$dir/wrong.log")"

# Two pods' worth of workers, the token from the environment as the Secret gives it.
pids=()
for i in 0 1; do
  SCALELAW_TOKEN=$(cat "$dir/token") "${worker[@]}" > "$dir/worker-$i.log" 2>&1 &
  pids+=($!)
done
saw_eta=0
for _ in $(seq 300); do
  sweep status "$sweep_id" > "$dir/status" || true
  grep -q "ETA" "$dir/status" && saw_eta=1
  grep -q "DONE" "$dir/status" && break
  sleep 0.5
done
for pid in "${pids[@]}"; do wait "$pid" || fail "a worker exited $?: $(tail -5 "$dir"/worker-*.log)"; done
grep -q "DONE" "$dir/status" || fail "sweep not done: $(cat "$dir/status")"
grep -q "SUCCEEDED 2" "$dir/status" || fail "not every trial succeeded: $(cat "$dir/status")"
grep -q "compute .* FLOPs" "$dir/status" || fail "no compute line: $(cat "$dir/status")"
grep -qF "jobs: kubernetes manifest:$manifest" "$dir/status" || fail "no jobs line: $(cat "$dir/status")"
echo "ETA seen while running: $saw_eta"

# Every trial ended once: one succeeded attempt each, after the cancelled first ones.
/usr/bin/python3 - "$dir/state.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("select trial_id, state, resumed_after_attempt from trials").fetchall()
assert len(rows) == 2 and all(state == 4 for _, state, _ in rows), rows
for trial_id, _, _ in rows:
    outcomes = [o for (o,) in db.execute("select outcome from attempts where trial_id = ? order by attempt", (trial_id,))]
    assert outcomes.count("succeeded") == 1, (trial_id, outcomes)
print("store: every trial succeeded once")
PY

sweep export "$sweep_id" --format csv > "$dir/via-coordinator.csv"
"$scalelaw" sweep export "$sweep_id" --db "$dir/state.db" --format csv > "$dir/via-db.csv"
[ "$(wc -l < "$dir/via-db.csv")" -gt 2 ] || fail "export has no rows"
cmp -s "$dir/via-coordinator.csv" "$dir/via-db.csv" || fail "export via coordinator differs from --db"
echo "cluster_flow: ok"
