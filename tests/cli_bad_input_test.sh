#!/usr/bin/env bash
# Bad input to the real `scalelaw` binary: each case must fail with a non-zero
# exit and a message naming the field (or row and column) and the reason.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
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

# Names and paths that would escape the checkpoint or jobs directory, or
# make workers write into a system directory (sweeps/safe_path.h).
specs=$(mktemp -d)
coordinator_pid=
trap '[ -n "$coordinator_pid" ] && kill "$coordinator_pid" 2>/dev/null; rm -rf "$specs"' EXIT
spec() {  # spec FILE EXTRA-YAML...: a valid tiny spec plus the given lines
  local file=$specs/$1; shift
  printf 'models: [1e5]\ntokens: [1e6]\n' > "$file"
  printf '%s\n' "$@" >> "$file"
  echo "$file"
}
expect_error "name: must be a plain name" \
  "$scalelaw" sweep plan "$(spec up.yaml 'name: ../../../escaped')"
expect_error "name: must be a plain name" \
  "$scalelaw" sweep plan "$(spec abs.yaml 'name: /etc/cron.d')"
expect_error "training.checkpoint_dir: must not be in the system directory /etc" \
  "$scalelaw" sweep plan "$(spec cron.yaml 'name: a' 'training: {checkpoint_dir: /etc/cron.d}')"
expect_error "training.checkpoint_dir: must not contain a '..' component" \
  "$scalelaw" sweep plan "$(spec dotdot.yaml 'name: a' 'training: {checkpoint_dir: /scratch/../root}')"
expect_error "data.corpus: must be a path without NUL" \
  "$scalelaw" sweep plan "$(spec nul.yaml 'name: a' 'data: {corpus: "/data\0/x"}')"
expect_error "forecast.targets[0].name: must be a plain name" \
  "$scalelaw" sweep plan "$(spec target.yaml 'name: a' \
    'forecast: {targets: [{name: ../t, target_params: 1e7, tokens: 2e8}]}')"
# --allow-path-root: a coordinator refuses a spec whose corpus lies elsewhere.
"$scalelaw" coordinator --listen 127.0.0.1:0 --metrics-listen "" --db "$specs/state.db" \
  --allow-path-root "$specs/data" 2> "$specs/coordinator.log" &
coordinator_pid=$!
address=
address=$(coordinator_address "$specs/coordinator.log") || address=
expect_error "data.corpus: must lie under $specs/data (this coordinator's --allow-path-root)" \
  "$scalelaw" sweep submit "$(spec corpus.yaml 'name: a' 'data: {corpus: /root}')" -c "$address"
expect_error "training.checkpoint_dir: must lie under $specs/data" \
  "$scalelaw" sweep submit "$(spec ckpt.yaml 'name: a' "data: {corpus: $specs/data/c}" \
    'training: {checkpoint_dir: /tmp/elsewhere}')" -c "$address"

# Sizes one command may ask for (common/limits.h): refused at once with the
# field named, not an abort (std::bad_alloc) or a hang.
expect_error "--bootstrap: Value 2000000000 not in range" \
  timeout 20 "$scalelaw" fit --csv "$fixtures/runs_bad_cell.csv" --law chinchilla \
  --bootstrap 2000000000
huge=$specs/huge.yaml  # 1 size x 1,000 budgets x 10,000 seeds = 1e7 trials
{
  echo "name: huge"
  echo "models: [1e5]"
  echo "tokens: [$(seq -s, 1000000 1000999)]"
  echo "seeds: [$(seq -s, 1 10000)]"
} > "$huge"
expect_error "seeds: the sweep would plan 10000000 trials, more than the 100000" \
  timeout 20 "$scalelaw" sweep plan "$huge"
wide=$specs/wide.yaml  # 10 sizes x 10 budgets x 10,000 seeds = 1e6 trials
printf 'name: wide\nmodels: [%s]\ntokens: [%s]\nseeds: [%s]\n' "$(seq -s, 100000 1000 109000)" \
  "$(seq -s, 1000000 1000 1009000)" "$(seq -s, 1 10000)" > "$wide"
expect_error "the sweep would plan 1000000 trials" timeout 20 "$scalelaw" sweep plan "$wide"

if [ $failures -ne 0 ]; then echo "$failures failed"; exit 1; fi
echo "all bad-input cases rejected with a clear message"
