#!/usr/bin/env bash
# TLS and mutual TLS through the real binaries, on 127.0.0.1 only. The test
# makes its own CA, a server certificate (SAN IP:127.0.0.1, DNS:localhost), a
# client certificate, and a second, unrelated CA with a client certificate of
# its own; then runs `scalelaw coordinator --tls-cert --tls-key --tls-ca` with
# a token and checks that:
#   - a client with the CA, its certificate and the token submits a sweep and
#     reads its status (by IP and by the DNS name in the certificate);
#   - a plaintext client, a TLS client without a client certificate, a client
#     that trusts another CA, a client whose certificate another CA signed,
#     and a TLS client without the token are all refused;
#   - a client with a token never dials a non-loopback address in clear text
#     (refused before connecting, "use --tls-ca"), unless told
#     --insecure-token-over-plaintext, which warns;
#   - a missing certificate file stops the coordinator at start, naming the flag;
#   - (with the worker built) a worker that the coordinator's local launcher
#     starts, handed --worker-tls-* and the token file, trains a trial to
#     SUCCEEDED over mutual TLS.
# Usage: tls_test.sh SCALELAW WORKER_BUILT(0|1)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
scalelaw=$1
worker_built=${2:-0}
dir=$(mktemp -d)
coordinator_pid=
cleanup() {
  if [ -n "$coordinator_pid" ]; then
    kill "$coordinator_pid" 2>/dev/null || true
    # SIGTERM stops the coordinator and the workers it launched; bounded.
    for _ in $(seq 100); do kill -0 "$coordinator_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$coordinator_pid" 2>/dev/null || true
    wait "$coordinator_pid" 2>/dev/null || true
  fi
  if [ -n "${KEEP_DIR:-}" ]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -n 20 "$dir"/coordinator.log >&2 2>/dev/null || true; exit 1; }
# Every client call is bounded; none may inherit a token from the environment.
client() { timeout 60 env -u SCALELAW_TOKEN -u SCALELAW_TOKEN_FILE "$scalelaw" "$@"; }

# --- certificates ---------------------------------------------------------------
# make_ca NAME; make_cert NAME CA EXTENSIONS
make_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=scalelaw test $1" -keyout "$dir/$1.key" -out "$dir/$1.pem" 2>/dev/null
}
make_cert() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$1" \
    -keyout "$dir/$1.key" -out "$dir/$1.csr" 2>/dev/null
  printf '%s\n' "$3" > "$dir/$1.ext"
  openssl x509 -req -in "$dir/$1.csr" -CA "$dir/$2.pem" -CAkey "$dir/$2.key" -CAcreateserial \
    -days 2 -extfile "$dir/$1.ext" -out "$dir/$1.pem" 2>/dev/null
  chmod 600 "$dir/$1.key"
}
make_ca ca
make_ca rogue-ca
make_cert server ca "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
make_cert client ca "extendedKeyUsage=clientAuth"
make_cert worker ca "extendedKeyUsage=clientAuth"
make_cert rogue-client rogue-ca "extendedKeyUsage=clientAuth"
openssl verify -CAfile "$dir/ca.pem" "$dir/server.pem" "$dir/client.pem" >/dev/null ||
  fail "openssl did not make a valid chain"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/token"
chmod 600 "$dir/token"

# --- a bad file stops the coordinator at start, naming the flag ------------------
status=0
timeout 30 "$scalelaw" coordinator --listen 127.0.0.1:0 --metrics-listen "" --db "$dir/bad.db" \
  --tls-cert "$dir/missing.pem" --tls-key "$dir/server.key" 2> "$dir/bad.err" || status=$?
[ "$status" -ne 0 ] || fail "a coordinator with a missing --tls-cert started"
grep -q -- "--tls-cert: cannot read" "$dir/bad.err" || fail "unclear error: $(cat "$dir/bad.err")"

# --- the coordinator: mutual TLS and a token --------------------------------------
export SCALELAW_WORKER=${SCALELAW_WORKER:-$(dirname "$scalelaw")/scalelaw-worker}
"$scalelaw" coordinator --listen 127.0.0.1:0 --metrics-listen "" --db "$dir/state.db" \
  --jobs-dir "$dir/jobs" --token-file "$dir/token" \
  --tls-cert "$dir/server.pem" --tls-key "$dir/server.key" --tls-ca "$dir/ca.pem" \
  --worker-tls-cert "$dir/worker.pem" --worker-tls-key "$dir/worker.key" \
  --lease-timeout-s 20 --heartbeat-interval-s 1 2> "$dir/coordinator.log" &
coordinator_pid=$!
address=
address=$(coordinator_address "$dir/coordinator.log") || address=
[ -n "$address" ] || fail "coordinator did not start"
grep -q "token required; mutual TLS" "$dir/coordinator.log" ||
  fail "the coordinator does not say it serves mutual TLS"
