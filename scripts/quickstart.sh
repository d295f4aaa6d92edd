#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the quickstart sweep
# end to end on CPU (embedded coordinator, two local workers, Chinchilla fit,
# compute-optimal table). Results land in runs/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec "${BUILD_DIR:-build}/bin/scalelaw" run sweeps/quickstart.yaml --out runs/quickstart "$@"
