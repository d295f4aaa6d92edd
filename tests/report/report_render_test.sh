#!/usr/bin/env bash
# `scalelaw report --csv` on runs from a known law, rendered in headless
# Chromium: no console errors, a screenshot that is not blank, every section.
# usage: report_render_test.sh SCALELAW_BINARY TEST_SOURCE_DIR
# Exit 77 (skipped) when chromium is not installed (scripts/setup.sh adds it).
set -euo pipefail
scalelaw=$1
here=$2
python=/usr/bin/python3

chromium=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$chromium" ]]; then
  echo "SKIP: chromium not installed (apt-get install chromium)"
  exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" "$here/make_runs.py" "$work/runs.csv"
"$scalelaw" report --csv "$work/runs.csv" --out "$work/out" --budgets 1e21,1e22 \
  --bootstrap 40 --title "report_render test"
page="$work/out/index.html"
test -s "$page" || { echo "FAIL: $page missing or empty"; exit 1; }

# Self-contained: no scripts, nothing fetched.
if grep -Eq '<script|<link|src="https?:|href="https?:' "$page"; then
  echo "FAIL: $page references scripts or network resources"; exit 1
fi
for id in summary loss-tokens loss-compute isoflop optimal budgets residuals extrapolation \
          left-out noise-scale; do
  grep -q "<section id=\"$id\"" "$page" || { echo "FAIL: section $id missing"; exit 1; }
done
grep -q 'IsoFLOP profiles (approach 2)' "$page" || { echo "FAIL: no IsoFLOP figure"; exit 1; }
grep -q 'Gradient noise scale vs loss' "$page" || { echo "FAIL: no noise-scale figure"; exit 1; }

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --hide-scrollbars --enable-logging=stderr --v=0)

# The DOM as Chromium parsed it, with its console output on stderr.
timeout 120 "$chromium" "${flags[@]}" --user-data-dir="$work/profile-dom" \
  --dump-dom "file://$page" >"$work/dom.html" 2>"$work/dom.log" || {
  echo "FAIL: chromium --dump-dom failed"; cat "$work/dom.log"; exit 1; }
grep -q '<svg' "$work/dom.html" || { echo "FAIL: parsed DOM has no <svg>"; exit 1; }

timeout 120 "$chromium" "${flags[@]}" --user-data-dir="$work/profile-shot" \
  --window-size=1280,2400 --screenshot="$work/shot.png" "file://$page" \
  >"$work/shot.log" 2>&1 || { echo "FAIL: chromium --screenshot failed"; cat "$work/shot.log"; exit 1; }

if grep -hE 'CONSOLE|Uncaught' "$work/dom.log" "$work/shot.log" | grep -qiE 'error|uncaught'; then
  echo "FAIL: console errors:"
  grep -hE 'CONSOLE|Uncaught' "$work/dom.log" "$work/shot.log"
  exit 1
fi

"$python" "$here/check_png.py" "$work/shot.png" 64 0.03
if [[ -n "${SCALELAW_REPORT_KEEP:-}" ]]; then
  mkdir -p "$SCALELAW_REPORT_KEEP"
  cp "$page" "$work/shot.png" "$SCALELAW_REPORT_KEEP/"
fi
echo "PASS"
