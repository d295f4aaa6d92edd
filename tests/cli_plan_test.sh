#!/usr/bin/env bash
# `scalelaw sweep plan --json` on the shipped example specs: an IsoFLOP spec's
# trials spend their budget within 1%; a WSD spec is one stable run per size
# plus one cooldown branch per token budget; a grid is sizes x budgets. Also a
# bad design is refused naming the field.
set -euo pipefail
scalelaw=$1
examples=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$scalelaw" sweep plan "$examples/isoflop.yaml" --json > "$dir/isoflop.json"
"$scalelaw" sweep plan "$examples/wsd.yaml" --json > "$dir/wsd.json"
"$scalelaw" sweep plan "$examples/grid.yaml" --json --flops-per-second 1e10 --workers 2 \
  > "$dir/grid.json"

/usr/bin/python3 - "$dir" "$examples" <<'PY'
import collections, json, sys
d, examples = sys.argv[1], sys.argv[2]

iso = json.load(open(f"{d}/isoflop.json"))
by_budget = collections.defaultdict(list)
for t in iso["trials"]:
    by_budget[t["budget"]].append(t)
    assert abs(t["flops"] / t["budget"] - 1) <= 0.01, t
assert sorted(by_budget) == [3e12, 1e13, 3e13], sorted(by_budget)
for budget, trials in by_budget.items():
    assert len(trials) >= 4, (budget, len(trials))            # 5 sizes, distinct shapes
    params = [t["params"] for t in trials]
    assert params == sorted(params) and len(set(params)) == len(params), params
    tokens = [t["tokens"] for t in trials]
    assert tokens == sorted(tokens, reverse=True), tokens     # bigger model, fewer tokens
assert abs(iso["total_flops"] - sum(t["flops"] for t in iso["trials"])) < 1e-6 * iso["total_flops"]

wsd = json.load(open(f"{d}/wsd.json"))
stable = [t for t in wsd["trials"] if t["role"] == "stable"]
branches = [t for t in wsd["trials"] if t["role"] == "cooldown"]
assert len(stable) == 3 and len(branches) == 12, (len(stable), len(branches))
ids = {t["trial_id"]: t for t in stable}
for b in branches:
    s = ids[b["branch_of"]]
    assert s["params"] == b["params"] and b["decay_start_tokens"] <= s["tokens"], (s, b)
    assert b["cost_flops"] < 0.25 * b["flops"], b                 # a cooldown costs ~20%
for s in stable:
    mine = sorted(b["tokens"] for b in branches if b["branch_of"] == s["trial_id"])
    assert mine == [500000, 1000000, 2000000, 4000000], mine
    assert "branch_of" not in s
assert abs(wsd["total_flops"] - sum(t["cost_flops"] for t in wsd["trials"])) < 1e-6 * wsd["total_flops"]

grid = json.load(open(f"{d}/grid.json"))
assert len(grid["trials"]) == 9, len(grid["trials"])             # 3 sizes x (2 + 1) budgets
assert all("budget" not in t and "branch_of" not in t for t in grid["trials"])
assert grid["estimated_seconds"] > 0 and grid["workers"] == 2
print("plan: isoflop %d trials, wsd %d stable + %d branches, grid %d" %
      (len(iso["trials"]), len(stable), len(branches), len(grid["trials"])))
PY

# A batch rule from measured critical batch sizes: each size trains at the
# power law through the measured points (12 sequences at 1e5, 40 at 1e6),
# rounded to an even batch (micro_batches 2) within [8, 256].
"$scalelaw" sweep plan "$examples/batch_rule.yaml" --json > "$dir/batch.json"
/usr/bin/python3 - "$dir/batch.json" <<'PY'
import json, math, sys
trials = json.load(open(sys.argv[1]))["trials"]
assert len(trials) == 3, trials
slope = math.log(40 / 12) / math.log(10)
for t in trials:
    b = t["batch_size"]
    want = 12 * (t["params"] / 1e5) ** slope
    assert b % 2 == 0 and 8 <= b <= 256, t
    assert abs(b - want) <= 1.0 + 1e-9, (b, want, t["params"])
batches = [t["batch_size"] for t in sorted(trials, key=lambda t: t["params"])]
assert batches == sorted(batches) and batches[0] < batches[-1], batches
print("plan: batch rule", batches)
PY

# A design that mixes an IsoFLOP plan with a model list is refused.
cat > "$dir/bad.yaml" <<'YAML'
name: bad
models: [1e5]
isoflop: {budgets: [1e13], min_params: 5e4, max_params: 1e6}
YAML
if "$scalelaw" sweep plan "$dir/bad.yaml" 2> "$dir/err"; then
  echo "FAIL: a spec with both models and isoflop was accepted" >&2; exit 1
fi
grep -q "isoflop" "$dir/err" || { echo "FAIL: error does not name isoflop:"; cat "$dir/err"; exit 1; }
echo "cli_plan: ok"
