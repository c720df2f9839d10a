#!/usr/bin/python3
"""Measurement half of tls_bench.sh: free ports, banner waits, the sinks' XSTATS counters,
timed gw-smtp-source runs against each path (grelayd plaintext and STARTTLS, the sink directly
plaintext and STARTTLS), CPU from /proc, the tables and the JSON."""

import argparse
import json
import os
import socket
import subprocess
import sys

CLK_TCK = os.sysconf("SC_CLK_TCK")
# Summary pairs: (label, plaintext path, TLS path).
PAIRS = (("grelayd", "relay-plain", "relay-tls"), ("direct", "direct-plain", "direct-tls"))


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench_common import cmd_free_port, cmd_wait_banner, log  # noqa: E402


def sink_stats(port):
    """gw-smtp-sink's counters, from its XSTATS command: {"messages": N, "handshakes": N, ...}."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rwb")
        f.readline()  # banner
        f.write(b"XSTATS\r\n")
        f.flush()
        line = f.readline().decode("ascii", "replace").strip()
        f.write(b"QUIT\r\n")
        f.flush()
        f.readline()
    if not line.startswith("250 "):
        raise RunError(f"XSTATS on port {port} answered {line!r}")
    # Note: this connection itself counts as one session of the sink (source_run allows for it).
    return {k: int(v) for k, v in (field.split("=", 1) for field in line[4:].split())}


def cmd_sink_stats(args):
    print(json.dumps(sink_stats(args.port)))
    return 0


# ---------------------------------------------------------------------------------------
# /proc readers.

def proc_cpu_seconds(pid):
    """utime + stime of the whole process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------------------
# One gw-smtp-source run, checked against the sink's counters.

class RunError(Exception):
    pass


class Path:
    """--path NAME,PORT,SINK_PORT,TLS(0|1),SERVER_NAME,PIDS (PIDS: name@pid+name@pid or -)."""

    def __init__(self, spec):
        fields = spec.split(",")
        if len(fields) != 6:
            raise argparse.ArgumentTypeError(f"bad --path {spec!r}")
        self.name = fields[0]
        self.port = int(fields[1])
        self.sink_port = int(fields[2])
        self.tls = fields[3] == "1"
        self.server_name = fields[4]
        self.pids = {}
        if fields[5] != "-":
            for item in fields[5].split("+"):
                name, pid = item.split("@")
                self.pids[name] = int(pid)


def source_run(args, path, mode, size, sessions, seconds):
    cmd = [args.source, "--port", str(path.port), "--sessions", str(sessions), "--duration",
           f"{seconds:g}", "--size", str(size), "--mode", mode, "--threads",
           str(args.source_threads)]
    if path.tls:
        cmd += ["--starttls", "--tls-ca", args.ca, "--tls-server-name", path.server_name]
    before = sink_stats(path.sink_port)
    cpu_before = {name: proc_cpu_seconds(pid) for name, pid in path.pids.items()}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 180)
    except subprocess.TimeoutExpired as e:
        raise RunError(f"{' '.join(cmd)} did not finish within {seconds + 180:.0f}s") from e
    cpu_after = {name: proc_cpu_seconds(pid) for name, pid in path.pids.items()}
    if proc.returncode not in (0, 1):
        raise RunError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-600:]}")
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        raise RunError(f"{' '.join(cmd)} printed no JSON: {proc.stdout[-300:]!r}") from e
    after = sink_stats(path.sink_port)
    # Every 250 the source saw was counted by the sink before it was sent: exact equality.
    arrived = after["messages"] - before["messages"]
    report["sink_messages"] = arrived
    report["sink_handshakes"] = after["handshakes"] - before["handshakes"]
    report["sink_sessions"] = after["sessions"] - before["sessions"] - 1  # minus our XSTATS
    report["sink_tls_failures"] = after["tls_failures"] - before["tls_failures"]
    report["count_ok"] = arrived == report["messages"]
    report["cpu_s"] = {name: cpu_after[name] - cpu_before[name] for name in path.pids}
    report["cmd"] = " ".join(cmd)
    return report


