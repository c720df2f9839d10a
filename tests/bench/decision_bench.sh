#!/usr/bin/env bash
# Decision benchmark (issue 4 "Benchmarks"): decisions/s and latency of
# gateway.v1.DecisionService/Decide on a real gctld at 1, 16 and 64 closed-loop callers and
# open-loop at 5,000/s, and audit rows/s (end to end, and the writer alone). Loopback only.
# See tests/bench/README.md.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: tests/bench/decision_bench.sh [options]
  --duration SECONDS     measured seconds per load run (default 10)
  --warmup SECONDS       unmeasured seconds before each run (default 2)
  --callers LIST         closed-loop caller counts (default 1,16,64)
  --rate N               open-loop decisions/s (default 5000; 0 skips the open-loop run)
  --rate-callers N       pacing threads of the open-loop run (default 4)
  --no-baseline          skip the open-loop runs against gw-decision-echo (the baseline)
  --channels N           gRPC channels (connections) of the load generator (default 1)
  --audit-duration S     length of the 64-caller run that measures the audit trail (default 12)
  --audit-callers N      callers of that run (default 64)
  --writer-rows N        rows of the audit-writer-alone run (default 200000; 0 skips it)
  --writer-batch N       rows per append_batch in that run (default 256)
  --json FILE            also write every run's numbers as JSON
  --keep DIR             copy logs, databases and results to DIR before cleaning up
  --rebuild              run ninja for the binaries even if they exist
  --check                exit 3 if a target is missed
Environment: GW_BUILD_DIR (default build/) is the build tree whose bin/ is used.
EOF
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build="${GW_BUILD_DIR:-$repo/build}"
helper=(/usr/bin/python3 "$repo/tests/bench/decision_bench.py")
duration=10 warmup=2 callers=1,16,64 rate=5000 rate_callers=4 channels=1
audit_duration=12 audit_callers=64 writer_rows=200000 writer_batch=256
json="" keep="" rebuild=0 check=0 baseline=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --callers) callers=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --rate-callers) rate_callers=$2; shift 2 ;;
    --no-baseline) baseline=0; shift ;;
    --channels) channels=$2; shift 2 ;;
    --audit-duration) audit_duration=$2; shift 2 ;;
    --audit-callers) audit_callers=$2; shift 2 ;;
    --writer-rows) writer_rows=$2; shift 2 ;;
    --writer-batch) writer_batch=$2; shift 2 ;;
    --json) json=$(realpath -m "$2"); shift 2 ;;
    --keep) keep=$(realpath -m "$2"); shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    --check) check=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "decision_bench: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

# shellcheck source-path=SCRIPTDIR source=bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_begin decision_bench

# --- Build. ------------------------------------------------------------------------------------
bins=(gctld gctl gw-decision-load gw-audit-writer-bench gw-decision-echo)
missing=0
for b in "${bins[@]}"; do [[ -x $build/bin/$b ]] || missing=1; done
if [[ $rebuild -eq 1 || $missing -eq 1 ]]; then
  log "building ${bins[*]} in $build"
  [[ -f $build/build.ninja ]] || cmake -S "$repo" -B "$build" -G Ninja >/dev/null ||
    die "cmake configure failed"
  ninja -C "$build" -j2 "${bins[@]}" || die "build failed"
fi
gctl_bin="$build/bin/gctl"
load_bin="$build/bin/gw-decision-load"

# --- Configuration: a service and a MAIL handler whose policy matches *@example.com. ---------
# The DESIGN.md §6 file format, applied with `gctl apply -f`.
cat >"$tmp/bench.yaml" <<'EOF'
policies:
  - name: bench-only-example-com
    reply: "550 5.7.1 Sender ${smtp.mail.from} not allowed"
    filters:
      - type: match
        attribute: smtp.mail.from
        wildcard: "*@example.com"
services:
  - name: bench
    host: 127.0.0.1
    port: 2525
    handlers:
      - command: mail
        address: "*"
        policy: bench-only-example-com
EOF

