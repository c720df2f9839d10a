#!/usr/bin/env bash
# TLS relay benchmark (issue 3): gw-smtp-source -> grelayd -> gw-smtp-sink with STARTTLS on both
# legs, beside the same path in plaintext and the sink reached directly, in one run, on loopback
# only, with throwaway certificates. See tests/bench/README.md ("TLS relay benchmark").
set -euo pipefail

usage() {
  cat <<'EOF'
usage: tests/bench/tls/tls_bench.sh [options]
  --budget SECONDS       length of each measured run (default 5; a warm-up run precedes it)
  --warmup SECONDS       length of the warm-up run per point and path (default 1; 0: none)
  --sizes LIST           message payload sizes in octets (default 1024)
  --sessions LIST        concurrent sessions (default 10,100)
  --modes LIST           close = one message per connection (one TLS handshake per message),
                         reuse = all messages of a session on one connection (default close,reuse)
  --paths LIST           any of relay-plain,relay-tls,direct-plain,direct-tls
                         (default: all four; direct-* are the baselines without grelayd)
  --key-type rsa|ec      server keys: RSA 2048 or ECDSA P-256 (default rsa)
  --grelayd-threads N    grelayd --threads (default 1)
  --sink-threads N       gw-smtp-sink --threads (default 1)
  --source-threads N     gw-smtp-source --threads (default 1)
  --repeat N             runs per point and path, the median is reported (default 1)
  --json FILE            also write every run's numbers as JSON
  --keep DIR             copy logs, certificates (not the keys) and results to DIR
  --rebuild              run ninja for the binaries even if they exist
  --skip-setup           do not run deploy/setup.sh (it installs openssl and the build tools)
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
build="${GW_BUILD_DIR:-$repo/build}"
helper=(/usr/bin/python3 "$here/tls_bench.py")
budget=5 warmup=1 sizes=1024 sessions=10,100 modes=close,reuse
paths=relay-plain,relay-tls,direct-plain,direct-tls
key_type=rsa grelayd_threads=1 sink_threads=1 source_threads=1 repeat=1
json="" keep="" rebuild=0 setup=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --budget) budget=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --sessions) sessions=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --paths) paths=$2; shift 2 ;;
    --key-type) key_type=$2; shift 2 ;;
    --grelayd-threads) grelayd_threads=$2; shift 2 ;;
    --sink-threads) sink_threads=$2; shift 2 ;;
    --source-threads) source_threads=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --json) json=$(realpath -m "$2"); shift 2 ;;
    --keep) keep=$(realpath -m "$2"); shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    --skip-setup) setup=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "tls_bench: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
want() { [[ ",$paths," == *",$1,"* ]]; }
want_relay() { want relay-plain || want relay-tls; }
[[ $key_type == rsa || $key_type == ec ]] || { echo "tls_bench: --key-type rsa|ec" >&2; exit 2; }

# shellcheck source-path=SCRIPTDIR source=../bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../bench_lib.sh"
bench_begin tls_bench

# --- Packages and binaries. --------------------------------------------------------------------
if [[ $setup -eq 1 ]]; then
  "$repo/deploy/setup.sh" || die "deploy/setup.sh failed"
fi
command -v openssl >/dev/null || die "openssl missing (Debian package openssl; run deploy/setup.sh)"
targets=(gw-smtp-sink gw-smtp-source)
want_relay && targets+=(gctld grelayd gctl)
missing=0
for t in "${targets[@]}"; do [[ -x $build/bin/$t ]] || missing=1; done
if [[ $rebuild -eq 1 || $missing -eq 1 ]]; then
  log "building ${targets[*]} in $build"
  [[ -f $build/build.ninja ]] || cmake -S "$repo" -B "$build" -G Ninja >/dev/null ||
    die "cmake configure failed"
  ninja -C "$build" "${targets[@]}" || die "build failed"
fi
sink_bin=$build/bin/gw-smtp-sink
source_bin=$build/bin/gw-smtp-source

