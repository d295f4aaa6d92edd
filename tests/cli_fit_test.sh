#!/usr/bin/env bash
# The fit subcommands' stable JSON interfaces, through the real binary, on runs
# generated from a known L(N, D) (Chinchilla's published constants, 1% noise).
set -euo pipefail
scalelaw=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

/usr/bin/python3 - "$dir/runs.csv" <<'PY'
import math, random, sys
random.seed(7)
E, A, B, alpha, beta = 1.69, 406.4, 410.7, 0.34, 0.28
with open(sys.argv[1], "w") as f:
    f.write("N,D,loss,budget\n")           # aliases N and D; IsoFLOP groups by budget
    for C in (1e18, 1e19, 1e20):
        for k in range(7):
            N = 10 ** (math.log10(math.sqrt(C / 6 / 20)) - 0.9 + 0.3 * k)
            D = C / (6 * N)
            L = (E + A / N**alpha + B / D**beta) * math.exp(random.gauss(0, 0.01))
            f.write(f"{N},{D},{L},{C}\n")
PY

"$scalelaw" fit --csv "$dir/runs.csv" --law chinchilla --json > "$dir/fit.json"
# The same runs as JSON Lines give the same fit.
/usr/bin/python3 -c '
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
with open(sys.argv[2], "w") as f:
    for r in rows: f.write(json.dumps(r) + "\n")' "$dir/runs.csv" "$dir/runs.jsonl"
"$scalelaw" fit --csv "$dir/runs.jsonl" --law chinchilla --json > "$dir/fit_jsonl.json"
"$scalelaw" optimal --compute 1e21 --csv "$dir/runs.csv" --json > "$dir/one.json"
"$scalelaw" optimal --compute 1e21,1e22 --csv "$dir/runs.csv" --json > "$dir/two.json"
"$scalelaw" optimal --target-loss 2.3 --csv "$dir/runs.csv" --json > "$dir/target.json"
"$scalelaw" predict --params 7e9 --tokens 1.4e12 --csv "$dir/runs.csv" --json > "$dir/predict.json"
"$scalelaw" fit --csv "$dir/runs.csv" --law isoflop --json > "$dir/isoflop.json"
# A prediction interval beside the bootstrap's parameter interval, and the
# rollout: the 1e20 budget predicted from 1e18 and 1e19, then 1e19 from 1e18
# (default 100 resamples and level 0.9 per fold).
"$scalelaw" predict --params 7e9 --tokens 1.4e12 --csv "$dir/runs.csv" --bootstrap 50 --json \
  > "$dir/predict_boot.json"
"$scalelaw" fit --csv "$dir/runs.csv" --rollout 2 --json > "$dir/rollout.json"
# More budgets than the runs have is bad input, and the error names the flag.
if "$scalelaw" fit --csv "$dir/runs.csv" --rollout 4 2> "$dir/rollout_err.txt"; then
  echo "fit --rollout 4 on 3 budgets should fail" >&2; exit 1
fi
grep -q -- "--rollout 4: .*3 distinct compute budgets" "$dir/rollout_err.txt"

/usr/bin/python3 - "$dir" <<'PY'
import json, math, sys
d = sys.argv[1]
load = lambda name: json.load(open(f"{d}/{name}"))
fit = load("fit.json")
assert fit["law"] == "chinchilla" and fit["n_points"] == 21, fit
p = fit["params"]
assert abs(p["alpha"] - 0.34) < 0.08 and abs(p["beta"] - 0.28) < 0.08, p
assert fit["objective"] > 0
jl = load("fit_jsonl.json")
for key in p:
    # Same data, same fit, to the optimiser's tolerance.
    assert abs(jl["params"][key] / p[key] - 1) < 1e-6, (key, jl["params"], p)
one = load("one.json")
assert set(["compute", "params", "tokens", "loss"]) <= set(one), one
assert one["compute"] == 1e21
# C = 6 N D holds for the closed-form answer.
assert abs(6 * one["params"] * one["tokens"] / 1e21 - 1) < 1e-6, one
two = load("two.json")
assert isinstance(two, list) and len(two) == 2 and two[1]["loss"] < two[0]["loss"], two
target = load("target.json")
assert abs(target["loss"] - 2.3) < 1e-3 and target["target_loss"] == 2.3, target
pred = load("predict.json")
law = lambda N, D: p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"]
# predict refits in its own process; fits agree to the optimiser's tolerance.
assert abs(pred["loss"] / law(7e9, 1.4e12) - 1) < 1e-6, (pred, law(7e9, 1.4e12))
iso = load("isoflop.json")
assert iso["law"] == "isoflop" and len(iso["budgets"]) == 3, iso
# N_opt ~ C^a with a = beta / (alpha + beta) = 0.4516 for the generating law.
assert abs(iso["params"]["a"] - 0.4516) < 0.1 and abs(iso["params"]["a"] + iso["params"]["b"] - 1) < 1e-6, iso
boot = load("predict_boot.json")
lo, hi = boot["prediction_interval"]
plo, phi = boot["intervals"]["loss"]
assert lo <= boot["loss"] <= hi, boot
# The residual scatter only adds to the law's own uncertainty.
assert hi - lo >= phi - plo, boot
assert boot["level"] == 0.95 and boot["residual_scale"] > 0, boot
roll = load("rollout.json")
assert roll["law"] == "chinchilla" and "extrapolation" in roll, roll.keys()
r = roll["rollout"]
assert r["budgets"] == 2 and r["n_budgets"] == 3 and r["level"] == 0.9, r
folds = r["folds"]
assert len(folds) == 2, folds
errors, inside = [], 0
for rank, (fold, budget, fitted) in enumerate(zip(folds, (1e20, 1e19), (14, 7)), start=1):
    assert fold["rank"] == rank and "skipped" not in fold, fold
    assert abs(fold["compute"] / budget - 1) < 1e-9, fold
    assert fold["n_fitted"] == fitted and fold["n_held_out"] == 7 == len(fold["runs"]), fold
    assert fold["bootstrap"]["resamples"] + fold["bootstrap"]["failed"] == 100, fold
    q = fold["params"]
    for run in fold["runs"]:
        assert abs(run["compute"] / budget - 1) < 1e-9, run
        pred, actual = run["predicted"], run["actual"]
        assert abs(pred / (q["E"] + q["A"] / run["params"] ** q["alpha"]
                           + q["B"] / run["tokens"] ** q["beta"]) - 1) < 1e-9, run
        assert abs(run["relative_error"] - (pred - actual) / actual) < 1e-12, run
        lo, hi = run["prediction_interval"]
        assert run["inside"] == (lo <= actual <= hi), run
        errors.append(abs(run["relative_error"]))
        inside += run["inside"]
s = r["summary"]
assert s["n_predicted"] == 14 and s["n_inside"] == inside and s["folds_run"] == 2, s
assert abs(s["coverage"] - inside / 14) < 1e-12, s
errors.sort()
assert abs(s["median_abs_relative_error"] - (errors[6] + errors[7]) / 2) < 1e-12, s
print("ok")
PY
echo "fit interfaces: ok"
