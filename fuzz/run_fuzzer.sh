#!/usr/bin/env bash
# Runs one libFuzzer harness for a bounded time on a copy of its committed
# seed corpus (new inputs it finds go to the copy, which is thrown away).
# A crash, leak, timeout or sanitizer report fails the run; its input is kept
# as ./<harness>-crash-* (or leak-*, timeout-*) in the working directory.
#   run_fuzzer.sh HARNESS CORPUS_DIR SECONDS
set -euo pipefail
harness=$1 corpus=$2 seconds=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/scalelaw-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work"/
name=$(basename "$harness")
dict=()
# fuzz/<harness without fuzz_>.dict, when there is one (libFuzzer's -dict).
if [[ -f $(dirname "$corpus")/../${name#fuzz_}.dict ]]; then
  dict=(-dict="$(dirname "$corpus")/../${name#fuzz_}.dict")
fi
"$harness" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$PWD/$name-" "${dict[@]}" "$work"