# --- Throwaway PKI: a CA, and one server certificate each for the sink and grelayd. -------------
# Both name their DNS host and IP:127.0.0.1, so either can be checked (RFC 6125 / RFC 5280 SAN).
pki=$tmp/pki
mkdir -p "$pki"
newkey=(-newkey rsa:2048)
key_usage=digitalSignature,keyEncipherment
if [[ $key_type == ec ]]; then
  newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
  key_usage=digitalSignature
fi
openssl req -x509 "${newkey[@]}" -nodes -keyout "$pki/ca.key" -out "$pki/ca.pem" -days 2 \
  -subj "/CN=gw tls_bench CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$pki/openssl.log" ||
  { cat "$pki/openssl.log" >&2; die "openssl: CA"; }
for name in sink relay; do
  openssl req "${newkey[@]}" -nodes -keyout "$pki/$name.key" -out "$pki/$name.csr" \
    -subj "/CN=$name.bench.test" 2>>"$pki/openssl.log" || die "openssl: $name key"
  printf '%s\n' "subjectAltName=DNS:$name.bench.test,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
    "keyUsage=critical,$key_usage" "extendedKeyUsage=serverAuth" >"$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
    -CAcreateserial -days 2 -out "$pki/$name.pem" -extfile "$pki/$name.ext" \
    2>>"$pki/openssl.log" || die "openssl: $name certificate"
done
log "certificates ($key_type) in $pki"

free_port() { "${helper[@]}" free-port; }
wait_banner() { "${helper[@]}" wait-banner "$1" --timeout "${2:-10}"; }

# --- Upstreams: gw-smtp-sink without and with STARTTLS. -----------------------------------------
start_sink() {  # start_sink NAME [--cert F --key F]: sets sink_port and sink_pid
  local name=$1
  shift
  "$sink_bin" --port 0 --port-file "$tmp/$name.port" --threads "$sink_threads" \
    --hostname "$name.bench.test" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  sink_pid=$!
  pids+=("$sink_pid")
  for _ in $(seq 100); do [[ -s $tmp/$name.port ]] && break; sleep 0.05; done
  [[ -s $tmp/$name.port ]] || { show_log "$tmp/$name.err"; die "$name did not start"; }
  sink_port=$(tr -d '[:space:]' <"$tmp/$name.port")
  wait_banner "$sink_port" || { show_log "$tmp/$name.err"; die "$name does not greet"; }
}
start_sink sink-plain
plain_sink_port=$sink_port plain_sink_pid=$sink_pid
start_sink sink-tls --cert "$pki/sink.pem" --key "$pki/sink.key"
tls_sink_port=$sink_port tls_sink_pid=$sink_pid
log "gw-smtp-sink on 127.0.0.1:$plain_sink_port (plaintext), 127.0.0.1:$tls_sink_port (STARTTLS)"
path_args=()
want direct-plain &&
  path_args+=(--path "direct-plain,$plain_sink_port,$plain_sink_port,0,-,sink@$plain_sink_pid")
want direct-tls &&
  path_args+=(--path "direct-tls,$tls_sink_port,$tls_sink_port,1,sink.bench.test,sink@$tls_sink_pid")

