"""Prometheus metrics on an HTTP port of each process (DESIGN.md §8, README "Metrics"):
real gctld and grelayd started with --metrics-listen, a recording aiosmtpd upstream, SMTP
clients on sockets. The scrapes are parsed with the prometheus_client package's own parser
(python3-prometheus-client), so a format the Prometheus ecosystem cannot read fails here,
and every count is checked against the traffic the test made.

  cd tests/integration && GW_BIN_DIR=../../build/bin /usr/bin/python3 -m unittest -v test_metrics
"""

from __future__ import annotations

import re
import subprocess
import sys
import unittest
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (LOOPBACK, RelayEnv, SmtpClient, binary, free_port,  # noqa: E402
                     make_workdir, remove_workdir, wait_until)

METRICS_LOG = re.compile(r"metrics at http://127\.0\.0\.1:(\d+)/metrics")

POLICIES = """\
policies:
  - name: allow
    filters:
      - type: "true"
  - name: deny-sender
    reply: "550 5.7.1 Sender ${smtp.mail.from} not allowed"
    filters:
      - type: "false"
  - name: later
    reply: "451 4.7.1 Try ${smtp.rcpt.to} later"
    filters:
      - type: "false"
"""

# What the client sends after DATA, unstuffed it is MESSAGE (the ".." line carries one dot).
MESSAGE = (b"From: a@example.com\r\nTo: b@example.net\r\nSubject: metrics\r\n\r\n"
           b"line one\r\n.leading dot\r\nlast line\r\n")
WIRE = MESSAGE.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def metrics_port(process) -> int:
    found: list[int] = []

    def logged() -> bool:
        m = METRICS_LOG.search(process.log_text())
        if m:
            found.append(int(m.group(1)))
        return bool(found)

    if not wait_until(logged, 5.0):
        raise AssertionError(f"no metrics port in the log of {process.name}:\n"
                             f"{process.log_tail()}")
    return found[0]


