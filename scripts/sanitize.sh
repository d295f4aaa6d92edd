#!/usr/bin/env bash
# Sanitizer and fuzzing runs (issue #20), with Debian's clang:
#
#   build-fuzz/  -DSCALELAW_FUZZ=ON: ASan + UBSan on all of scalelaw's own code
#                (no worker), the libFuzzer harnesses under fuzz/, and the unit
#                tests of common/, proto/, data/, sweeps/, fitting/ and
#                coordinator/ plus coordinator_service_test (a real gRPC server
#                on 127.0.0.1, no worker). Runs `ctest -L fuzz` (each harness
#                SCALELAW_FUZZ_SECONDS on a copy of its seed corpus), then
#                those tests.
#   build-tsan/  -DSCALELAW_SANITIZE=thread: the coordinator's concurrency
#                tests (store, scheduler, service) under TSan. Debian's gRPC,
#                protobuf and abseil are not instrumented, so fuzz/tsan.supp
#                silences reports whose stacks run through them; a race
#                wholly inside scalelaw's code still fails the run.
#
# Usage: scripts/sanitize.sh [--fuzz-only] [--no-tsan] [--fuzz-seconds N] [--jobs N]
#   --fuzz-only: build and run only the harnesses (what scripts/test.sh, so CI,
#   runs after the tests)
# Environment: CXX (default /usr/bin/clang++). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

tsan=1
asan_tests_too=1
fuzz_seconds=30
jobs=$(nproc)
while [[ $# -gt 0 ]]; do
  case $1 in
    --no-tsan) tsan=0 ;;
    --fuzz-only) tsan=0; asan_tests_too=0 ;;
    --fuzz-seconds) fuzz_seconds=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    *) echo "usage: $0 [--fuzz-only] [--no-tsan] [--fuzz-seconds N] [--jobs N]" >&2; exit 2 ;;
  esac
  shift
done
cxx=${CXX:-/usr/bin/clang++}
supp=$PWD/fuzz
start=$SECONDS
phase() { echo "== $* ($((SECONDS - start)) s)"; }

# The tests each sanitized build runs: unit tests of the torch-free libraries,
# and the coordinator's service test.
asan_tests='^(common|proto|data|sweeps|fitting|coordinator)_[a-z0-9_]*test$'
tsan_tests='^coordinator_(store|scheduler|service)_test$'

configure() {  # DIR extra cmake args...
  local dir=$1; shift
  # -O1 and line tables: faster to build, and what sanitizer reports need;
  # assert()s stay on (no NDEBUG).
  cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DSCALELAW_BUILD_BENCH=OFF "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; exit 1; }
}

# Targets of `dir` whose names match `regex` (ninja's list, so only what the
# configuration defines).
targets() {
  ninja -C "$1" -t targets all | sed -n 's/^\([A-Za-z0-9_]*\): .*/\1/p' | grep -E "$2" | sort -u
}

phase "configure build-fuzz"
mkdir -p build-fuzz
configure build-fuzz -DSCALELAW_FUZZ=ON -DSCALELAW_FUZZ_SECONDS="$fuzz_seconds"
phase "build build-fuzz"
mapfile -t fuzz_targets < <(targets build-fuzz '^fuzz_')
asan_targets=()
if [[ $asan_tests_too == 1 ]]; then
  mapfile -t asan_targets < <(targets build-fuzz "$asan_tests")
fi
cmake --build build-fuzz -j "$jobs" --target "${fuzz_targets[@]}" "${asan_targets[@]}"

export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export LSAN_OPTIONS=suppressions=$supp/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

phase "fuzz: ${#fuzz_targets[@]} harnesses x $fuzz_seconds s"
# One at a time: each harness gets the cores it was measured with.
ctest --test-dir build-fuzz -L fuzz --output-on-failure -j 1
if [[ $asan_tests_too == 1 ]]; then
  phase "ASan+UBSan tests"
  ctest --test-dir build-fuzz -R "$asan_tests" --output-on-failure -j "$jobs"
fi

if [[ $tsan == 1 ]]; then
  phase "configure build-tsan"
  mkdir -p build-tsan
  configure build-tsan -DSCALELAW_SANITIZE=thread
  phase "build build-tsan"
  mapfile -t tsan_targets < <(targets build-tsan "$tsan_tests")
  cmake --build build-tsan -j "$jobs" --target "${tsan_targets[@]}"
  phase "TSan tests"
  TSAN_OPTIONS="suppressions=$supp/tsan.supp:halt_on_error=1:second_deadlock_stack=1" \
    ctest --test-dir build-tsan -R "$tsan_tests" --output-on-failure -j 1
fi
phase "done"
