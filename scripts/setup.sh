#!/usr/bin/env bash
# Installs the Debian bookworm packages scalelaw needs to build, run and test.
# Idempotent: installs only what is missing, and does nothing when all is there.
set -euo pipefail

PACKAGES=(
  # toolchain
  cmake ninja-build g++ ccache pkg-config
  # fuzzing (scripts/sanitize.sh, run by scripts/test.sh): clang, libFuzzer, ASan, UBSan
  clang-14 libclang-rt-14-dev
  # libraries
  libtorch-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libceres-dev prometheus-cpp-dev libboost-dev libsqlite3-dev libyaml-cpp-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev sqlite3
  # the sweep spec's JSON Schema checked on the example specs (ctest -R spec_schema)
  python3-jsonschema python3-yaml
  # benchmark peers (Debian's Python: /usr/bin/python3): SciPy for fit_speed,
  # PyTorch 1.13 (the same libtorch as the worker) for worker_throughput
  python3-scipy python3-torch
  # monitoring tests: a real Prometheus server and promtool (ctest -L prometheus)
  prometheus
  # Slurm launcher test: a single-node cluster on localhost (ctest -L slurm);
  # the test writes its own configuration and starts the daemons itself
  slurm-wlm munge
  # fit report test: headless rendering of DIR/index.html (ctest -R report_render)
  chromium
  # a fast BLAS for libtorch (Ceres pulls in ATLAS, ~2.7x slower training)
  libopenblas0-openmp
  # headers of the oneDNN libtorch runs on: the worker's bf16 attention
  # kernel calls its matmuls (worker/causal_attention_bf16.h)
  libdnnl-dev
  # the default training corpus: ~12 MB of English reStructuredText
  python3.11-doc
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
fi

# Make OpenBLAS the selected BLAS/LAPACK even where ATLAS was installed later.
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
for lib in libblas.so.3 liblapack.so.3; do
  target=/usr/lib/$arch/openblas-openmp/$lib
  if [ -e "$target" ] && [ "$(readlink -f "/usr/lib/$arch/$lib")" != "$(readlink -f "$target")" ]; then
    "${sudo_cmd[@]}" update-alternatives --quiet --set "$lib-$arch" "$target"
  fi
done
echo "setup: all packages present"
