#!/usr/bin/env bash
# Bad input to the real `scalelaw` binary: each case must fail with a non-zero
# exit and a message naming the field (or row and column) and the reason.
set -uo pipefail
scalelaw=$1
fixtures=$2
failures=0

expect_error() {  # expect_error "what it must say" command...
  local want=$1; shift
  local out status
  out=$("$@" 2>&1); status=$?
  if [ $status -eq 0 ]; then
    echo "FAIL: '$*' exited 0"; failures=$((failures + 1)); return
  fi
  if ! grep -qF -- "$want" <<<"$out"; then
    echo "FAIL: '$*' said: $out"; echo "      expected to contain: $want"
    failures=$((failures + 1)); return
  fi
  echo "ok: $*"
}

expect_error "optimizer.lr: expected a number, got 'fast'" \
  "$scalelaw" sweep submit "$fixtures/bad_type.yaml" --coordinator 127.0.0.1:1
expect_error "models[0].target_params: must be in" \
  "$scalelaw" sweep submit "$fixtures/bad_negative.yaml" --coordinator 127.0.0.1:1
expect_error "trainig: unknown key" \
  "$scalelaw" sweep submit "$fixtures/bad_unknown_key.yaml" --coordinator 127.0.0.1:1
expect_error "missing column 'tokens'" \
  "$scalelaw" fit --csv "$fixtures/runs_missing_column.csv" --law chinchilla --json
expect_error "line 3, column 'loss'" \
  "$scalelaw" fit --csv "$fixtures/runs_bad_cell.csv" --law chinchilla --json
expect_error "optimizer.lr: expected a number" \
  "$scalelaw" run "$fixtures/bad_type.yaml" --out "$(mktemp -d)"
expect_error "--compute" "$scalelaw" optimal --compute notanumber --csv "$fixtures/runs_bad_cell.csv"
expect_error "not reachable" "$scalelaw" sweep list --coordinator 127.0.0.1:1
expect_error "--db: no store at" \
  "$scalelaw" sweep export some-sweep --db "$(mktemp -d)/missing.db"
expect_error "optimizer.schedule: must be 'cosine' or 'linear' or 'wsd'" \
  "$scalelaw" sweep plan "$fixtures/bad_schedule.yaml"
expect_error "--vocab-size: required with --tokenizer bpe" \
  "$scalelaw" data prepare --input "$fixtures" --out "$(mktemp -u)" --tokenizer bpe
expect_error "--tokenizer: expected byte or bpe, got 'wordpiece'" \
  "$scalelaw" data prepare --input "$fixtures" --out "$(mktemp -u)" --tokenizer wordpiece
expect_error "--input /nonexistent/corpus: no such file or directory" \
  "$scalelaw" data prepare --input /nonexistent/corpus --out "$(mktemp -u)"

if [ $failures -ne 0 ]; then echo "$failures failed"; exit 1; fi
echo "all bad-input cases rejected with a clear message"
