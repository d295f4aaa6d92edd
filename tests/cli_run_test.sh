#!/usr/bin/env bash
# End to end through the real binaries: `scalelaw run` with an embedded
# coordinator and two local worker processes trains every trial of a tiny
# sweep, fits, and leaves DIR/state.db and DIR/fit.json.
set -euo pipefail
scalelaw=$1
fixtures=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
umask 022  # as permissive as most shells: what the run writes must still be private

"$scalelaw" run "$fixtures/tiny_sweep.yaml" --out "$out" --workers 2 | tee "$out/stdout.txt"

test -s "$out/state.db" || { echo "FAIL: no state.db"; exit 1; }
test -s "$out/fit.json" || { echo "FAIL: no fit.json"; exit 1; }

# Every trial ended SUCCEEDED, exactly once, in the store itself.
python_check=$(/usr/bin/python3 - "$out" <<'PY'
import json, sqlite3, sys
out = sys.argv[1]
db = sqlite3.connect(f"{out}/state.db")
states = [r[0] for r in db.execute("select state from trials")]
assert len(states) == 6, f"expected 6 trials, store has {len(states)}"
assert all(s == 4 for s in states), f"not all SUCCEEDED (4): {states}"
fit = json.load(open(f"{out}/fit.json"))
assert fit["law"] == "chinchilla", fit
import math
# Six points barely determine five parameters: check the fit is well formed,
# not that it is meaningful (sweeps/quickstart.yaml is sized for that).
for key in ("E", "A", "B", "alpha", "beta"):
    value = fit["params"][key]
    assert math.isfinite(value) and value >= 0, (key, fit["params"])
assert fit["n_points"] == 6, fit["n_points"]
assert fit["objective"] >= 0
assert len(fit["optimal"]) == 3, fit["optimal"]
# Held-out loss falls with model size at each budget and with tokens at each
# size (the printed trial table: id, layers x d, params, tokens, state, ...).
val = {}
for line in open(f"{out}/stdout.txt"):
    cells = line.split()
    if cells and cells[0].startswith("tiny-") and len(cells) == 10:
        val[(float(cells[4]), float(cells[5]))] = float(cells[9])
assert len(val) == 6, val
sizes = sorted({n for n, _ in val}); budgets = sorted({d for _, d in val})
for d in budgets:
    losses = [val[(n, d)] for n in sizes]
    assert losses == sorted(losses, reverse=True), f"loss not falling with size at D={d}: {losses}"
for n in sizes:
    losses = [val[(n, d)] for d in budgets]
    assert losses == sorted(losses, reverse=True), f"loss not falling with tokens at N={n}: {losses}"
print("ok")
PY
)
[ "$python_check" = ok ] || { echo "FAIL: $python_check"; exit 1; }
grep -q "N_opt" "$out/stdout.txt" || { echo "FAIL: no compute-optimal table printed"; exit 1; }

# `sweep export`: one row per evaluation, the same in CSV and JSON Lines, and
# each trial's last evaluation is its final validation loss.
sweep_id=$(/usr/bin/python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select sweep_id from sweeps").fetchone()[0])' "$out/state.db")
"$scalelaw" sweep export "$sweep_id" --db "$out/state.db" --format csv --out "$out/points.csv"
"$scalelaw" sweep export "$sweep_id" --db "$out/state.db" --format jsonl > "$out/points.jsonl"
export_check=$(/usr/bin/python3 - "$out" <<'PY'
import csv, json, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/points.csv")))
lines = [json.loads(l) for l in open(f"{out}/points.jsonl")]
assert len(rows) == len(lines) > 6, (len(rows), len(lines))
assert all(r["val_loss"] != "" for r in rows)
fit = json.load(open(f"{out}/fit.json"))
last = {}
for r in lines:
    if r["tokens"] >= last.get(r["trial_id"], {"tokens": -1})["tokens"]:
        last[r["trial_id"]] = r
assert len(last) == 6, last.keys()
for r in last.values():
    assert r["tokens"] >= r["target_tokens"] and r["state"] == "SUCCEEDED", r
for r, j in zip(rows, lines):
    assert r["trial_id"] == j["trial_id"] and float(r["val_loss"]) == j["val_loss"], (r, j)
print("ok")
PY
)
[ "$export_check" = ok ] || { echo "FAIL: sweep export: $export_check"; exit 1; }

# `sweep critical-batch`: one measured noise scale per size, and the block it
# prints makes a spec that plans each size at (about) that batch.
"$scalelaw" sweep critical-batch "$sweep_id" --db "$out/state.db" --json > "$out/bcrit.json"
"$scalelaw" sweep critical-batch "$sweep_id" --db "$out/state.db" > "$out/bcrit.txt"
{ sed -n '/^training:/,$p' "$out/bcrit.txt" | sed '1d'; } > "$out/rule.yaml"
cat > "$out/follow_up.yaml" <<YAML
name: follow-up
context: 32
models: [{shape: {n_layer: 1, d_model: 32, n_head: 1}}, {shape: {n_layer: 2, d_model: 64, n_head: 2}}]
tokens: [1.0e6]
training:
  micro_batches: 2
$(cat "$out/rule.yaml")
YAML
"$scalelaw" sweep plan "$out/follow_up.yaml" --json > "$out/follow_up.json"
bcrit_check=$(/usr/bin/python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
sizes = json.load(open(f"{out}/bcrit.json"))
assert len(sizes) == 3 and all(s["trials"] == 2 for s in sizes), sizes
assert all(s["critical_batch"] > 0 and s["critical_batch_unit"] == "sequences" for s in sizes), sizes
import math
# The planner's batch is the least-squares power law through the measured
# points (as printed, 4 significant digits), rounded to a multiple of 2.
xs = [math.log(s["params"]) for s in sizes]
ys = [math.log(float("%.4g" % s["critical_batch"])) for s in sizes]
mx, my = sum(xs) / 3, sum(ys) / 3
slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
trials = json.load(open(f"{out}/follow_up.json"))["trials"]
assert len(trials) == 2, trials
for t in trials:
    fitted = math.exp(my + slope * (math.log(t["params"]) - mx))
    want = max(2, 2 * round(fitted / 2))
    assert t["batch_size"] == want, (t["params"], t["batch_size"], fitted)
print("ok")
PY
)
[ "$bcrit_check" = ok ] || { echo "FAIL: sweep critical-batch: $bcrit_check"; cat "$out/bcrit.txt"; exit 1; }

# What the run wrote is its owner's only (common/private_files.h): the store,
# its -wal/-shm, worker logs and checkpoints are 0600, their directories 0700,
# even though this shell's umask (022, above) lets others read.
private=$(find "$out/state.db"* "$out/checkpoints" "$out/logs" -type f ! -perm 0600 -printf '%m %p\n'; \
          find "$out/checkpoints" "$out/logs" -type d ! -perm 0700 -printf '%m %p\n')
ckpts=$(find "$out/checkpoints" -name 'step-*.ckpt' | wc -l)
[ "$ckpts" -gt 0 ] || { echo "FAIL: no checkpoints under $out/checkpoints"; exit 1; }
[ -z "$private" ] || { echo "FAIL: files others can read:"; echo "$private"; exit 1; }
echo "run end to end: ok"
