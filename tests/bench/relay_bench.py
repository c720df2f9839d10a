#!/usr/bin/python3
"""Measurement half of relay_bench.sh: free ports, banner waits, timed smtp-source runs
against each path (direct / HAProxy / grelayd / grelayd-policy), CPU and RSS from /proc,
the tables, and with --policy the audit check of the handled path's decisions."""

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time

SMTP_SOURCE = "/usr/sbin/smtp-source"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Points the issue sets a target for: grelayd >= 1.0x HAProxy (issue 2, "Done when").
TARGET_SESSIONS = (10, 100)
TARGET_RATIO = 1.0
PROBE_SECONDS = 0.5
# --policy (issue 4): grelayd with HELO, MAIL and RCPT handlers >= 0.5x grelayd without.
POLICY_PATH = "grelayd-policy"
POLICY_SERVICE = "bench-policy"
POLICY_TARGET_RATIO = 0.5


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import cmd_free_port, cmd_wait_banner, log  # noqa: E402


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


def sink_messages(path):
    """The last 'mesg=N' counter smtp-sink -c wrote (it rewrites one \\r-separated line)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 256))
        tail = f.read().decode("ascii", "replace")
    records = [r for r in tail.replace("\n", "\r").split("\r") if "mesg=" in r]
    if not records:
        return 0
    return int(records[-1].rsplit("mesg=", 1)[1].split()[0])


# ---------------------------------------------------------------------------------------
# One smtp-source run.

class RunError(Exception):
    pass


def smtp_source(port, size, sessions, messages, reuse, timeout):
    cmd = [SMTP_SOURCE, "-s", str(sessions), "-m", str(messages), "-l", str(size),
           "-M", "bench.example", "-f", "sender@bench.example", "-t", "rcpt@bench.example"]
    if reuse:
        cmd.append("-d")
    cmd.append(f"127.0.0.1:{port}")
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise RunError(f"{' '.join(cmd)} did not finish within {timeout:.0f}s") from e
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise RunError(f"{' '.join(cmd)} exited {proc.returncode}: "
                       f"{(proc.stderr or proc.stdout).strip()[-600:]}")
    return elapsed


def wait_sink_count(sink_log, expected, timeout=2.0):
    deadline = time.monotonic() + timeout
    while True:
        n = sink_messages(sink_log)
        if n >= expected or time.monotonic() >= deadline:
            return n
        time.sleep(0.01)


def measure(path, port, pids, sink_log, size, sessions, reuse, budget, max_messages):
    """Probe runs (also the warm-up) grow until one lasts PROBE_SECONDS; their rate sizes the
    main run to about `budget` seconds. Every run's messages are checked at the sink."""
    floor = max(4 * sessions, 50)
    probe = floor
    sent = 0  # every message of this point, probes included (the audit check counts them)
    while True:
        # Generous wall-clock bound: a relay stalling 200 ms per message still finishes.
        before_sink = sink_messages(sink_log)
        elapsed = smtp_source(port, size, sessions, probe, reuse,
                              60 + probe * 0.2 / sessions)
        arrived = wait_sink_count(sink_log, before_sink + probe) - before_sink
        sent += probe
        if arrived != probe:
            raise RunError(f"{path}: the sink got {arrived} of {probe} probe messages")
        rate = probe / elapsed
        if elapsed >= PROBE_SECONDS or probe >= max_messages // 4:
            break
        probe = min(max(2 * probe, int(rate * PROBE_SECONDS * 1.2)), max_messages // 4)
    messages = int(min(max(rate * budget, floor), max_messages))
    messages -= messages % sessions  # equal share per session
    messages = max(messages, floor)

    cpu_before = {name: proc_cpu_seconds(pid) for name, pid in pids.items()}
    before_sink = sink_messages(sink_log)
    elapsed = smtp_source(port, size, sessions, messages, reuse,
                          60 + 3 * messages / rate)
    cpu_after = {name: proc_cpu_seconds(pid) for name, pid in pids.items()}
    delivered = wait_sink_count(sink_log, before_sink + messages) - before_sink
    sent += messages
    if delivered != messages:
        raise RunError(f"{path}: smtp-source sent {messages} messages, the sink counted "
                       f"{delivered}")
    row = {
        "mode": "reuse" if reuse else "close",
        "size": size,
        "sessions": sessions,
        "path": path,
        "messages": messages,
        "sent_with_probes": sent,
        "seconds": round(elapsed, 3),
        "rate": messages / elapsed,
        "cpu_us_per_msg": {name: (cpu_after[name] - cpu_before[name]) * 1e6 / messages
                           for name in pids},
        "vmhwm_kib": {name: proc_status_kib(pid, "VmHWM") for name, pid in pids.items()},
    }
    return row


def median_run(runs):
    """The run with the median rate stands for the point; `spread` is (max-min)/median."""
    ordered = sorted(runs, key=lambda r: r["rate"])
    row = dict(ordered[(len(ordered) - 1) // 2])
    row["runs"] = len(runs)
    row["spread"] = (ordered[-1]["rate"] - ordered[0]["rate"]) / row["rate"]
    row["all_rates"] = [round(r["rate"], 1) for r in runs]
    return row


# ---------------------------------------------------------------------------------------
# The run and the table.

def human_size(n):
    return f"{n // 1024}K" if n % 1024 == 0 else str(n)


def ratio(a, b):
    return a / b if b else float("nan")


def print_table(rows, paths, out):
    by_point = {}
    for r in rows:
        by_point.setdefault((r["mode"], r["size"], r["sessions"]), {})[r["path"]] = r

    repeated = any(r.get("runs", 1) > 1 for r in rows)
    out.write("\nPer path and point (cpu = CPU time of the proxy process per message, "
              "utime+stime from /proc/PID/stat")
    out.write("; the median of the repeated runs, spread = (max-min)/median)\n" if repeated
              else ")\n")
    pw = max([8] + [len(n) for n in paths])  # path column width
    header = (f"{'mode':<6} {'size':>5} {'sess':>4} {'path':<{pw}} {'messages':>8} {'seconds':>8} "
              f"{'msg/s':>9} {'cpu us/msg':>10} {'/direct':>8} {'/haproxy':>8}"
              + (f" {'spread':>7}" if repeated else ""))
    out.write(header + "\n" + "-" * len(header) + "\n")
    for key in by_point:
        point = by_point[key]
        direct = point.get("direct")
        haproxy = point.get("haproxy")
        for name in paths:
            r = point.get(name)
            if r is None:
                continue
            # All the processes of the path (with --policy: grelayd and gctld).
            cpu = sum(r["cpu_us_per_msg"].values()) if r["cpu_us_per_msg"] else None
            cpu_s = f"{cpu:10.0f}" if cpu is not None else f"{'-':>10}"
            vs_direct = (f"{ratio(r['rate'], direct['rate']):8.2f}"
                         if direct and name != "direct" else f"{'-':>8}")
            vs_haproxy = (f"{ratio(r['rate'], haproxy['rate']):8.2f}"
                          if haproxy and name == "grelayd" else f"{'-':>8}")
            out.write(f"{r['mode']:<6} {human_size(r['size']):>5} {r['sessions']:>4} "
                      f"{name:<{pw}} {r['messages']:>8} {r['seconds']:>8.2f} {r['rate']:>9.1f} "
                      f"{cpu_s} {vs_direct} {vs_haproxy}"
                      + (f" {r.get('spread', 0) * 100:6.0f}%" if repeated else "") + "\n")

    if POLICY_PATH in paths:
        return print_policy_summary(by_point, out)
    out.write("\nSummary (msg/s; target: grelayd >= 1.0x HAProxy at 1K and 100K with "
              "10 and 100 sessions)\n")
    header = (f"{'mode':<6} {'size':>5} {'sess':>4} {'direct':>9} {'haproxy':>9} {'grelayd':>9} "
              f"{'hap/dir':>8} {'rel/dir':>8} {'rel/hap':>8}  target")
    out.write(header + "\n" + "-" * len(header) + "\n")
    verdicts = []
    for (mode, size, sessions), point in by_point.items():
        rates = {n: point[n]["rate"] if n in point else None for n in ("direct", "haproxy",
                                                                      "grelayd")}

        def fmt(v, width=9, prec=1):
            return f"{v:>{width}.{prec}f}" if v is not None else f"{'-':>{width}}"

        def rat(a, b):
            return rates[a] / rates[b] if rates[a] and rates[b] else None
        rel_hap = rat("grelayd", "haproxy")
        verdict = ""
        if sessions in TARGET_SESSIONS and size in (1024, 102400) and rel_hap is not None:
            ok = rel_hap >= TARGET_RATIO
            verdict = "met" if ok else "MISSED"
            verdicts.append(ok)
        out.write(f"{mode:<6} {human_size(size):>5} {sessions:>4} {fmt(rates['direct'])} "
                  f"{fmt(rates['haproxy'])} {fmt(rates['grelayd'])} "
                  f"{fmt(rat('haproxy', 'direct'), 8, 2)} {fmt(rat('grelayd', 'direct'), 8, 2)} "
                  f"{fmt(rel_hap, 8, 2)}  {verdict}\n")
    return verdicts


def print_policy_summary(by_point, out):
    """--policy: grelayd-policy against grelayd per point; target >= POLICY_TARGET_RATIO."""
    out.write(f"\nSummary (msg/s; target: grelayd with HELO, MAIL and RCPT handlers >= "
              f"{POLICY_TARGET_RATIO}x grelayd without, same run)\n")
    header = (f"{'mode':<6} {'size':>5} {'sess':>4} {'grelayd':>9} {'+policy':>9} "
              f"{'ratio':>6} {'cpu us/msg':>10} {'+policy':>9}  target")
    out.write(header + "\n" + "-" * len(header) + "\n")
    verdicts = []
    for (mode, size, sessions), point in by_point.items():
        plain, handled = point.get("grelayd"), point.get(POLICY_PATH)
        if not plain or not handled:
            continue
        r = ratio(handled["rate"], plain["rate"])
        ok = r >= POLICY_TARGET_RATIO
        verdicts.append(ok)
        cpu_plain = sum(plain["cpu_us_per_msg"].values())
        cpu_handled = sum(handled["cpu_us_per_msg"].values())
        out.write(f"{mode:<6} {human_size(size):>5} {sessions:>4} {plain['rate']:>9.1f} "
                  f"{handled['rate']:>9.1f} {r:>6.2f} {cpu_plain:>10.0f} {cpu_handled:>9.0f}  "
                  f"{'met' if ok else 'MISSED'}\n")
    out.write("(cpu = grelayd + gctld CPU per message)\n")
    return verdicts


def audit_by_command(db, service):
    """{(command, verdict): rows} of the audit table for `service` (read-only; gctld may be
    writing: WAL)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        rows = conn.execute("SELECT command, verdict, count(*) FROM audit WHERE service = ? "
                            "GROUP BY command, verdict", (service,)).fetchall()
    return {(c, v): n for c, v, n in rows}


def check_policy_audit(db, sent, out):
    """Every message sent on the handled path made a MAIL and a RCPT decision (and its
    session a HELO decision), all 'continue', each an audit row; the unhandled service
    made none. Waits up to 5 s for the audit writer's last batch. False on a mismatch."""
    deadline = time.monotonic() + 5
    while True:
        counts = audit_by_command(db, POLICY_SERVICE)
        mail = counts.get(("mail", "continue"), 0)
        if mail >= sent or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    rcpt = counts.get(("rcpt", "continue"), 0)
    helo = counts.get(("helo", "continue"), 0)
    other = {k: n for k, n in counts.items()
             if k[1] != "continue" or k[0] not in ("helo", "mail", "rcpt")}
    plain = sum(audit_by_command(db, "bench").values())
    out.write(f"\nDecisions audited for {POLICY_SERVICE} ({sent} messages sent, probes "
              f"included): HELO {helo}, MAIL {mail}, RCPT {rcpt}, other {other or 0}; "
              f"for the service without handlers: {plain}\n")
    ok = mail == sent and rcpt == sent and 0 < helo <= sent and not other and plain == 0
    if not ok:
        log("relay_bench: the handled path's decisions do not match the messages sent")
    return ok


def cmd_run(args):
    paths = []  # (name, port, {name: pid})
    for spec in args.path:
        # NAME=PORT, NAME=PORT:PID or NAME=PORT:LABEL@PID,LABEL@PID,...
        name, rest = spec.split("=", 1)
        port, _, pid = rest.partition(":")
        pids = {}
        for item in filter(None, pid.split(",")):
            label, _, number = item.rpartition("@")
            pids[label or name] = int(number)
        paths.append((name, int(port), pids))
    sizes = [int(s) for s in args.sizes.split(",")]
    sessions_list = [int(s) for s in args.sessions.split(",")]
    modes = args.modes.split(",")
    rows = []
    sent = {name: 0 for name, _, _ in paths}
    total = len(modes) * len(sizes) * len(sessions_list) * len(paths) * args.repeat
    done = 0
    try:
        for mode in modes:
            for size in sizes:
                for sessions in sessions_list:
                    # Paths interleaved per point (and per repetition), so drift in the
                    # machine's load hits all paths alike.
                    runs = {name: [] for name, _, _ in paths}
                    for rep in range(args.repeat):
                        for name, port, pids in paths:
                            row = measure(name, port, pids, args.sink_log, size, sessions,
                                          mode == "reuse", args.budget, args.max_messages)
                            runs[name].append(row)
                            sent[name] += row["sent_with_probes"]
                            done += 1
                            log(f"[{done}/{total}] {mode} {human_size(size)} x{sessions} "
                                f"{name}: {row['messages']} msgs in {row['seconds']:.2f}s = "
                                f"{row['rate']:.1f} msg/s")
                    for name, _, _ in paths:
                        rows.append(median_run(runs[name]))
    except RunError as e:
        log(f"relay_bench: {e}")
        return 1
    finally:
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=1)

    names = [n for n, _, _ in paths]
    verdicts = print_table(rows, names, sys.stdout)
    out = sys.stdout
    audit_ok = True
    if args.audit_db and POLICY_PATH in sent:
        audit_ok = check_policy_audit(args.audit_db, sent[POLICY_PATH], out)
    out.write("\nMemory and CPU of the proxies over the whole run\n")
    shown = set()
    for name, _, pids in paths:
        for pname, pid in pids.items():
            if pid in shown:
                continue
            shown.add(pid)
            hwm = proc_status_kib(pid, "VmHWM")
            rss = proc_status_kib(pid, "VmRSS")
            out.write(f"  {pname:<8} pid {pid}: peak RSS (VmHWM) {hwm / 1024:.1f} MiB, "
                      f"RSS now {rss / 1024:.1f} MiB, CPU total {proc_cpu_seconds(pid):.2f} s\n")
    if verdicts:
        met = sum(verdicts)
        out.write(f"\nTarget points met: {met}/{len(verdicts)}\n")
    out.flush()
    if not audit_ok:
        return 1
    if args.check and verdicts and not all(verdicts):
        return 3
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("free-port").set_defaults(func=cmd_free_port)
    p = sub.add_parser("wait-banner")
    p.add_argument("port", type=int)
    p.add_argument("--timeout", type=float, default=10.0)
    p.set_defaults(func=cmd_wait_banner)
    p = sub.add_parser("run")
    p.add_argument("--sink-log", required=True, help="smtp-sink -c output file")
    p.add_argument("--path", action="append", required=True,
                   help="NAME=PORT[:PID] or NAME=PORT:LABEL@PID,... (processes whose CPU "
                        "and RSS to report)")
    p.add_argument("--sizes", default="1024,102400")
    p.add_argument("--sessions", default="1,10,100")
    p.add_argument("--modes", default="close,reuse")
    p.add_argument("--budget", type=float, default=5.0, help="seconds per main run")
    p.add_argument("--max-messages", type=int, default=40000)
    p.add_argument("--repeat", type=int, default=1,
                   help="runs per point and path; the median run is reported")
    p.add_argument("--json", help="write every run's numbers here")
    p.add_argument("--check", action="store_true", help="exit 3 if a target point is missed")
    p.add_argument("--policy", action="store_true",
                   help="issue 4: report grelayd-policy against grelayd (target >= 0.5x)")
    p.add_argument("--audit-db", help="gctld's database: check the handled path's decisions")
    p.set_defaults(func=cmd_run)
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
