#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test, then
# builds the libFuzzer harnesses (ASan + UBSan, build-fuzz/) and runs each
# for SCALELAW_FUZZ_SECONDS (default 30) on its seed corpus.
# Pass ctest arguments to narrow it, e.g. `scripts/test.sh -L unit`: then
# the fuzzing step is left out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure --timeout 900 -j 2 "$@"
if [ $# -eq 0 ]; then
  bash scripts/sanitize.sh --fuzz-only --fuzz-seconds "${SCALELAW_FUZZ_SECONDS:-30}"
fi
