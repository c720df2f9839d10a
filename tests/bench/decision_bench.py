#!/usr/bin/python3
"""Helper half of decision_bench.sh: reads gw-decision-load / gw-audit-writer-bench JSON,
counts audit rows, prints the table and checks the targets of issue 4 ("Benchmarks")."""

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys

# Targets (issue 4, "Done when"): p99 <= 1 ms at 5,000 decisions/s; audit >= 20,000 rows/s.
TARGET_P99_US = 1000
TARGET_AUDIT_ROWS_PER_S = 20000
# An open-loop run must deliver this share of its target rate to count.
RATE_TOLERANCE = 0.98


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def load_json(path):
    with open(path) as f:
        return json.load(f)


def save_json(path, data):
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


# ---------------------------------------------------------------------------------------
# Small subcommands used by the shell script.

def cmd_handler_id(args):
    """The id of the first handler of `args.command` in `gctl -o json handler list` output."""
    want = "SMTP_COMMAND_" + args.command.upper()
    for h in load_json(args.file).get("handlers", []):
        if h.get("command") in (want, args.command.lower()):
            print(int(h["id"]))
            return 0
    return 1


def cmd_annotate(args):
    """Adds the run's name, what answered it, and that process's CPU time (whole run,
    warm-up included)."""
    run = load_json(args.file)
    run["name"] = args.name
    run["server"] = args.server
    run["server_cpu_s"] = round(args.server_cpu, 3)
    answered = run.get("answered_total", 0)
    run["server_cpu_us_per_decision"] = (round(args.server_cpu * 1e6 / answered, 1)
                                        if answered else None)
    save_json(args.file, run)
    return 0


def cmd_line(args):
    r = load_json(args.file)
    lat = r["latency_us"]
    errors = sum(r["errors"].values())
    print(f"decision_bench: {r.get('name', '?')}: {r['decisions_per_s']:.0f} decisions/s, "
          f"p50 {lat['p50']} us, p99 {lat['p99']} us, max {lat['max']} us, errors {errors}, "
          f"verdicts {r['verdicts']}")
    return 0


def cmd_expect_verdict(args):
    r = load_json(args.file)
    ok = r["ok"] > 0 and not r["errors"] and set(r["verdicts"]) == {args.verdict}
    if not ok:
        log(f"decision_bench: expected only {args.verdict}, got verdicts {r['verdicts']} "
            f"errors {r['errors']}")
    return 0 if ok else 1


def audit_rows(db):
    """(count, min time_ms, max time_ms) of the audit table, with the sqlite3 CLI when
    installed (Debian package sqlite3), else Python's sqlite3 module."""
    query = "select count(*), min(time_ms), max(time_ms) from audit"
    if shutil.which("sqlite3"):
        out = subprocess.run(["sqlite3", db, query], check=True, capture_output=True,
                             text=True).stdout.strip()
        count, lo, hi = out.split("|")
        return int(count), int(lo or 0), int(hi or 0)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        count, lo, hi = conn.execute(query).fetchone()
        return int(count), int(lo or 0), int(hi or 0)


def cmd_audit_count(args):
    run = load_json(args.load)
    rows, lo, hi = audit_rows(args.db)
    answered = run["answered_total"]
    load_s = run["warmup_s"] + run["duration_s"]
    out = {
        "rows": rows,
        "answered": answered,
        "failed": run["failed_total"],
        "rows_per_answered": rows / answered if answered else None,
        "decision_span_s": (hi - lo) / 1000,
        "load_s": load_s,
        "stop_s": args.stop_seconds,
        # Rows over the time from the first decision to gctld's exit (after its flush):
        # what the trail sustained end to end, bounded by the decision rate.
        "rows_per_s": rows / (load_s + args.stop_seconds),
        "decisions_per_s": run["decisions_per_s"],
        "callers": run["callers"],
        "gctld_cpu_us_per_decision": run.get("server_cpu_us_per_decision"),
    }
    print(json.dumps(out))
    return 0


# ---------------------------------------------------------------------------------------
# The table and the targets.

BASELINES = (("echo-callback", "gRPC echo, callback API (gctld up to session 6)"),
             ("echo-cq", "gRPC echo, one completion-queue thread as gctld uses it"))


def write_baselines(out, gctld_run, runs):
    """The open-loop gctld run against the gw-decision-echo runs at the same rate: the
    latency gRPC, the node's client and this machine's thread wake-ups cost with no policy,
    audit or SQLite behind them, and gctld's p99 as a ratio of it."""
    for server, label in BASELINES:
        echo = [r for r in runs if r.get("server") == server and r["mode"] == "open"
                and r["rate_target"] == gctld_run["rate_target"]]
        if not echo:
            continue
        e = echo[0]["latency_us"]
        g = gctld_run["latency_us"]
        out.write(f"    baseline, same run and rate: {label}: p50 {e['p50']} us, p99 {e['p99']} us;"
                  f" gctld/baseline p50 {g['p50'] / max(e['p50'], 1):.2f}, "
                  f"p99 {g['p99'] / max(e['p99'], 1):.2f}\n")


