#!/usr/bin/env bash
# The README's first command: builds if needed, starts gctld, grelayd and a local capture
# upstream (aiosmtpd), configures a service and a TCP interface with gctl, relays one real
# message with swaks, shows the dialogue and the stored message, then stops everything.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/deploy/setup.sh"

# GW_BIN_DIR: use the binaries of another build tree (CTest runs the demo that way).
bin="${GW_BIN_DIR:-$root/build/bin}"
if [[ -z ${GW_BIN_DIR:-} && (! -x "$bin/gctld" || ! -x "$bin/grelayd" || ! -x "$bin/gctl") ]]; then
  echo "demo: building (first run takes a few minutes)"
  cmake -S "$root" -B "$root/build" -G Ninja >/dev/null
  ninja -C "$root/build" gctld grelayd gctl
fi

work=$(mktemp -d /tmp/gw-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    if /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2).close()" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "demo: nothing listens on 127.0.0.1:$1" >&2; return 1
}

upstream_port=$(free_port)
relay_port=$(free_port)
# Python's Maildir creates tmp/new/cur only for a folder it creates itself.
mkdir -p "$work/maildir/tmp" "$work/maildir/new" "$work/maildir/cur"
echo "== starting the capture upstream (aiosmtpd) on 127.0.0.1:$upstream_port"
/usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$upstream_port" \
  -c aiosmtpd.handlers.Mailbox "$work/maildir" 2>"$work/upstream.log" &
pids+=($!)
echo "== starting gctld (control plane)"
"$bin/gctld" --listen 127.0.0.1:0 --port-file "$work/gctld.port" --db "$work/gctld.db" \
  2>"$work/gctld.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s "$work/gctld.port" ]] && break; sleep 0.1; done
export GCTL_SERVER="127.0.0.1:$(cat "$work/gctld.port")"
echo "== starting grelayd (relay node relay-1)"
"$bin/grelayd" --control-plane "$GCTL_SERVER" --node-id relay-1 --instance default \
  --hostname relay.demo.test 2>"$work/grelayd.log" &
pids+=($!)
wait_port "$upstream_port"

echo "== configuring with gctl"
set -x
"$bin/gctl" service add demo --host 127.0.0.1 --port "$upstream_port"
"$bin/gctl" interface add demo --type tcp --port "$relay_port"
"$bin/gctl" service list
{ set +x; } 2>/dev/null
wait_port "$relay_port"
"$bin/gctl" node list

echo "== sending a message through the relay with swaks"
swaks --server "127.0.0.1:$relay_port" --ehlo client.demo.test \
  --from alice@example.com --to bob@example.org \
  --header "Subject: relayed by grelayd" \
  --body $'Hello through the relay.\n.a line that starts with a dot\nBye.'

echo "== the message as the upstream stored it"
stored=""
for _ in $(seq 50); do
  stored=$(find "$work/maildir/new" -type f | head -1)
  [[ -n $stored ]] && break
  sleep 0.1
done
[[ -n $stored ]] || { echo "demo: the upstream stored no message" >&2; exit 1; }
echo "--- $stored"
cat "$stored"
# The relay kept the message byte for byte: the dot-stuffed line arrives with one dot.
grep -q '^Subject: relayed by grelayd' "$stored" &&
  grep -q '^\.a line that starts with a dot' "$stored" ||
  { echo "demo: the stored message is not the one sent" >&2; exit 1; }

echo "== relay log"
cat "$work/grelayd.log"
echo "== demo done: stopping everything"
