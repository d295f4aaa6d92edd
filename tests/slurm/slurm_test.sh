#!/usr/bin/env bash
# A real single-node Slurm cluster on localhost (Debian's munge, slurmctld,
# slurmd; configuration written here, state under a temporary directory) and a
# real `scalelaw coordinator` that launches sweeps' workers with the Slurm
# launcher:
#
#   1. a small sweep (launcher.kind slurm, 2 workers): every trial SUCCEEDED
#      with exactly one succeeded attempt, and the array job leaves squeue on
#      its own once the sweep is done;
#   2. a long sweep cancelled mid-run with `scalelaw sweep cancel`: its jobs
#      are gone from squeue and stay gone (no self-requeue), every trial
#      CANCELLED;
#   3. preemption: the running array task gets the configured signal through
#      its batch shell (`scancel --batch --signal=TERM`, what --signal=B:TERM
#      does before a time limit); the worker checkpoints, gives its trial back
#      ("preempted"), exits 75 and the task requeues itself; the trial resumes
#      from its checkpoint ("resuming at step") and ends SUCCEEDED once.
#
#   slurm_test.sh SCALELAW_BINARY SCALELAW_WORKER_BINARY
#
# Installs slurm-wlm and munge when missing (apt-get, as root or with sudo).
# Exits 77 (skipped) only when it can get neither root nor the packages.
# Every wait is bounded; a trap stops the coordinator, the jobs and the
# daemons whatever happens.
set -euo pipefail

scalelaw=$(readlink -f "$1")
worker_binary=$(readlink -f "$2")
python=/usr/bin/python3
test_start=$SECONDS

log() { printf '[slurm_test %4ds] %s\n' $((SECONDS - test_start)) "$*" >&2; }
fail() {
  log "FAIL: $*"
  exit 1
}

# --- root and packages --------------------------------------------------------
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then
    sudo_cmd=(sudo -n)
  else
    log "SKIP: needs root or passwordless sudo to run munged, slurmctld and slurmd"
    exit 77
  fi
fi
missing=()
for package in slurm-wlm munge; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt_log=$(mktemp)
  if ! { "${sudo_cmd[@]}" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
      --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
    tail -20 "$apt_log"
    rm -f "$apt_log"
    log "SKIP: cannot install ${missing[*]} with apt-get"
    exit 77
  fi
  rm -f "$apt_log"
  log "installed"
fi
for tool in munged slurmctld slurmd sbatch squeue scancel scontrol sinfo; do
  command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin:/sbin
  command -v "$tool" >/dev/null || fail "$tool not found after installing slurm-wlm and munge"
done

# --- a private cluster --------------------------------------------------------
work=$(mktemp -d /tmp/scalelaw-slurm-XXXXXX)
chmod 755 "$work"  # munged wants every directory above its socket searchable
mkdir -p "$work/munge" "$work/state" "$work/spool" "$work/log" "$work/jobs" "$work/ckpt"
chmod 755 "$work/munge"
host=$(hostname -s)
free_ports=$("$python" - <<'PY'
import socket
sockets = [socket.socket() for _ in range(3)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))
PY
)
read -r ctld_port slurmd_port coordinator_port <<<"$free_ports"
coordinator_address=127.0.0.1:$coordinator_port
export SLURM_CONF=$work/slurm.conf
coordinator_pid=

print_logs() {
  for file in "$work/coordinator.log" "$work/log/slurmctld.log" "$work/log/slurmd.log"; do
    [ -f "$file" ] && { echo "--- tail $file"; tail -25 "$file"; }
  done
  find "$work/jobs" -name '*.log' 2>/dev/null | sort | while read -r file; do
    echo "--- tail $file"
    tail -15 "$file"
  done
}

