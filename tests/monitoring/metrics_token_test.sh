#!/usr/bin/env bash
# `scalelaw coordinator --metrics-require-token`: /metrics answers 401 to curl
# without the token or with a wrong one, 200 with `Authorization: Bearer`,
# /healthz stays open; and a real Prometheus (Debian's package, when
# installed) scrapes it with `authorization: {credentials_file: ...}`, the
# config deploy/README.md documents. All on 127.0.0.1; bounded by timeouts.
#
#   metrics_token_test.sh SCALELAW_BINARY
set -euo pipefail
scalelaw=${1:?scalelaw binary}
python=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/scalelaw-metrics-token-XXXXXX")
coordinator_pid=""
prom_pid=""
cleanup() {
  for pid in $prom_pid $coordinator_pid; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $prom_pid $coordinator_pid; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for log in "$work"/*.log; do [[ -f "$log" ]] && { echo "--- $log"; tail -n 20 "$log"; }; done
  exit 1
}
free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/token")
metrics_port=$(free_port)
"$scalelaw" coordinator --listen 127.0.0.1:0 --db "$work/state.db" \
  --metrics-listen "127.0.0.1:$metrics_port" --token-file "$work/token" \
  --metrics-require-token 2> "$work/coordinator.log" &
coordinator_pid=$!
for _ in $(seq 100); do
  grep -q "^metrics on" "$work/coordinator.log" && break
  sleep 0.1
done
grep -q "metrics on http://127.0.0.1:$metrics_port/metrics (token required)" "$work/coordinator.log" ||
  fail "coordinator did not say its metrics need the token"
url="http://127.0.0.1:$metrics_port"
status() { curl -s -o "$work/body" -w '%{http_code}' --max-time 10 "$@"; }

[[ $(status "$url/metrics") == 401 ]] || fail "/metrics without a token: not 401"
grep -q "requires its token" "$work/body" || fail "401 body: $(cat "$work/body")"
! grep -q scalelaw_ "$work/body" || fail "a refused scrape got series"
[[ $(status -H "Authorization: Bearer wrong" "$url/metrics") == 401 ]] || fail "wrong token: not 401"
[[ $(status -H "Authorization: Bearer $(cat "$work/token")" "$url/metrics") == 200 ]] ||
  fail "right token: not 200"
grep -q "^scalelaw_build_info" "$work/body" || fail "no scalelaw_build_info in the scrape"
[[ $(status "$url/healthz") == 200 ]] || fail "/healthz: not 200"
echo "curl: 401 without or with a wrong token, 200 with it, /healthz open"

# Without the coordinator's token, --metrics-require-token is refused.
if timeout 10 "$scalelaw" coordinator --listen 127.0.0.1:0 --db "$work/other.db" --metrics-listen 127.0.0.1:0 \
  --metrics-require-token 2> "$work/err.log" < /dev/null; then
  fail "--metrics-require-token without a token started"
fi
grep -q -- "--metrics-require-token" "$work/err.log" || fail "unclear refusal: $(cat "$work/err.log")"

prometheus=$(command -v prometheus || true)
promtool=$(command -v promtool || true)
if [[ -z "$prometheus" || -z "$promtool" ]]; then
  echo "prometheus not installed: the scrape with credentials_file is not checked"
  exit 0
fi
prom_port=$(free_port)
cat > "$work/prometheus.yml" <<CONFIG
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: with-token
    authorization: {type: Bearer, credentials_file: $work/token}
    static_configs: [{targets: ["127.0.0.1:$metrics_port"]}]
  - job_name: without-token
    static_configs: [{targets: ["127.0.0.1:$metrics_port"]}]
CONFIG
"$promtool" check config "$work/prometheus.yml" > /dev/null || fail "test config invalid"
"$prometheus" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn > "$work/prometheus.log" 2>&1 &
prom_pid=$!
up() {  # up JOB: the job's last `up`, or empty
  timeout 10 "$promtool" query instant -o json "http://127.0.0.1:$prom_port" "up{job=\"$1\"}" \
    2>/dev/null | "$python" -c \
    'import json,sys; r=json.loads(sys.stdin.read() or "[]"); print(r[0]["value"][1] if r else "")' \
    2>/dev/null || true
}
with= without=
for _ in $(seq 120); do
  kill -0 "$prom_pid" 2>/dev/null || fail "prometheus exited"
  with=$(up with-token); without=$(up without-token)
  [[ "$with" == 1 && "$without" == 0 ]] && break
  sleep 0.5
done
[[ "$with" == 1 ]] || fail "prometheus with credentials_file: up=$with"
[[ "$without" == 0 ]] || fail "prometheus without the token: up=$without"
echo "prometheus: scrapes with credentials_file (up 1), refused without (up 0)"
