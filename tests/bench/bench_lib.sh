# Shared by the benchmark scripts (relay_bench.sh, decision_bench.sh, tls/tls_bench.sh):
# logging, a temporary directory, and the clean-up that ends every process they started.
# Source it, then call `bench_begin NAME` (after option parsing: it reads $keep, the
# --keep DIR option, at exit).

log() { echo "$bench_name: $*" >&2; }
die() { log "error: $*"; exit 1; }

# bench_begin NAME: $tmp becomes a fresh /tmp/NAME.XXXXXX, $pids the list of processes to end
# (append each pid you start); on exit they are ended in reverse order (TERM, up to 10 s,
# then KILL), $tmp is copied to $keep when set (never private keys: *.key files stay behind)
# and removed.
bench_begin() {
  bench_name=$1
  tmp=$(mktemp -d "/tmp/$1.XXXXXX")
  pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

# shellcheck disable=SC2317  # called from the EXIT trap
bench_cleanup() {
  local rc=$?
  set +e
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [[ -n "${keep:-}" ]]; then
    mkdir -p "$keep" && (cd "$tmp" && find . -type f ! -name '*.key' -exec cp --parents {} "$keep"/ \;) &&
      log "logs kept in $keep"
  fi
  rm -rf "$tmp"
  exit "$rc"
}

show_log() {  # last lines of a log, for a failure report
  [[ -f "$1" ]] && { log "--- tail of $(basename "$1")"; tail -n 20 "$1" >&2; }
  return 0
}