# --- grelayd, configured through gctld and gctl. -----------------------------------------------
if want_relay; then
  "$build/bin/gctld" --listen 127.0.0.1:0 --port-file "$tmp/gctld.port" --db "$tmp/gctld.db" \
    >"$tmp/gctld.log" 2>&1 &
  gctld_pid=$!
  pids+=("$gctld_pid")
  for _ in $(seq 100); do [[ -s $tmp/gctld.port ]] && break; sleep 0.1; done
  [[ -s $tmp/gctld.port ]] || { show_log "$tmp/gctld.log"; die "gctld did not write its port"; }
  control="127.0.0.1:$(tr -d '[:space:]' <"$tmp/gctld.port")"
  "$build/bin/grelayd" --control-plane "$control" --node-id tls-bench \
    --threads "$grelayd_threads" --hostname relay.bench.test >"$tmp/grelayd.log" 2>&1 &
  grelayd_pid=$!
  pids+=("$grelayd_pid")
  gctl=("$build/bin/gctl" --server "$control")
  run_gctl() { "${gctl[@]}" "$@" >>"$tmp/gctl.out" 2>&1 || { tail -n 5 "$tmp/gctl.out" >&2; die "gctl $*"; }; }
  limits=(--max-sessions 5000 --max-sessions-per-client 5000 --max-message-size 104857600)
  # The certificate store: grelayd's server certificate with its key, the CA as trust anchor.
  run_gctl cert add relay --cert "$pki/relay.pem" --key "$pki/relay.key"
  run_gctl cert add bench-ca --cert "$pki/ca.pem"
  relay_plain_port=$(free_port)
  run_gctl service add bench-plain --host 127.0.0.1 --port "$plain_sink_port" "${limits[@]}"
  run_gctl interface add bench-plain --type tcp --port "$relay_plain_port" --bind 127.0.0.1
  relay_tls_port=$(free_port)
  # STARTTLS upstream, verified against the CA and the name in the sink's certificate.
  run_gctl service add bench-tls --host 127.0.0.1 --port "$tls_sink_port" "${limits[@]}" \
    --security starttls --trusted-ca bench-ca --tls-server-name sink.bench.test
  run_gctl interface add bench-tls --type starttls --port "$relay_tls_port" --bind 127.0.0.1 \
    --cert relay
  for port in "$relay_plain_port" "$relay_tls_port"; do
    wait_banner "$port" 15 || {
      show_log "$tmp/gctld.log"; show_log "$tmp/grelayd.log"; die "grelayd did not open $port"
    }
  done
  kill -0 "$grelayd_pid" || die "grelayd exited"
  log "grelayd (pid $grelayd_pid, threads $grelayd_threads) on 127.0.0.1:$relay_plain_port" \
    "(tcp) and 127.0.0.1:$relay_tls_port (starttls)"
  want relay-plain && path_args+=(--path
    "relay-plain,$relay_plain_port,$plain_sink_port,0,-,grelayd@$grelayd_pid+sink@$plain_sink_pid")
  want relay-tls && path_args+=(--path
    "relay-tls,$relay_tls_port,$tls_sink_port,1,relay.bench.test,grelayd@$grelayd_pid+sink@$tls_sink_pid")
fi
[[ ${#path_args[@]} -gt 0 ]] || die "no path selected"

# --- Measure. ------------------------------------------------------------------------------------
started=$(date -Is)
run_args=(run --source "$source_bin" --ca "$pki/ca.pem" "${path_args[@]}" --sizes "$sizes"
  --sessions "$sessions" --modes "$modes" --budget "$budget" --warmup "$warmup"
  --repeat "$repeat" --source-threads "$source_threads" --key-type "$key_type"
  --started "$started")
[[ -n "$json" ]] && run_args+=(--json "$json")
# The load generator, the sinks and grelayd share the CPUs: other work skews every ratio.
check_load() {
  local load
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  log "$1: load average $load on $(nproc) CPUs"
  if awk -v l="${load%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
    log "warning: the machine is busy; numbers will be noisy (see README)"
  fi
}
log "started $started"
check_load "before the run"
rc=0
"${helper[@]}" "${run_args[@]}" || rc=$?
check_load "after the run"
for p in "${pids[@]}"; do
  kill -0 "$p" 2>/dev/null || { log "error: process $p died during the run"; rc=1; }
done
if [[ $rc -ne 0 ]]; then
  show_log "$tmp/sink-plain.err"
  show_log "$tmp/sink-tls.err"
  [[ -n ${grelayd_pid:-} ]] && show_log "$tmp/grelayd.log"
fi
exit "$rc"