def measure(args, path, mode, size, sessions):
    """A warm-up run (checked, not reported), then the main run of --budget seconds."""
    if args.warmup > 0:
        warm = source_run(args, path, mode, size, sessions, args.warmup)
        if warm["errors"] or not warm["count_ok"]:
            log(f"tls_bench: warm-up of {path.name}: {warm['errors']} errors "
                f"{warm['error_kinds']}, source {warm['messages']} / sink "
                f"{warm['sink_messages']} messages")
    r = source_run(args, path, mode, size, sessions, args.budget)
    elapsed = r["elapsed_s"]
    row = {
        "mode": mode, "size": size, "sessions": sessions, "path": path.name,
        "messages": r["messages"], "seconds": round(elapsed, 3),
        "rate": r["messages_per_s"],
        "handshakes": r["handshakes"], "handshakes_per_s": r["handshakes_per_s"],
        "upstream_handshakes": r["sink_handshakes"],
        "upstream_handshakes_per_s": r["sink_handshakes"] / elapsed if elapsed else 0,
        "connections": r["connections"], "sink_sessions": r["sink_sessions"],
        # Upstream connections the sink saw per client connection: 1 directly; through
        # grelayd it shows whether the relay opens more than one upstream per client session.
        "upstream_per_connection": (r["sink_sessions"] / r["connections"]
                                    if r["connections"] else None),
        "errors": r["errors"], "error_kinds": r["error_kinds"],
        "sink_messages": r["sink_messages"], "count_ok": r["count_ok"],
        "sink_tls_failures": r["sink_tls_failures"],
        "latency_ms": r["latency_ms"], "tls": r["tls"],
        "cpu_us_per_msg": {name: cpu * 1e6 / r["messages"] if r["messages"] else None
                           for name, cpu in r["cpu_s"].items()},
        "source_cpu_us_per_msg": (r["client_cpu_s"] * 1e6 / r["messages"]
                                  if r["messages"] else None),
        "cmd": r["cmd"],
    }
    row["cpu_us_per_msg"]["source"] = row["source_cpu_us_per_msg"]
    return row