def cmd_report(args):
    runs = [load_json(p) for p in args.run]
    audit = load_json(args.audit) if args.audit else None
    writer = load_json(args.writer) if args.writer else None
    out = sys.stdout
    out.write(f"\nDecision RPC (DecisionService/Decide; MAIL, policy: match smtp.mail.from "
              f"wildcard *@example.com), started {args.started}, {os.cpu_count()} CPUs\n")
    header = (f"{'run':<12} {'callers':>7} {'target/s':>8} {'decisions/s':>11} {'p50 us':>7} "
              f"{'p90 us':>7} {'p99 us':>7} {'p99.9 us':>8} {'max us':>7} {'errors':>6} "
              f"{'server cpu us/dec':>17}")
    out.write(header + "\n" + "-" * len(header) + "\n")
    for r in runs:
        lat = r["latency_us"]
        errors = sum(r["errors"].values()) + r.get("skipped", 0)
        target = f"{r['rate_target']:.0f}" if r["mode"] == "open" else "-"
        cpu = r.get("server_cpu_us_per_decision")
        out.write(f"{r['name']:<12} {r['callers']:>7} {target:>8} {r['decisions_per_s']:>11.0f} "
                  f"{lat['p50']:>7} {lat['p90']:>7} {lat['p99']:>7} {lat['p99.9']:>8} "
                  f"{lat['max']:>7} {errors:>6} {cpu if cpu is not None else '-':>17}\n")
        if r["mode"] == "open":
            svc = r["service_latency_us"]
            out.write(f"{'':<12} (open loop: latency from the intended send time; from the "
                      f"actual send p50 {svc['p50']} p99 {svc['p99']} max {svc['max']} us)\n")

    verdicts = []
    out.write("\nTargets\n")
    open_runs = [r for r in runs if r["mode"] == "open" and r["rate_target"] == args.rate
                 and r.get("server", "gctld") == "gctld"]
    if open_runs:
        r = open_runs[0]
        p99 = r["latency_us"]["p99"]
        rate_ok = r["decisions_per_s"] >= RATE_TOLERANCE * r["rate_target"]
        clean = not r["errors"] and r.get("skipped", 0) == 0
        ok = p99 <= TARGET_P99_US and rate_ok and clean
        verdicts.append(ok)
        out.write(f"  decision p99 <= {TARGET_P99_US} us at {r['rate_target']:.0f}/s: p99 {p99} us "
                  f"at {r['decisions_per_s']:.0f}/s achieved, errors {sum(r['errors'].values())}"
                  f", skipped {r.get('skipped', 0)}: {'met' if ok else 'MISSED'}\n")
        write_baselines(out, r, runs)
    if audit:
        ratio = audit["rows_per_answered"]
        ok = ratio == 1.0
        verdicts.append(ok)
        out.write(f"  every decision audited: {audit['rows']} rows for {audit['answered']} "
                  f"decisions answered (ratio {ratio:.4f}): {'met' if ok else 'MISSED'}\n")
        if audit.get("failed"):
            # Refused with UNAVAILABLE (the node fails safe), mostly while the audit queue
            # was full: the closed loop asked faster than the writer could write.
            out.write(f"    {audit['failed']} calls of that run were refused (UNAVAILABLE: audit "
                      f"queue full or timeout), not answered and not audited\n")
        e2e = audit["rows_per_s"]
        best = e2e
        out.write(f"  audit rows/s end to end ({audit['callers']} callers, "
                  f"{audit['load_s']:.0f} s of load + {audit['stop_s']:.2f} s SIGTERM to exit): "
                  f"{e2e:.0f} rows/s")
        if audit["decisions_per_s"] < TARGET_AUDIT_ROWS_PER_S:
            out.write(f" (bounded by the decision rate, {audit['decisions_per_s']:.0f}/s)")
        out.write("\n")
        if writer:
            out.write(f"  audit writer alone (AuditRepository::append_batch, {writer['rows']} rows "
                      f"in batches of {writer['batch']}): {writer['rows_per_s']:.0f} rows/s, "
                      f"batch p50 {writer['batch_ms']['p50']:.1f} ms, "
                      f"p99 {writer['batch_ms']['p99']:.1f} ms\n")
            best = max(best, writer["rows_per_s"])
        ok = best >= TARGET_AUDIT_ROWS_PER_S
        verdicts.append(ok)
        out.write(f"  audit >= {TARGET_AUDIT_ROWS_PER_S} rows/s: {best:.0f}: "
                  f"{'met' if ok else 'MISSED'}\n")
    met = sum(verdicts)
    out.write(f"\n{'PASS' if verdicts and all(verdicts) else 'FAIL'}: {met}/{len(verdicts)} "
              f"decision/audit targets met (relay target: relay_bench.sh --policy)\n")
    out.flush()
    if args.json:
        save_json(args.json, {"started": args.started, "cpus": os.cpu_count(), "runs": runs,
                              "audit": audit, "writer": writer,
                              "targets_met": met, "targets": len(verdicts)})
    if args.check and not all(verdicts):
        return 3
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("handler-id")
    p.add_argument("file")
    p.add_argument("command")
    p.set_defaults(func=cmd_handler_id)
    p = sub.add_parser("annotate")
    p.add_argument("file")
    p.add_argument("--name", required=True)
    p.add_argument("--server", default="gctld", help="what answered: gctld, echo-callback, echo-cq")
    p.add_argument("--server-cpu", type=float, required=True,
                   help="CPU seconds the answering process used during the run")
    p.set_defaults(func=cmd_annotate)
    p = sub.add_parser("line")
    p.add_argument("file")
    p.set_defaults(func=cmd_line)
    p = sub.add_parser("expect-verdict")
    p.add_argument("file")
    p.add_argument("verdict")
    p.set_defaults(func=cmd_expect_verdict)
    p = sub.add_parser("audit-count")
    p.add_argument("db")
    p.add_argument("load")
    p.add_argument("--stop-seconds", type=float, required=True)
    p.set_defaults(func=cmd_audit_count)
    p = sub.add_parser("report")
    p.add_argument("--started", required=True)
    p.add_argument("--run", action="append", default=[])
    p.add_argument("--audit")
    p.add_argument("--writer")
    p.add_argument("--rate", type=float, default=5000)
    p.add_argument("--json")
    p.add_argument("--check", action="store_true")
    p.set_defaults(func=cmd_report)
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