stop_pid_file() {  # stop_pid_file FILE: TERM the daemon named in FILE, KILL after 10 s
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  "${sudo_cmd[@]}" kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    "${sudo_cmd[@]}" kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  "${sudo_cmd[@]}" kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  set +e
  if [ "$status" -ne 0 ]; then print_logs; fi
  log "cleaning up"
  if [ -n "$coordinator_pid" ]; then
    kill -TERM "$coordinator_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$coordinator_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$coordinator_pid" 2>/dev/null
  fi
  if [ -f "$work/slurmctld.pid" ]; then
    # Jobs first, so that no worker outlives the cluster.
    jobs=$(squeue -h -o %F 2>/dev/null | sort -u)  # array job ids: all their tasks
    [ -n "$jobs" ] && scancel $jobs 2>/dev/null
    for _ in $(seq 60); do [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.5; done
  fi
  log "jobs gone; stopping the daemons"
  stop_pid_file "$work/slurmd.pid"
  stop_pid_file "$work/slurmctld.pid"
  stop_pid_file "$work/munge/munged.pid"
  if [ -n "${SCALELAW_SLURM_TEST_KEEP:-}" ]; then
    log "daemons stopped, $work kept (exit $status)"
  else
    "${sudo_cmd[@]}" rm -rf "$work"
    log "daemons stopped, $work removed (exit $status)"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

cat >"$SLURM_CONF" <<EOF
# A one-node cluster on localhost for scalelaw's tests (tests/slurm/slurm_test.sh).
ClusterName=scalelawtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/munge.socket
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmdSpoolDir=$work/spool
StateSaveLocation=$work/state
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobCompType=jobcomp/filetxt
JobCompLoc=$work/log/jobcomp.txt
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SlurmdParameters=config_overrides
KillWait=10
MinJobAge=300
InactiveLimit=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

if command -v mungekey >/dev/null; then
  mungekey --create --keyfile="$work/munge/munge.key"
else
  dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
fi
chmod 0400 "$work/munge/munge.key"
if [ ${#sudo_cmd[@]} -gt 0 ]; then "${sudo_cmd[@]}" chown -R root:root "$work/munge"; fi
"${sudo_cmd[@]}" munged --socket="$work/munge/munge.socket" --key-file="$work/munge/munge.key" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" \
  --seed-file="$work/munge/munged.seed"
"${sudo_cmd[@]}" env SLURM_CONF="$SLURM_CONF" slurmctld -i -f "$SLURM_CONF"
"${sudo_cmd[@]}" env SLURM_CONF="$SLURM_CONF" slurmd -N "$host" -f "$SLURM_CONF"
for _ in $(seq 60); do
  [ "$(sinfo -h -N -o %T 2>/dev/null)" = idle ] && break
  sleep 0.5
done
[ "$(sinfo -h -N -o %T 2>/dev/null)" = idle ] || fail "node $host not idle in sinfo: $(sinfo 2>&1)"
log "Slurm up: node $host idle (slurmctld :$ctld_port, slurmd :$slurmd_port)"

# --- the coordinator ----------------------------------------------------------
# Launched workers run `$scalelaw worker`, which starts this worker binary.
export SCALELAW_WORKER=$worker_binary
"$scalelaw" coordinator --listen "$coordinator_address" --db "$work/state.db" \
  --metrics-listen "" --jobs-dir "$work/jobs" --lease-timeout-s 30 --heartbeat-interval-s 2 \
  >"$work/coordinator.log" 2>&1 &
coordinator_pid=$!
for _ in $(seq 100); do
  "$scalelaw" sweep list -c "$coordinator_address" >/dev/null 2>&1 && break
  kill -0 "$coordinator_pid" 2>/dev/null || fail "the coordinator exited"
  sleep 0.2
done
log "coordinator on $coordinator_address"

# --- helpers --------------------------------------------------------------------
corpus=/usr/share/doc/python3.11/html/_sources/howto
[ -d "$corpus" ] || corpus=/usr/share/common-licenses

write_spec() {  # write_spec NAME FILE TOKENS WORKERS CHECKPOINT_EVERY
  cat >"$2" <<EOF
name: $1
context: 32
models:
  - shape: {n_layer: 1, d_model: 32, n_head: 1}
tokens: $3
seeds: [0]
optimizer: {lr: 3.0e-3}
data: {corpus: $corpus, val_fraction: 0.1}
training: {batch_size: 8, micro_batches: 1, threads: 1, eval_points: 2, eval_batches: 2,
           log_every_steps: 10, checkpoint_dir: $work/ckpt, checkpoint_every_steps: $5}
max_attempts: 3
launcher:
  kind: slurm
  workers: $4
  resources: {cpus: 1, time_limit_minutes: 30}
  slurm: {signal: TERM, signal_seconds: 60}
EOF
}

store() {  # store PYTHON-EXPRESSION-ON-db-AND-sweep: prints its value
  "$python" - "$work/state.db" "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=10)
sweep = sys.argv[2]
def trials():
    return db.execute("select trial_id, state from trials where sweep_id = ? order by idx",
                      (sweep,)).fetchall()
def attempts(trial):
    return db.execute("select attempt, outcome, reason from attempts where trial_id = ? "
                      "order by attempt", (trial,)).fetchall()
def jobs():
    return [r[0] for r in db.execute("select job_id from sweep_jobs where sweep_id = ? order by submitted_ms, job_id", (sweep,))]
print(eval(sys.argv[3]))
PY
}

# Seconds waited for `condition` (a command) to hold, or failure after LIMIT.
wait_for() {  # wait_for LIMIT_SECONDS WHAT COMMAND...
  local limit=$1 what=$2 start=$SECONDS
  shift 2
  until "$@"; do
    [ $((SECONDS - start)) -lt "$limit" ] || fail "$what: not within ${limit} s"
    kill -0 "$coordinator_pid" 2>/dev/null || fail "the coordinator exited while waiting: $what"
    sleep 1
  done
  log "$what (after $((SECONDS - start)) s)"
}

submit() {  # submit SPEC: prints the sweep id; fails unless it returns within 20 s
  local start_ns id
  start_ns=$(date +%s%N)
  id=$(timeout 20 "$scalelaw" sweep submit "$1" -c "$coordinator_address") ||
    fail "sweep submit $1 failed (or took over 20 s)"
  log "sweep submit $(basename "$1") -> $id in $((($(date +%s%N) - start_ns) / 1000000)) ms (sbatch included)"
  echo "$id"
}

all_trials_in() { [ "$(store "$1" "all(s == $2 for _, s in trials()) and len(trials()) > 0")" = True ]; }
job_in_squeue() { [ -n "$(squeue -h -n "scalelaw-$1" -o %A 2>/dev/null)" ]; }
job_gone() { ! job_in_squeue "$1"; }
running_task() { squeue -h -n "scalelaw-$1" -t RUNNING -o %A 2>/dev/null | head -1; }
task_running() { [ -n "$(running_task "$1")" ]; }
any_trial_running() { [ "$(store "$1" "any(s == 3 for _, s in trials())")" = True ]; }

# --- 1. a small sweep runs to the end ---------------------------------------------
write_spec slurmok "$work/ok.yaml" "[20480, 40960, 61440]" 2 20
ok=$(submit "$work/ok.yaml")
log "submitted sweep $ok: job $(store "$ok" "jobs()"), squeue: $(squeue -h -n "scalelaw-$ok" -o '%i:%T' | tr '\n' ' ')"
[ "$(store "$ok" "len(jobs())")" = 1 ] || fail "sweep $ok: expected one recorded Slurm job"
job=$(store "$ok" "jobs()[0]")
"$scalelaw" sweep status "$ok" -c "$coordinator_address" | grep "jobs: slurm $job\$" > /dev/null ||
  fail "sweep status does not show Slurm job $job"
job_info=$(scontrol show job "$job")
[[ "$job_info" == *"Requeue=1"* ]] || fail "job $job is not requeueable: $job_info"
log "job $job: $(grep -o 'ArrayTaskId=[^ ]*' <<<"$job_info" | head -1)"
wait_for 360 "sweep $ok: every trial SUCCEEDED" all_trials_in "$ok" 4
[ "$(store "$ok" "all([a[1] for a in attempts(t)].count('succeeded') == 1 for t, _ in trials())")" = True ] ||
  fail "sweep $ok: a trial without exactly one succeeded attempt: $(store "$ok" "[attempts(t) for t, _ in trials()]")"
wait_for 120 "sweep $ok: its array job left squeue on its own" job_gone "$ok"

# --- 2. a long sweep cancelled mid-run --------------------------------------------
write_spec slurmcancel "$work/cancel.yaml" "[5.0e7, 5.0e7, 5.0e7]" 2 200
cancel=$(submit "$work/cancel.yaml")
wait_for 120 "sweep $cancel: a task RUNNING in squeue" task_running "$cancel"
wait_for 120 "sweep $cancel: a trial RUNNING" any_trial_running "$cancel"
start=$SECONDS
"$scalelaw" sweep cancel "$cancel" -c "$coordinator_address" || fail "sweep cancel $cancel failed"
log "sweep cancel $cancel returned after $((SECONDS - start)) s"
wait_for 60 "sweep $cancel: its jobs are gone from squeue" job_gone "$cancel"
all_trials_in "$cancel" 7 || fail "sweep $cancel: not every trial CANCELLED: $(store "$cancel" "trials()")"
sleep 5
job_gone "$cancel" || fail "sweep $cancel: a job came back: $(squeue -h -n "scalelaw-$cancel")"
# The workers saw their sweep cancelled (exit 0, not 75), and no task asked
# to be requeued.
if grep -q "exiting 75\|requeueing job" "$work/jobs/slurm/$cancel/logs/"*.log; then
  fail "sweep $cancel: a cancelled worker asked to be restarted"
fi
grep -q "the sweep has no work left, exiting 0" "$work/jobs/slurm/$cancel/logs/"*.log ||
  fail "sweep $cancel: no worker log says it stopped with nothing left to do"

# `sweep resume` requeues the cancelled trials and submits a new array; cancel
# it again so the test does not train 5e7 tokens.
"$scalelaw" sweep resume "$cancel" -c "$coordinator_address" > "$work/resume.txt" ||
  fail "sweep resume $cancel failed: $(cat "$work/resume.txt")"
grep -q "requeued 3 trials" "$work/resume.txt" || fail "sweep resume: $(cat "$work/resume.txt")"
[ "$(store "$cancel" "len(jobs())")" = 2 ] || fail "sweep $cancel: resume recorded no new Slurm job"
resumed_job=$(store "$cancel" "jobs()[1]")
grep -q "jobs: slurm $resumed_job" "$work/resume.txt" || fail "resume did not print job $resumed_job"
wait_for 120 "sweep $cancel: the resumed array's task RUNNING" task_running "$cancel"
wait_for 120 "sweep $cancel: a resumed trial RUNNING" any_trial_running "$cancel"
"$scalelaw" sweep cancel "$cancel" -c "$coordinator_address" > /dev/null || fail "second cancel failed"
wait_for 60 "sweep $cancel: the resumed jobs are gone from squeue" job_gone "$cancel"
log "sweep $cancel resumed as job $resumed_job, then cancelled again"

# --- 3. preemption: signal, checkpoint, requeue, resume -------------------------
write_spec slurmpreempt "$work/preempt.yaml" "[3.0e6, 20480]" 1 25
preempt=$(submit "$work/preempt.yaml")
first=$(store "$preempt" "trials()[0][0]")
has_checkpoint() { compgen -G "$work/ckpt/$first/step-*.ckpt" >/dev/null; }
wait_for 120 "sweep $preempt: trial $first RUNNING" any_trial_running "$preempt"
wait_for 120 "trial $first: a checkpoint on disk" has_checkpoint
task=$(running_task "$preempt")
[ -n "$task" ] || fail "sweep $preempt: no running task to preempt"
log "signalling job $task's batch shell with TERM (as --signal=B:TERM@60 would)"
scancel --batch --signal=TERM "$task"
preempted() { [[ "$(store "$preempt" "attempts('$first')")" == *"'preempted', 'preempted"* ]]; }
wait_for 60 "trial $first: attempt 1 given back as preempted" preempted
requeued() { [[ "$(scontrol show job "$task" 2>/dev/null)" =~ Restarts=[1-9] ]]; }
wait_for 60 "job $task requeued itself (Restarts >= 1)" requeued
wait_for 300 "sweep $preempt: every trial SUCCEEDED" all_trials_in "$preempt" 4
attempts=$(store "$preempt" "attempts('$first')")
log "trial $first attempts: $attempts"
[ "$(store "$preempt" "[a[1] for a in attempts('$first')].count('succeeded')")" = 1 ] ||
  fail "trial $first: not exactly one succeeded attempt: $attempts"
[ "$(store "$preempt" "attempts('$first')[-1][1]")" = succeeded ] ||
  fail "trial $first: the last attempt did not succeed: $attempts"
logs=$work/jobs/slurm/$preempt/logs
resumed=$(cat "$logs"/*.log | grep "trial $first: resuming at step" || true)
[ -n "$resumed" ] || fail "trial $first: no worker log says it resumed from a checkpoint"
log "resumed: ${resumed##*] }"
preempted_log=$(grep -l "requeueing job $task" "$logs"/*.log || true)
[ -n "$preempted_log" ] || fail "job $task: its log does not say it requeued itself"
grep -q "exiting 75" "$preempted_log" || fail "job $task: the worker did not exit 75"
log "preempted task's log $(basename "$preempted_log"):"
grep -E "signal 15|preempted|exiting 75|requeueing" "$preempted_log" | sed 's/^/    /' >&2

log "PASS (total $((SECONDS - test_start)) s)"