def median_run(runs):
    """The run with the median rate stands for the point; `spread` is (max-min)/median."""
    ordered = sorted(runs, key=lambda r: r["rate"])
    row = dict(ordered[(len(ordered) - 1) // 2])
    row["runs"] = len(runs)
    row["spread"] = ((ordered[-1]["rate"] - ordered[0]["rate"]) / row["rate"]
                     if row["rate"] else 0)
    row["all_rates"] = [round(r["rate"], 1) for r in runs]
    # A failure in any run of the point fails the point.
    row["errors"] = sum(r["errors"] for r in runs)
    row["count_ok"] = all(r["count_ok"] for r in runs)
    return row


# ---------------------------------------------------------------------------------------
# Tables.

def human_size(n):
    return f"{n // 1024}K" if n % 1024 == 0 else str(n)


def fmt(v, spec=".0f"):
    return "-" if v is None else format(v, spec)


def print_rows(rows, cpu_names):
    cpu_head = "".join(f" {n + ' us/msg':>15}" for n in cpu_names)
    print(f"{'mode':<6}{'size':>5}{'sess':>5}  {'path':<13}{'messages':>9}{'secs':>7}"
          f"{'msg/s':>9}{'hs/s':>8}{'up-hs/s':>8}{'up/conn':>8}{'p50 ms':>8}{'p99 ms':>8}{'err':>5}"
          f"{'sink':>6}{cpu_head}")
    for r in rows:
        cpu = "".join(f" {fmt(r['cpu_us_per_msg'].get(n)):>15}" for n in cpu_names)
        sink = "ok" if r["count_ok"] else "DIFF"
        print(f"{r['mode']:<6}{human_size(r['size']):>5}{r['sessions']:>5}  {r['path']:<13}"
              f"{r['messages']:>9}{r['seconds']:>7.2f}{r['rate']:>9.0f}"
              f"{r['handshakes_per_s']:>8.0f}{r['upstream_handshakes_per_s']:>8.0f}"
              f"{fmt(r['upstream_per_connection'], '.2f'):>8}"
              f"{r['latency_ms']['p50']:>8.2f}{r['latency_ms']['p99']:>8.2f}{r['errors']:>5}"
              f"{sink:>6}{cpu}")
        if r["errors"]:
            print(f"{'':<20}errors: {json.dumps(r['error_kinds'])}")


def print_summary(rows, points):
    by = {(r["mode"], r["size"], r["sessions"], r["path"]): r for r in rows}
    print()
    print("TLS (STARTTLS on both legs) against plaintext, same run: messages/s and the client's "
          "TLS handshakes/s")
    head = f"{'mode':<6}{'size':>5}{'sess':>5}  {'path':<8}{'plain msg/s':>12}{'TLS msg/s':>10}"
    head += f"{'TLS/plain':>10}{'TLS hs/s':>9}{'upstream hs/s':>14}"
    print(head)
    for mode, size, sessions in points:
        for label, plain, tls in PAIRS:
            p = by.get((mode, size, sessions, plain))
            t = by.get((mode, size, sessions, tls))
            if p is None and t is None:
                continue
            ratio = (t["rate"] / p["rate"]) if p and t and p["rate"] else None
            print(f"{mode:<6}{human_size(size):>5}{sessions:>5}  {label:<8}"
                  f"{fmt(p and p['rate']):>12}{fmt(t and t['rate']):>10}{fmt(ratio, '.2f'):>10}"
                  f"{fmt(t and t['handshakes_per_s']):>9}"
                  f"{fmt(t and t['upstream_handshakes_per_s']):>14}")
        relay_p = by.get((mode, size, sessions, "relay-plain"))
        direct_p = by.get((mode, size, sessions, "direct-plain"))
        relay_t = by.get((mode, size, sessions, "relay-tls"))
        direct_t = by.get((mode, size, sessions, "direct-tls"))
        parts = []
        if relay_p and direct_p and direct_p["rate"]:
            parts.append(f"plain relay/direct {relay_p['rate'] / direct_p['rate']:.2f}")
        if relay_t and direct_t and direct_t["rate"]:
            parts.append(f"TLS relay/direct {relay_t['rate'] / direct_t['rate']:.2f}")
        if parts:
            print(f"{'':<18}({', '.join(parts)})")


def cmd_run(args):
    paths = args.path
    sizes = [int(s) for s in args.sizes.split(",")]
    sessions_list = [int(s) for s in args.sessions.split(",")]
    modes = args.modes.split(",")
    points = [(m, size, s) for m in modes for size in sizes for s in sessions_list]
    cpu_names = []
    for p in paths:
        for n in p.pids:
            if n not in cpu_names:
                cpu_names.append(n)
    cpu_names.append("source")
    rows = []
    all_runs = []
    failed = False
    for mode, size, sessions in points:
        for path in paths:
            runs = []
            for _ in range(args.repeat):
                try:
                    run = measure(args, path, mode, size, sessions)
                except RunError as e:
                    log(f"tls_bench: {path.name} {mode} {sessions} sessions: {e}")
                    return 1
                runs.append(run)
                all_runs.append(run)
            row = median_run(runs)
            rows.append(row)
            failed = failed or row["errors"] > 0 or not row["count_ok"]
            log(f"tls_bench: {mode:<5} {human_size(size):>4} {sessions:>3} sessions "
                f"{path.name:<13} {row['rate']:8.0f} msg/s {row['handshakes_per_s']:7.0f} hs/s"
                f"{'' if row['count_ok'] else '  SINK COUNT DIFFERS'}"
                f"{'  errors ' + json.dumps(row['error_kinds']) if row['errors'] else ''}")
    print()
    print_rows(rows, cpu_names)
    print_summary(rows, points)
    rss = {}
    for p in paths:
        for name, pid in p.pids.items():
            try:
                rss[name] = proc_status_kib(pid, "VmHWM")
            except OSError:
                rss[name] = None
    if rss:
        print()
        print("peak RSS (VmHWM): " + ", ".join(f"{n} {fmt(v and v / 1024, '.1f')} MiB"
                                               for n, v in rss.items()))
    tls_desc = next((r["tls"] for r in rows if r.get("tls")), "")
    if tls_desc:
        print(f"TLS negotiated by the client: {tls_desc}")
    print()
    print("FAIL: errors or a sink count that differs from the source's (see above)" if failed
          else "PASS: no errors; every sink count equals the messages the source reported")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "runs": all_runs, "peak_rss_kib": rss,
                       "started": args.started, "budget_s": args.budget,
                       "warmup_s": args.warmup, "key_type": args.key_type}, f, indent=1)
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("free-port")
    p = sub.add_parser("wait-banner")
    p.add_argument("port", type=int)
    p.add_argument("--timeout", type=float, default=10)
    p = sub.add_parser("sink-stats")
    p.add_argument("port", type=int)
    p = sub.add_parser("run")
    p.add_argument("--source", required=True, help="gw-smtp-source binary")
    p.add_argument("--ca", required=True, help="CA certificate the source verifies against")
    p.add_argument("--path", type=Path, action="append", required=True)
    p.add_argument("--sizes", default="1024")
    p.add_argument("--sessions", default="10,100")
    p.add_argument("--modes", default="close,reuse")
    p.add_argument("--budget", type=float, default=5)
    p.add_argument("--warmup", type=float, default=1)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--source-threads", type=int, default=1)
    p.add_argument("--key-type", default="")
    p.add_argument("--started", default="")
    p.add_argument("--json")
    args = parser.parse_args()
    handlers = {"free-port": cmd_free_port, "wait-banner": cmd_wait_banner,
                "sink-stats": cmd_sink_stats, "run": cmd_run}
    try:
        return handlers[args.cmd](args)
    except RunError as e:
        log(f"tls_bench: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