# start_gctld NAME: starts gctld on a free loopback port (bound by gctld itself: port 0 and
# --port-file) with database $tmp/NAME.db, applies bench.yaml; sets gctld_pid, control and
# handler_id.
start_gctld() {
  local name=$1
  "$build/bin/gctld" --listen 127.0.0.1:0 --port-file "$tmp/$name.port" --db "$tmp/$name.db" \
    --log-level warn >"$tmp/$name.log" 2>&1 &
  gctld_pid=$!
  server_pid=$gctld_pid
  pids+=("$gctld_pid")
  for _ in $(seq 100); do [[ -s $tmp/$name.port ]] && break; sleep 0.1; done
  [[ -s $tmp/$name.port ]] || { show_log "$tmp/$name.log"; die "gctld did not write its port"; }
  control="127.0.0.1:$(tr -d '[:space:]' <"$tmp/$name.port")"
  "$gctl_bin" --server "$control" apply -f "$tmp/bench.yaml" >"$tmp/$name.apply" 2>&1 ||
    { cat "$tmp/$name.apply" >&2; die "gctl apply -f bench.yaml failed"; }
  "$gctl_bin" --server "$control" -o json handler list bench >"$tmp/$name.handlers" 2>&1 ||
    { cat "$tmp/$name.handlers" >&2; die "gctl handler list failed"; }
  handler_id=$("${helper[@]}" handler-id "$tmp/$name.handlers" mail) ||
    die "no MAIL handler in $(cat "$tmp/$name.handlers")"
}

# stop_gctld: SIGTERM (gctld flushes the audit queue), waits for the exit; sets
# stop_seconds to how long that took.
stop_gctld() {
  local t0 t1
  t0=$(date +%s.%N)
  kill -TERM "$gctld_pid"
  local rc=0
  wait "$gctld_pid" || rc=$?
  t1=$(date +%s.%N)
  local kept=()  # forget the pid: it may be reused once waited for
  for p in "${pids[@]}"; do [[ $p == "$gctld_pid" ]] || kept+=("$p"); done
  pids=("${kept[@]}")
  stop_seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  [[ $rc -eq 0 ]] || log "warning: gctld exited with status $rc after SIGTERM"
}

