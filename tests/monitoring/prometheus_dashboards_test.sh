#!/usr/bin/env bash
# A real Prometheus (Debian's `prometheus`, on 127.0.0.1, a free port, a config
# and storage written here) scrapes a real coordinator serving a driven sweep
# (scalelaw_monitoring_demo); then every PromQL expression of the Grafana
# dashboards, with the dashboard variables substituted, must return series
# through `promtool query instant` (the fit dashboard's "Pre-registered
# forecasts" row with the demo's forecast sweep selected). The scraped
# forecast must be the stored one, inside its own interval bounds, beside the
# target's outcome. Also: `promtool check config` on the shipped
# deploy/prometheus/prometheus.yml and the dashboards' structure.
#
#   prometheus_dashboards_test.sh DEMO_BINARY REPO_ROOT
#
# Exit 77 (skip) when prometheus or promtool is missing. Everything started
# here is stopped on exit; the whole test is bounded by `timeout`s.
set -euo pipefail

demo=${1:?demo binary}
root=${2:?repository root}
python=/usr/bin/python3
prometheus=$(command -v prometheus || true)
promtool=$(command -v promtool || true)
if [[ -z "$prometheus" || -z "$promtool" ]]; then
  echo "SKIP: prometheus/promtool not installed (apt-get install prometheus)"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/scalelaw-prometheus-XXXXXX")
demo_pid=""
prom_pid=""
cleanup() {
  for pid in $prom_pid $demo_pid; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in $prom_pid $demo_pid; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  for log in "$work"/*.log; do
    [[ -f "$log" ]] || continue
    echo "--- $log (tail)"; tail -n 30 "$log"
  done
  exit 1
}

free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

echo "== promtool check config deploy/prometheus/prometheus.yml"
"$promtool" check config "$root/deploy/prometheus/prometheus.yml" || fail "shipped config invalid"

echo "== dashboard structure"
"$python" "$root/tests/monitoring/check_dashboards.py" \
  --dashboards "$root/deploy/grafana/dashboards" \
  --provisioning "$root/deploy/grafana/provisioning" structure || fail "dashboard structure"

echo "== coordinator with a driven sweep"
"$demo" --db "$work/coordinator.db" --info "$work/demo.info" --seconds 200 >"$work/demo.log" 2>&1 &
demo_pid=$!
# Seconds, unloaded: ~4 for the sweep (a lease expiry), ~2 for the forecast fit.
for _ in $(seq 1200); do
  [[ -f "$work/demo.info" ]] && break
  kill -0 "$demo_pid" 2>/dev/null || fail "demo coordinator exited early"
  sleep 0.1
done
[[ -f "$work/demo.info" ]] || fail "demo coordinator did not drive its sweeps within 120 s"
info() { sed -n "s/^$1=//p" "$work/demo.info"; }
metrics_port=$(info metrics_port)
sweep=$(info sweep)
trial=$(info trial)
forecast_sweep=$(info forecast_sweep)
forecast_target=$(info forecast_target)
forecast_predicted=$(info forecast_predicted_loss)
echo "metrics on 127.0.0.1:$metrics_port, sweep $sweep, running trial $trial," \
  "forecast sweep $forecast_sweep (target $forecast_target)"

echo "== prometheus"
prom_port=$(free_port)
cat >"$work/prometheus.yml" <<CONFIG
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: scalelaw-coordinator
    static_configs:
      - targets: ["127.0.0.1:$metrics_port"]
CONFIG
"$promtool" check config "$work/prometheus.yml" >/dev/null || fail "test config invalid"
"$prometheus" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$work/prometheus.log" 2>&1 &
prom_pid=$!
url="http://127.0.0.1:$prom_port"

# Wait for the target to be up with enough samples for rate() over 1m.
scrapes=0
for _ in $(seq 300); do
  kill -0 "$prom_pid" 2>/dev/null || fail "prometheus exited"
  out=$(timeout 10 "$promtool" query instant -o json "$url" \
    'count_over_time(up{job="scalelaw-coordinator"}[1m]) and up == 1' 2>/dev/null || true)
  scrapes=$(printf '%s' "$out" | "$python" -c \
    'import json,sys; r=json.loads(sys.stdin.read() or "[]"); print(int(float(r[0]["value"][1])) if r else 0)' \
    2>/dev/null || echo 0)
  [[ "$scrapes" -ge 6 ]] && break
  sleep 0.5
done
[[ "$scrapes" -ge 6 ]] || fail "prometheus did not scrape the coordinator 6 times"
echo "prometheus on $url has $scrapes scrapes"

echo "== every dashboard expression"
"$python" "$root/tests/monitoring/check_dashboards.py" \
  --dashboards "$root/deploy/grafana/dashboards" \
  --provisioning "$root/deploy/grafana/provisioning" \
  query --promtool "$promtool" --url "$url" \
  --var "sweep=$sweep" --var "trial=$trial" --var "law=chinchilla" \
  --row-var "Pre-registered forecasts:sweep=$forecast_sweep" || fail "dashboard queries"

echo "== the scraped forecast"
forecast_json() {  # forecast_json SERIES: the instant vector of the forecast sweep's target
  timeout 10 "$promtool" query instant -o json "$url" \
    "$1{sweep=\"$forecast_sweep\", target=\"$forecast_target\"}" || echo "[]"
}
"$python" - "$forecast_predicted" \
  "$(forecast_json scalelaw_forecast_predicted_loss)" \
  "$(forecast_json scalelaw_forecast_interval_lower_loss)" \
  "$(forecast_json scalelaw_forecast_interval_upper_loss)" \
  "$(forecast_json scalelaw_forecast_actual_loss)" \
  "$(forecast_json scalelaw_forecast_relative_error)" \
  "$(forecast_json scalelaw_forecast_inside_interval)" <<'CHECK' || fail "scraped forecast"
import json, math, sys
stored = float(sys.argv[1])
names = ["predicted", "lower", "upper", "actual", "relative error", "inside"]
values = {}
for name, text in zip(names, sys.argv[2:]):
    series = json.loads(text or "[]")
    if len(series) != 1:
        sys.exit(f"FAIL: {len(series)} series of the forecast's {name}, expected 1")
    values[name] = float(series[0]["value"][1])
v = values
print(f"scraped: lower {v['lower']:.6f} <= predicted {v['predicted']:.6f} <= upper "
      f"{v['upper']:.6f}; actual {v['actual']:.6f}, relative error {v['relative error']:.6f}, "
      f"inside {v['inside']:g}; stored forecast {stored:.6f}")
problems = []
if not all(math.isfinite(x) for x in v.values()):
    problems.append("a value is not finite")
if not v["lower"] <= v["predicted"] <= v["upper"]:
    problems.append("the prediction is outside its interval")
if not math.isclose(v["predicted"], stored, rel_tol=1e-9):
    problems.append(f"predicted {v['predicted']!r} is not the stored forecast {stored!r}")
if not math.isclose(v["relative error"], (v["predicted"] - v["actual"]) / v["actual"],
                    rel_tol=1e-9, abs_tol=1e-12):
    problems.append("relative error is not (predicted - actual) / actual")
if v["inside"] != float(v["lower"] <= v["actual"] <= v["upper"]):
    problems.append("inside_interval disagrees with the bounds and the actual loss")
for problem in problems:
    print("FAIL:", problem)
sys.exit(1 if problems else 0)
CHECK
echo "PASS"
