# Shared by the shell tests: source "$(dirname "$0")/lib.sh".

# coordinator_address LOG: waits up to 10 s for LOG to hold the coordinator's
# "coordinator listening on HOST:PORT" line and prints HOST:PORT; returns 1
# if it never comes. The log may not exist yet: the coordinator started in
# the background opens it itself, after the fork.
coordinator_address() {
  local log=$1 address
  for _ in $(seq 200); do
    address=$(sed -n 's/^coordinator listening on \([0-9.:]*\) .*/\1/p' "$log" 2>/dev/null || true)
    if [ -n "$address" ]; then
      echo "$address"
      return 0
    fi
    sleep 0.05
  done
  return 1
}

# kill_all PID...: SIGKILLs each non-empty PID and reaps the test's children.
kill_all() {
  local pid
  for pid in "$@"; do
    if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
  done
  wait 2>/dev/null || true
}