port=${address##*:}

good=(--tls-ca "$dir/ca.pem" --tls-cert "$dir/client.pem" --tls-key "$dir/client.key")
token=(--token-file "$dir/token")

# The right CA, certificate and token: submit and read the status back.
cat > "$dir/one.yaml" <<EOF
name: tls
context: 32
models:
  - shape: {n_layer: 1, d_model: 32, n_head: 1}
tokens: [40960]
seeds: [0]
optimizer: {lr: 3.0e-3}
training: {batch_size: 16, micro_batches: 2, threads: 1, eval_points: 2, eval_batches: 2,
           log_every_steps: 5}
max_attempts: 2
EOF
sweep_id=$(client sweep -c "$address" "${token[@]}" "${good[@]}" submit "$dir/one.yaml") ||
  fail "a TLS client with the right CA, certificate and token could not submit"
[ -n "$sweep_id" ] || fail "no sweep id"
client sweep -c "$address" "${token[@]}" "${good[@]}" status "$sweep_id" > "$dir/status" ||
  fail "status over TLS"
grep -q "$sweep_id" "$dir/status" || fail "status does not name the sweep: $(cat "$dir/status")"
# By the certificate's DNS name too.
client sweep -c "localhost:$port" "${token[@]}" "${good[@]}" list > "$dir/list" ||
  fail "list over TLS via localhost"
grep -q "$sweep_id" "$dir/list" || fail "list does not show the sweep: $(cat "$dir/list")"

refused() {  # refused WHAT PATTERN ARGS...: the call fails, and its error matches PATTERN
  local what=$1 pattern=$2
  shift 2
  if client sweep -c "$address" "$@" list > "$dir/refused.out" 2> "$dir/refused.err"; then
    fail "$what: was let in: $(cat "$dir/refused.out")"
  fi
  grep -qiE -- "$pattern" "$dir/refused.err" || fail "$what: unexpected error: $(cat "$dir/refused.err")"
  if grep -q "$sweep_id" "$dir/refused.out"; then fail "$what: saw the sweep"; fi
  echo "refused ($what): $(head -c 160 "$dir/refused.err")"
}
refused "plaintext client" "not reachable|unavailable" "${token[@]}"
refused "TLS client without a client certificate" "not reachable|unavailable" \
  "${token[@]}" --tls-ca "$dir/ca.pem"
refused "client trusting another CA" "not reachable|unavailable" \
  "${token[@]}" --tls-ca "$dir/rogue-ca.pem" --tls-cert "$dir/client.pem" --tls-key "$dir/client.key"
refused "client certificate from another CA" "not reachable|unavailable" \
  "${token[@]}" --tls-ca "$dir/ca.pem" --tls-cert "$dir/rogue-client.pem" --tls-key "$dir/rogue-client.key"
refused "TLS client without the token" "requires a token" "${good[@]}"
echo wrong-token > "$dir/wrong-token" && chmod 600 "$dir/wrong-token"
refused "TLS client with a wrong token" "does not match" --token-file "$dir/wrong-token" "${good[@]}"
refused "certificate without its key" "--tls-key: required with --tls-cert" \
  "${token[@]}" --tls-ca "$dir/ca.pem" --tls-cert "$dir/client.pem"
refused "missing CA file" "--tls-ca: cannot read" "${token[@]}" --tls-ca "$dir/nope.pem"

# The refusals left the coordinator serving the right client.
client sweep -c "$address" "${token[@]}" "${good[@]}" list | grep -q "$sweep_id" ||
  fail "the coordinator stopped serving after the refused clients"

# A token never goes in clear text off loopback: refused before dialling
# (10.255.255.1 is never contacted), unless overridden, which warns.
if client sweep -c 10.255.255.1:50051 "${token[@]}" list 2> "$dir/clear.err"; then
  fail "a plaintext client sent its token off loopback"
fi
grep -q "refusing to send the token over a plaintext channel.*use --tls-ca" "$dir/clear.err" ||
  fail "unclear refusal: $(cat "$dir/clear.err")"
status=0
timeout 30 env -u SCALELAW_TOKEN -u SCALELAW_TOKEN_FILE "$scalelaw" worker \
  --coordinator 10.255.255.1:50051 "${token[@]}" --exit-when-idle > "$dir/clear-worker.log" 2>&1 ||
  status=$?
[ "$status" -eq 2 ] || fail "a plaintext worker off loopback exited $status, not 2: $(cat "$dir/clear-worker.log")"
grep -q "use --tls-ca" "$dir/clear-worker.log" || fail "worker: unclear refusal: $(cat "$dir/clear-worker.log")"
# 0.0.0.0 is not loopback by name, and port 1 answers at once: nothing listens.
timeout 30 env -u SCALELAW_TOKEN "$scalelaw" sweep -c 0.0.0.0:1 "${token[@]}" \
  --insecure-token-over-plaintext list > /dev/null 2> "$dir/override.err" || true
grep -q "WARNING: sending the coordinator token to 0.0.0.0:1 in CLEAR TEXT" \
  "$dir/override.err" || fail "the override did not warn: $(cat "$dir/override.err")"

# --- a launched worker trains a trial over mutual TLS ---------------------------
if [ "$worker_built" = 1 ] && [ -x "$SCALELAW_WORKER" ]; then
  sed 's/^max_attempts: 2$/max_attempts: 2\nlauncher: {kind: local, workers: 1}/' "$dir/one.yaml" \
    > "$dir/launched.yaml"
  launched=$(client sweep -c "$address" "${token[@]}" "${good[@]}" submit "$dir/launched.yaml")
  for _ in $(seq 300); do
    client sweep -c "$address" "${token[@]}" "${good[@]}" status "$launched" > "$dir/status" || true
    grep -q "DONE" "$dir/status" && break
    sleep 0.5
  done
  grep -q "SUCCEEDED 1" "$dir/status" ||
    fail "the launched worker did not finish its trial: $(cat "$dir/status"; tail -n 20 "$dir"/jobs/local/"$launched"/*.log)"
  grep -q "coordinator 127.0.0.1:$port" "$dir/jobs/local/$launched/worker-0.log" ||
    fail "no log of the launched worker"
  echo "a launched worker trained a trial over mutual TLS"
else
  echo "skipped the worker trial (scalelaw-worker not built)"
fi
echo "tls: ok"
