#!/usr/bin/env bash
# A flood of idle TCP connections (issue 20, found with a probe: ~1,000 of
# them locked new clients out until a restart). The coordinator runs with a
# 256 open-file limit; 400 idle connections to its gRPC port and 400 to its
# /metrics port are opened from 127.0.0.1, held, and closed. During the flood
# the coordinator stays up and does not spin; within 20 s of it the gRPC port
# serves a new client again (gRPC stops listening after EMFILE and the
# coordinator rebuilds its server on the same port: "accepts connections
# again" in its log) and /healthz answers.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
scalelaw=$1
dir=$(mktemp -d)
coordinator_pid=
cleanup() {
  if [ -n "$coordinator_pid" ]; then kill -9 "$coordinator_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -n 20 "$dir/coordinator.log" || true; exit 1; }

(ulimit -n 256 && exec "$scalelaw" coordinator --listen 127.0.0.1:0 \
  --metrics-listen 127.0.0.1:0 --db "$dir/state.db" 2> "$dir/coordinator.log") &
coordinator_pid=$!
address=$(coordinator_address "$dir/coordinator.log") || fail "coordinator did not start"
metrics_port=$(sed -n 's|^metrics on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$dir/coordinator.log")
[ -n "$metrics_port" ] || fail "no metrics port in the log"
"$scalelaw" sweep list -c "$address" > /dev/null || fail "no answer before the flood"

/usr/bin/python3 - "${address##*:}" "$metrics_port" "$coordinator_pid" > "$dir/flood.log" <<'PY'
import os, socket, sys, time
grpc_port, metrics_port, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
held = []
for port in (grpc_port, metrics_port):
    for _ in range(400):
        try:
            held.append(socket.create_connection(("127.0.0.1", port), timeout=1))
        except OSError:
            pass
print("held", len(held), flush=True)
def ticks():
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])
start = ticks()
time.sleep(3)
# CPU share of one core while the flood is held (100 ticks a second).
print("cpu", (ticks() - start) / (3 * os.sysconf("SC_CLK_TCK")), flush=True)
for s in held:
    s.close()
PY
cat "$dir/flood.log"
kill -0 "$coordinator_pid" 2>/dev/null || fail "the coordinator died in the flood"
cpu=$(sed -n 's/^cpu //p' "$dir/flood.log")
/usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 0.5 else 1)" "$cpu" ||
  fail "the coordinator spun during the flood (${cpu} of a core)"

# Back within 20 s, on the same port.
for i in $(seq 40); do
  if timeout 5 "$scalelaw" sweep list -c "$address" > /dev/null 2>&1; then break; fi
  [ "$i" -lt 40 ] || fail "the gRPC port never served a new client after the flood"
  sleep 0.5
done
echo "gRPC port serving again after $i attempt(s)"
/usr/bin/python3 -c '
import sys, urllib.request
assert urllib.request.urlopen("http://127.0.0.1:%s/healthz" % sys.argv[1], timeout=5).read() == b"ok\n"
' "$metrics_port" || fail "/healthz did not answer after the flood"
if grep -q "Failed accept4" "$dir/coordinator.log"; then
  grep -q "accepts connections again" "$dir/coordinator.log" ||
    fail "gRPC stopped accepting and the coordinator did not say it restarted the port"
fi
kill -0 "$coordinator_pid" 2>/dev/null || fail "the coordinator died"
echo "ok"