def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    """GET /metrics, parsed by prometheus_client: {(sample name, labels): value}."""
    with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/metrics", timeout=5) as r:
        assert r.status == 200, r.status
        assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = r.read().decode("utf-8")
    samples: dict[tuple[str, frozenset], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(samples, name: str, **labels) -> Optional[float]:
    return samples.get((name, frozenset(labels.items())))


class MetricsEnv(unittest.TestCase):
    env: Optional[RelayEnv] = None

    @classmethod
    def setUpClass(cls) -> None:
        flags = ["--metrics-listen", f"{LOOPBACK}:0"]
        cls.env = RelayEnv(cls.__name__.lower()[:20], node_id="relay-metrics",
                           gctld_args=flags, relay_args=flags)
        try:
            cls.env.start()
            cls.gctld_metrics = metrics_port(cls.env.gctld)
            cls.relay_metrics = metrics_port(cls.env.relay)
            path = cls.env.workdir / "policies.yaml"
            path.write_text(POLICIES)
            cls.env.gctl.run("apply", "-f", str(path))
        except BaseException:
            cls.env.stop()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.env:
            cls.env.stop()

    def add_service(self) -> tuple[str, int]:
        up = self.env.upstream()
        self.upstream = up
        name, port = self.env.service(up)
        gctl = self.env.gctl
        gctl.run("handler", "add", name, "--command", "mail", "--policy", "deny-sender",
                 "--address", "*@example.org")
        gctl.run("handler", "add", name, "--command", "mail", "--policy", "allow",
                 "--address", "*")
        gctl.run("handler", "add", name, "--command", "rcpt", "--policy", "later",
                 "--address", "*@later.example")
        # The node runs the handlers once its configuration version is the control plane's.
        self.assertTrue(wait_until(lambda: value(scrape(self.relay_metrics),
                                                 "gw_node_config_version") ==
                                   value(scrape(self.gctld_metrics), "gw_config_version"),
                                   5.0, 0.05))
        return name, port

    def session(self, port: int) -> SmtpClient:
        c = SmtpClient(port)
        self.assertEqual(c.banner().code, 220)
        self.assertEqual(c.command("EHLO client.example").code, 250)
        return c


class CountsFollowTheTraffic(MetricsEnv):
    def test_both_planes_count_what_the_test_sent(self) -> None:
        svc, port = self.add_service()
        # (The harness's readiness probe connected once: sessions count from here.)
        before_relay = scrape(self.relay_metrics)
        self.assertEqual(value(before_relay, "gw_node_info", node_id="relay-metrics",
                               instance="default"), 1)

        # 1: delivered.
        c = self.session(port)
        self.assertEqual(c.command("MAIL FROM:<a@example.com>").code, 250)
        self.assertEqual(c.command("RCPT TO:<x@later.example>").code, 451)  # tempfail
        self.assertEqual(c.command("RCPT TO:<b@example.net>").code, 250)
        self.assertEqual(c.command("DATA").code, 354)
        c.send(WIRE)
        self.assertEqual(c.read_reply().code, 250)
        # 2: MAIL refused by the policy; then a message with a bare LF, refused by the
        # gateway after its end of data.
        self.assertEqual(c.command("MAIL FROM:<x@example.org>").code, 550)
        self.assertEqual(c.command("MAIL FROM:<a@example.com>").code, 250)
        self.assertEqual(c.command("RCPT TO:<b@example.net>").code, 250)
        self.assertEqual(c.command("DATA").code, 354)
        c.send(b"Subject: bare\r\n\r\nbare\nLF\r\n.\r\n")
        self.assertEqual(c.read_reply().code, 550)
        self.assertEqual(c.command("QUIT").code, 221)
        c.close()
        # 3: a second session that only says EHLO and QUIT.
        c2 = self.session(port)
        # While it is open, one session is active.
        self.assertEqual(value(scrape(self.relay_metrics), "gw_relay_sessions_active",
                               service=svc), 1)
        self.assertEqual(c2.command("QUIT").code, 221)
        c2.close()
        self.assertTrue(self.upstream.wait_messages(1))
        self.assertEqual(self.upstream.messages()[0].content, MESSAGE)

        self.assertTrue(wait_until(lambda: value(scrape(self.relay_metrics),
                                                 "gw_relay_sessions_active", service=svc) == 0,
                                   5.0, 0.05))
        relay = scrape(self.relay_metrics)
        self.assertEqual(value(relay, "gw_relay_sessions_total", service=svc) -
                         value(before_relay, "gw_relay_sessions_total", service=svc), 2)
        self.assertEqual(value(relay, "gw_relay_sessions_refused_total", service=svc), 0)
        self.assertEqual(value(relay, "gw_relay_messages_total", service=svc,
                               outcome="delivered"), 1)
        self.assertEqual(value(relay, "gw_relay_messages_total", service=svc,
                               outcome="refused"), 1)
        self.assertEqual(value(relay, "gw_relay_messages_total", service=svc,
                               outcome="upstream_refused"), 0)
        self.assertEqual(value(relay, "gw_relay_messages_total", service=svc,
                               outcome="failed"), 0)
        self.assertEqual(value(relay, "gw_relay_delivered_octets_total", service=svc),
                         len(MESSAGE))
        self.assertEqual(value(relay, "gw_relay_upstream_failures_total", service=svc), 0)
        for outcome, count in (("continue", 2), ("reject", 1), ("tempfail", 1),
                               ("unavailable", 0), ("failed_open", 0)):
            self.assertEqual(value(relay, "gw_policy_decisions_total", service=svc,
                                   outcome=outcome), count, outcome)
        self.assertGreater(value(relay, "process_resident_memory_bytes"), 1 << 20)
        self.assertGreater(value(relay, "process_open_fds"), 3)

        control = scrape(self.gctld_metrics)
        self.assertEqual(value(control, "gw_decisions_total", command="mail",
                               verdict="continue"), 2)
        self.assertEqual(value(control, "gw_decisions_total", command="mail",
                               verdict="reject"), 1)
        self.assertEqual(value(control, "gw_decisions_total", command="rcpt",
                               verdict="continue"), 0)
        self.assertEqual(value(control, "gw_decisions_total", command="rcpt",
                               verdict="tempfail"), 1)
        self.assertEqual(value(control, "gw_decision_duration_seconds_count"), 4)
        self.assertEqual(value(control, "gw_decision_duration_seconds_bucket", le="+Inf"), 4)
        self.assertGreater(value(control, "gw_decision_duration_seconds_sum"), 0)
        self.assertEqual(value(control, "gw_decision_failures_total", reason="deadline"), 0)
        self.assertEqual(value(control, "gw_nodes_watching"), 1)
        # Every decision is audited; the writer flushes within its interval.
        self.assertTrue(wait_until(lambda: value(scrape(self.gctld_metrics),
                                                 "gw_audit_records_written_total") == 4,
                                   5.0, 0.05))
        self.assertEqual(value(scrape(self.gctld_metrics), "gw_audit_queue_records"), 0)

    def test_upstream_that_refuses_connections_is_counted(self) -> None:
        """An upstream nothing listens on: every session gets 421 4.4.1 at EHLO, and each
        failed connect counts in gw_relay_upstream_failures_total (README "Metrics")."""
        dead = free_port()
        name = "dead-upstream"
        self.env.gctl.service_add(name, LOOPBACK, dead, hostname=RelayEnv.RELAY_HOSTNAME)
        _, port = self.env.interface(name)
        for _ in range(2):
            c = SmtpClient(port)
            self.assertEqual(c.banner().code, 220)
            r = c.command("EHLO client.example")
            self.assertEqual((r.code, r.enhanced), (421, "4.4.1"), str(r))
            c.close()
        relay = scrape(self.relay_metrics)
        self.assertEqual(value(relay, "gw_relay_upstream_failures_total", service=name), 2)
        self.assertEqual(value(relay, "gw_relay_messages_total", service=name,
                               outcome="failed"), 0)

    def test_connections_over_the_session_limit_are_counted(self) -> None:
        """Over --max-sessions-per-client the next connection gets a 421 that names the
        server (RFC 5321 §4.2) and counts in gw_relay_sessions_refused_total."""
        up = self.env.upstream()
        name, port = self.env.service(up, "--max-sessions-per-client", "1")
        before = value(scrape(self.relay_metrics), "gw_relay_sessions_refused_total",
                       service=name) or 0
        first = self.session(port)
        second = SmtpClient(port)
        refusal = second.read_reply()
        self.assertEqual((refusal.code, refusal.enhanced), (421, "4.7.0"), str(refusal))
        self.assertTrue(refusal.text.startswith("4.7.0 " + RelayEnv.RELAY_HOSTNAME + " "),
                        str(refusal))
        second.close()
        first.command("QUIT")
        first.close()
        self.assertEqual(value(scrape(self.relay_metrics), "gw_relay_sessions_refused_total",
                               service=name) - before, 1)

    def test_other_paths_and_methods(self) -> None:
        with self.assertRaises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://{LOOPBACK}:{self.relay_metrics}/", timeout=5)
        self.assertEqual(missing.exception.code, 404)
        request = urllib.request.Request(f"http://{LOOPBACK}:{self.gctld_metrics}/metrics",
                                         data=b"x", method="POST")
        with self.assertRaises(urllib.error.HTTPError) as post:
            urllib.request.urlopen(request, timeout=5)
        self.assertEqual(post.exception.code, 405)


class UnavailableDecisionsAreCounted(MetricsEnv):
    def test_control_plane_down(self) -> None:
        svc, port = self.add_service()
        before = scrape(self.relay_metrics)
        self.env.gctld.stop()
        c = self.session(port)
        reply = c.command("MAIL FROM:<a@example.com>")
        self.assertEqual((reply.code, reply.enhanced), (451, "4.3.0"), str(reply))
        c.command("QUIT")
        c.close()
        after = scrape(self.relay_metrics)
        self.assertEqual(value(after, "gw_policy_decisions_total", service=svc,
                               outcome="unavailable") -
                         value(before, "gw_policy_decisions_total", service=svc,
                               outcome="unavailable"), 1)
        self.assertEqual(value(after, "gw_policy_decisions_total", service=svc,
                               outcome="continue"),
                         value(before, "gw_policy_decisions_total", service=svc,
                               outcome="continue"))


class BadMetricsAddress(unittest.TestCase):
    def test_unusable_addresses_stop_the_start(self) -> None:
        workdir = make_workdir("metrics-bad")
        try:
            for argv in (
                    [binary("grelayd"), "--node-id", "n", "--control-plane", "127.0.0.1:1",
                     "--metrics-listen", "localhost:9464"],
                    [binary("gctld"), "--listen", "127.0.0.1:0", "--db",
                     str(workdir / "g.db"), "--metrics-listen", "127.0.0.1:99999"]):
                cp = subprocess.run(argv, capture_output=True, text=True, timeout=20,
                                    cwd=workdir)
                self.assertEqual(cp.returncode, 1, cp.stderr)
                self.assertIn("metrics address", cp.stderr)
        finally:
            remove_workdir(workdir)

    def test_port_in_use(self) -> None:
        import socket
        workdir = make_workdir("metrics-busy")
        holder = socket.socket()
        try:
            holder.bind((LOOPBACK, 0))
            holder.listen()
            busy = holder.getsockname()[1]
            cp = subprocess.run([binary("grelayd"), "--node-id", "n", "--control-plane",
                                 "127.0.0.1:1", "--metrics-listen", f"{LOOPBACK}:{busy}"],
                                capture_output=True, text=True, timeout=20, cwd=workdir)
            self.assertEqual(cp.returncode, 1, cp.stderr)
            self.assertIn("cannot listen for metrics", cp.stderr)
        finally:
            holder.close()
            remove_workdir(workdir)


if __name__ == "__main__":
    unittest.main()
