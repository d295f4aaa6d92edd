#!/usr/bin/env bash
# Configures and builds scalelaw in build/ (override with BUILD_DIR). Uses
# ccache when installed; CI=true turns warnings into errors.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
werror=OFF
if [ "${CI:-}" = "true" ]; then werror=ON; fi
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCALELAW_WERROR=$werror
cmake --build "$build_dir" -j "$(nproc)"