cpu_seconds() {  # utime + stime of a process (all threads), seconds
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

# load NAME ARGS...: one gw-decision-load run against $control, its JSON in $tmp/NAME.json,
# with the CPU seconds of $server_pid ($server_name) during the run added as "server_cpu_s".
server_name=gctld
load() {
  local name=$1
  shift
  local c0 c1
  c0=$(cpu_seconds "$server_pid")
  "$load_bin" --target "$control" --service bench --command mail --handler-id "$handler_id" \
    --channels "$channels" "$@" >"$tmp/$name.json" 2>"$tmp/$name.err" ||
    { show_log "$tmp/$name.err"; die "gw-decision-load $name failed"; }
  c1=$(cpu_seconds "$server_pid")
  "${helper[@]}" annotate "$tmp/$name.json" --name "$name" --server "$server_name" \
    --server-cpu "$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')"
  "${helper[@]}" line "$tmp/$name.json" >&2
}

check_load() {
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  log "$1: load average $load on $(nproc) CPUs"
  if awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
    log "warning: the machine is busy; numbers will be noisy (see README, 'Reading the numbers')"
  fi
}

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
check_load "before the run"

# --- 1. Latency and throughput of Decide. ----------------------------------------------------------
start_gctld decide
log "gctld (pid $gctld_pid) on $control, MAIL handler $handler_id"
# The policy really runs: *@example.org is rejected, *@example.com goes on.
load verify-reject --callers 1 --duration 0.3 --warmup 0 --mail-from probe@example.org
load verify-continue --callers 1 --duration 0.3 --warmup 0 --mail-from probe@example.com
"${helper[@]}" expect-verdict "$tmp/verify-reject.json" VERDICT_REJECT ||
  die "the policy did not reject probe@example.org"
"${helper[@]}" expect-verdict "$tmp/verify-continue.json" VERDICT_CONTINUE ||
  die "the policy did not accept probe@example.com"

runs=()
IFS=, read -ra caller_list <<<"$callers"
for c in "${caller_list[@]}"; do
  load "closed-$c" --callers "$c" --duration "$duration" --warmup "$warmup" \
    --mail-from sender@example.com
  runs+=("$tmp/closed-$c.json")
done
if awk -v r="$rate" 'BEGIN { exit !(r > 0) }'; then
  load "open-$rate" --rate "$rate" --callers "$rate_callers" --duration "$duration" \
    --warmup "$warmup" --mail-from sender@example.com
  runs+=("$tmp/open-$rate.json")
fi
stop_gctld

# --- 1b. Baseline: the same open-loop load against gw-decision-echo, which answers every
# call at once (no policy, audit or SQLite), over gRPC's callback API (as gctld served it up
# to session 6) and over one completion-queue thread (as gctld serves it now): what gRPC,
# the node's client and the machine cost. ---------------------------------------------
if [[ $baseline -eq 1 ]] && awk -v r="$rate" 'BEGIN { exit !(r > 0) }'; then
  for api in callback cq; do
    "$build/bin/gw-decision-echo" --api "$api" --port-file "$tmp/echo-$api.port" \
      >"$tmp/echo-$api.log" 2>&1 &
    echo_pid=$!
    pids+=("$echo_pid")
    for _ in $(seq 100); do [[ -s $tmp/echo-$api.port ]] && break; sleep 0.1; done
    [[ -s $tmp/echo-$api.port ]] ||
      { show_log "$tmp/echo-$api.log"; die "gw-decision-echo did not start"; }
    saved_control=$control
    control="127.0.0.1:$(tr -d '[:space:]' <"$tmp/echo-$api.port")"
    server_pid=$echo_pid server_name="echo-$api"
    run_name="echo-${api:0:2}-$rate"
    load "$run_name" --rate "$rate" --callers "$rate_callers" --duration "$duration" \
      --warmup "$warmup" --mail-from sender@example.com
    runs+=("$tmp/$run_name.json")
    kill -TERM "$echo_pid"
    wait "$echo_pid" || log "warning: gw-decision-echo exited with status $? after SIGTERM"
    kept=()
    for p in "${pids[@]}"; do [[ $p == "$echo_pid" ]] || kept+=("$p"); done
    pids=("${kept[@]}")
    control=$saved_control server_name=gctld
  done
fi

# --- 2. Audit rows end to end: a fresh database, one long run, SIGTERM, count the rows. ------
start_gctld audit
log "audit run: gctld (pid $gctld_pid), $audit_callers callers for ${audit_duration}s"
load "audit-load" --callers "$audit_callers" --duration "$audit_duration" --warmup 0 \
  --mail-from sender@example.com
stop_gctld
"${helper[@]}" audit-count "$tmp/audit.db" "$tmp/audit-load.json" --stop-seconds "$stop_seconds" \
  >"$tmp/audit.json" || die "counting the audit rows failed"

# --- 3. The audit writer alone (AuditRepository::append_batch on a temp database). ----------
writer_args=()
if [[ $writer_rows -gt 0 ]]; then
  "$build/bin/gw-audit-writer-bench" --rows "$writer_rows" --batch "$writer_batch" --dir "$tmp" \
    >"$tmp/writer.json" 2>"$tmp/writer.err" ||
    { show_log "$tmp/writer.err"; die "gw-audit-writer-bench failed"; }
  writer_args=(--writer "$tmp/writer.json")
fi

check_load "after the run"
report_args=(report --started "$started" --audit "$tmp/audit.json" "${writer_args[@]}"
  --rate "$rate")
for r in "${runs[@]}"; do report_args+=(--run "$r"); done
[[ -n "$json" ]] && report_args+=(--json "$json")
[[ $check -eq 1 ]] && report_args+=(--check)
"${helper[@]}" "${report_args[@]}"
