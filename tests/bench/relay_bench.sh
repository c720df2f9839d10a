#!/usr/bin/env bash
# Relay benchmark (issue 2): Postfix smtp-source -> smtp-sink directly, through HAProxy in TCP
# mode and through grelayd, in one run, on loopback only. With --policy (issue 4): grelayd
# without handlers against grelayd with HELO, MAIL and RCPT handlers, in one run.
# See tests/bench/README.md.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: tests/bench/relay_bench.sh [options]
  --budget SECONDS       length of each main run (default 5; a short probe run precedes it)
  --sizes LIST           message payload sizes in octets, smtp-source -l (default 1024,102400)
  --sessions LIST        concurrent sessions, smtp-source -s (default 1,10,100)
  --modes LIST           close = one message per connection (smtp-source default),
                         reuse = all messages of a session on one connection (-d)
                         (default close,reuse)
  --paths LIST           any of direct,haproxy,grelayd,grelayd-policy (default
                         direct,haproxy,grelayd; with --policy grelayd,grelayd-policy)
  --policy               issue 4: grelayd with HELO, MAIL and RCPT handlers (path
                         grelayd-policy, a second service on the same grelayd and sink)
                         against grelayd without (path grelayd); defaults become
                         --sizes 1024 --sessions 10 --modes close,reuse, target >= 0.5x
  --grelayd-threads N    grelayd --threads (default 1)
  --haproxy-threads N    HAProxy nbthread (default 1, like grelayd)
  --max-messages N       cap on messages per main run (default 40000)
  --repeat N             runs per point and path, the median is reported (default 1)
  --json FILE            also write every run's numbers as JSON
  --keep DIR             copy logs, haproxy.cfg and results to DIR before cleaning up
  --rebuild              run ninja for gctld grelayd gctl even if the binaries exist
  --check                exit 3 if a target point (10 and 100 sessions) is below 1.0x HAProxy
                         (with --policy: grelayd-policy below 0.5x grelayd)
  --skip-setup           do not run deploy/setup.sh --bench
EOF
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build="${GW_BUILD_DIR:-$repo/build}"
helper=(/usr/bin/python3 "$repo/tests/bench/relay_bench.py")
budget=5 sizes="" sessions="" modes="" paths=""
grelayd_threads=1 haproxy_threads=1 max_messages=40000 repeat=1 json="" keep="" rebuild=0
check=0 setup=1 policy=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --budget) budget=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --sessions) sessions=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --paths) paths=$2; shift 2 ;;
    --grelayd-threads) grelayd_threads=$2; shift 2 ;;
    --haproxy-threads) haproxy_threads=$2; shift 2 ;;
    --max-messages) max_messages=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --json) json=$(realpath -m "$2"); shift 2 ;;
    --keep) keep=$(realpath -m "$2"); shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    --check) check=1; shift ;;
    --skip-setup) setup=0; shift ;;
    --policy) policy=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "relay_bench: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
if [[ $policy -eq 1 ]]; then
  : "${sizes:=1024}" "${sessions:=10}" "${modes:=close,reuse}" "${paths:=grelayd,grelayd-policy}"
else
  : "${sizes:=1024,102400}" "${sessions:=1,10,100}" "${modes:=close,reuse}"
  : "${paths:=direct,haproxy,grelayd}"
fi
want() { [[ ",$paths," == *",$1,"* ]]; }
want_relay() { want grelayd || want grelayd-policy; }

# shellcheck source-path=SCRIPTDIR source=bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_begin relay_bench

# --- Packages: postfix (smtp-source, smtp-sink) and haproxy, without their daemons. ----------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
had_postfix=0 had_haproxy=0
installed postfix && had_postfix=1
installed haproxy && had_haproxy=1
if [[ $setup -eq 1 ]]; then
  "$repo/deploy/setup.sh" --bench || die "deploy/setup.sh --bench failed"
fi
for tool in /usr/sbin/smtp-source /usr/sbin/smtp-sink; do
  [[ -x $tool ]] || die "$tool missing (Debian package postfix; run deploy/setup.sh --bench)"
done
if want haproxy; then
  command -v haproxy >/dev/null || die "haproxy missing (run deploy/setup.sh --bench)"
fi
systemd_up=0
[[ -d /run/systemd/system ]] && command -v systemctl >/dev/null && systemd_up=1
sudo_cmd=()
[[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
# Postfix was preseeded as "No configuration", so no daemon should be running; if the package
# was installed just now and one is, it is ours to stop. A mail server that was already
# there before is left alone: we never use port 25.
if [[ $had_postfix -eq 0 && $systemd_up -eq 1 ]] && systemctl is-active --quiet postfix; then
  log "stopping and disabling the postfix service the package just started"
  "${sudo_cmd[@]}" systemctl disable --now postfix >/dev/null 2>&1 || true
fi
if ss -Hltn 'sport = :25' 2>/dev/null | grep -q .; then
  log "note: something listens on port 25 (not started by this benchmark; not used by it)"
fi
# Debian's default haproxy.cfg binds no port, but a system HAProxy we just installed still
# takes CPU and memory on a 2-core box: stop it so the only HAProxy running is ours.
if [[ $had_haproxy -eq 0 && $systemd_up -eq 1 ]] && systemctl is-active --quiet haproxy; then
  log "stopping and disabling the haproxy service the package just started"
  "${sudo_cmd[@]}" systemctl disable --now haproxy >/dev/null 2>&1 || true
fi

# --- Build. ------------------------------------------------------------------------------------
if want_relay; then
  if [[ $rebuild -eq 1 || ! -x $build/bin/gctld || ! -x $build/bin/grelayd || ! -x $build/bin/gctl ]]; then
    log "building gctld grelayd gctl in $build"
    [[ -f $build/build.ninja ]] || cmake -S "$repo" -B "$build" -G Ninja >/dev/null ||
      die "cmake configure failed"
    ninja -C "$build" gctld grelayd gctl || die "build failed"
  fi
fi

free_port() { "${helper[@]}" free-port; }
wait_banner() { "${helper[@]}" wait-banner "$1" --timeout "${2:-10}"; }

# --- Upstream: smtp-sink. ------------------------------------------------------------------------
# -c: counters (sessions, QUITs, messages) rewritten on one line, used to check that every
# message sent arrived exactly once. -m 1000: up to 1000 simultaneous connections (default 256).
# smtp-sink advertises PIPELINING and takes any message size (it advertises no SIZE limit).
sink_port=$(free_port)
sink_user=()
[[ $(id -u) -eq 0 ]] && sink_user=(-u nobody)  # required when started as root
/usr/sbin/smtp-sink "${sink_user[@]}" -c -m 1000 "127.0.0.1:$sink_port" 1000 \
  >"$tmp/smtp-sink.out" 2>"$tmp/smtp-sink.err" &
pids+=($!)
wait_banner "$sink_port" || { show_log "$tmp/smtp-sink.err"; die "smtp-sink did not start"; }
log "smtp-sink on 127.0.0.1:$sink_port"
path_args=()
want direct && path_args+=(--path "direct=$sink_port")

# --- HAProxy in TCP mode. ------------------------------------------------------------------------
if want haproxy; then
  haproxy_port=$(free_port)
  cat >"$tmp/haproxy.cfg" <<EOF
# Generated by relay_bench.sh: plain TCP proxy to smtp-sink. No "log" line: nothing to syslog.
global
    maxconn 4000
    nbthread $haproxy_threads

defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s

frontend bench_in
    bind 127.0.0.1:$haproxy_port
    default_backend bench_sink

backend bench_sink
    server sink 127.0.0.1:$sink_port
EOF
  haproxy -c -q -f "$tmp/haproxy.cfg" || die "generated haproxy.cfg is invalid"
  # -db: stay in the foreground (no daemon, no master process); we stop it by pid.
  haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
  haproxy_pid=$!
  pids+=("$haproxy_pid")
  wait_banner "$haproxy_port" || { show_log "$tmp/haproxy.log"; die "haproxy did not start"; }
  log "haproxy (pid $haproxy_pid, nbthread $haproxy_threads) on 127.0.0.1:$haproxy_port"
  path_args+=(--path "haproxy=$haproxy_port:$haproxy_pid")
fi

# --- grelayd, configured through gctld and gctl. -----------------------------------------------
if want_relay; then
  "$build/bin/gctld" --listen 127.0.0.1:0 --port-file "$tmp/gctld.port" --db "$tmp/gctld.db" \
    >"$tmp/gctld.log" 2>&1 &
  gctld_pid=$!
  pids+=("$gctld_pid")
  for _ in $(seq 100); do [[ -s $tmp/gctld.port ]] && break; sleep 0.1; done
  [[ -s $tmp/gctld.port ]] || { show_log "$tmp/gctld.log"; die "gctld did not write its port"; }
  control="127.0.0.1:$(tr -d '[:space:]' <"$tmp/gctld.port")"
  "$build/bin/grelayd" --control-plane "$control" --node-id bench --threads "$grelayd_threads" \
    --hostname bench.relay ${GRELAYD_EXTRA:-} >"$tmp/grelayd.log" 2>&1 &
  grelayd_pid=$!
  pids+=("$grelayd_pid")
  relay_port=$(free_port)
  gctl=("$build/bin/gctl" --server "$control")
  "${gctl[@]}" service add bench --host 127.0.0.1 --port "$sink_port" \
    --max-sessions 5000 --max-sessions-per-client 5000 --max-message-size 104857600 \
    >"$tmp/gctl.out" 2>&1 || { cat "$tmp/gctl.out" >&2; die "gctl service add failed"; }
  "${gctl[@]}" interface add bench --type tcp --port "$relay_port" --bind 127.0.0.1 \
    >>"$tmp/gctl.out" 2>&1 || { cat "$tmp/gctl.out" >&2; die "gctl interface add failed"; }
  wait_banner "$relay_port" 15 || {
    show_log "$tmp/gctld.log"; show_log "$tmp/grelayd.log"; die "grelayd did not open its port"
  }
  kill -0 "$grelayd_pid" || die "grelayd exited"
  log "grelayd (pid $grelayd_pid, threads $grelayd_threads) on 127.0.0.1:$relay_port"
  if want grelayd; then
    if [[ $policy -eq 1 ]]; then
      # Decisions cost CPU in gctld too: with --policy its CPU is counted with grelayd's.
      path_args+=(--path "grelayd=$relay_port:grelayd@$grelayd_pid,gctld@$gctld_pid")
    else
      path_args+=(--path "grelayd=$relay_port:$grelayd_pid")
    fi
  fi
fi

# --- grelayd with handlers (issue 4): a second service on the same sink and grelayd. ---------
# HELO: policy `true`; MAIL: match smtp.mail.from wildcard *@* (smtp-source sends
# sender@bench.example); RCPT: `true`. Applied from a DESIGN.md §6 file with `gctl apply -f`.
policy_args=()
if want grelayd-policy; then
  policy_port=$(free_port)
  cat >"$tmp/policy.yaml" <<EOF
policies:
  - name: bench-helo-true
    filters:
      - type: "true"
  - name: bench-mail-any
    filters:
      - type: match
        attribute: smtp.mail.from
        wildcard: "*@*"
  - name: bench-rcpt-true
    filters:
      - type: "true"
services:
  - name: bench-policy
    host: 127.0.0.1
    port: $sink_port
    limits:
      max_sessions: 5000
      max_sessions_per_client: 5000
      max_message_size: 104857600
    interfaces:
      - type: tcp
        port: $policy_port
        bind: 127.0.0.1
    handlers:
      - command: helo
        policy: bench-helo-true
      - command: mail
        address: "*"
        policy: bench-mail-any
      - command: rcpt
        address: "*"
        policy: bench-rcpt-true
EOF
  "${gctl[@]}" apply -f "$tmp/policy.yaml" >>"$tmp/gctl.out" 2>&1 ||
    { cat "$tmp/gctl.out" >&2; die "gctl apply -f policy.yaml failed"; }
  wait_banner "$policy_port" 15 || {
    show_log "$tmp/gctld.log"; show_log "$tmp/grelayd.log"; die "grelayd did not open $policy_port"
  }
  log "grelayd with HELO, MAIL and RCPT handlers (service bench-policy) on 127.0.0.1:$policy_port"
  path_args+=(--path "grelayd-policy=$policy_port:grelayd@$grelayd_pid,gctld@$gctld_pid")
  policy_args=(--audit-db "$tmp/gctld.db")
fi
if [[ $policy -eq 1 ]]; then policy_args+=(--policy); fi

[[ ${#path_args[@]} -gt 0 ]] || die "no path selected"

# --- Measure. ------------------------------------------------------------------------------------
run_args=(run --sink-log "$tmp/smtp-sink.out" "${path_args[@]}" --sizes "$sizes"
  --sessions "$sessions" --modes "$modes" --budget "$budget" --max-messages "$max_messages"
  --repeat "$repeat" ${policy_args[@]+"${policy_args[@]}"})
[[ -n "$json" ]] && run_args+=(--json "$json")
[[ $check -eq 1 ]] && run_args+=(--check)
# The load generator, the sink and the proxy share the CPUs: other work skews every ratio.
check_load() {
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  log "$1: load average $load on $(nproc) CPUs"
  if awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
    log "warning: the machine is busy; numbers will be noisy (see README, 'Reading the numbers')"
  fi
}
check_load "before the run"
rc=0
"${helper[@]}" "${run_args[@]}" || rc=$?
check_load "after the run"
if [[ $rc -ne 0 && $rc -ne 3 ]]; then
  show_log "$tmp/smtp-sink.err"
  [[ -n ${haproxy_pid:-} ]] && show_log "$tmp/haproxy.log"
  [[ -n ${grelayd_pid:-} ]] && show_log "$tmp/grelayd.log"
fi
exit "$rc"
