"""Relay integration tests: real gctld, grelayd and gctl processes, a recording aiosmtpd
upstream, swaks and Python smtplib as clients (issue 2 "Done when", DESIGN.md section 7).

  cd tests/integration && GW_BIN_DIR=../../build/bin /usr/bin/python3 -m unittest -v test_relay
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest
import uuid
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (LOOPBACK, RecordingUpstream, RelayEnv, Reply, SmtpClient,  # noqa: E402
                     UpstreamConfig, banner_ok, free_port, port_refuses, wait_until)

HOST = RelayEnv.RELAY_HOSTNAME
SWAKS = shutil.which("swaks") or "/usr/bin/swaks"


def stuff(content: bytes) -> bytes:
    """Dot-stuffs a CRLF message and appends the terminator (RFC 5321 section 4.5.2)."""
    return re.sub(rb"(?m)^\.", b"..", content) + b".\r\n"


def smtp(port: int, timeout: float = 30.0) -> smtplib.SMTP:
    return smtplib.SMTP(LOOPBACK, port, local_hostname="c.example.net", timeout=timeout)


def open_data(test: unittest.TestCase, c: SmtpClient) -> None:
    """Banner, EHLO, MAIL, RCPT and DATA, each asserted: the client is ready for content."""
    c.banner()
    for command, code in (("EHLO c.example.net", 250), ("MAIL FROM:<alice@example.com>", 250),
                          ("RCPT TO:<bob@example.org>", 250), ("DATA", 354)):
        r = c.command(command)
        test.assertEqual(r.code, code, f"{command}: {r}")


def idle_and_busy(test: unittest.TestCase, port: int) -> tuple[SmtpClient, SmtpClient]:
    """Two sessions on `port`: one idle after EHLO, one that has sent a whole message (its
    end of data is with the upstream)."""
    idle = SmtpClient(port)
    idle.banner()
    test.assertEqual(idle.command("EHLO c.example.net").code, 250)
    busy = SmtpClient(port)
    open_data(test, busy)
    busy.send(b"Subject: under way\r\n\r\nbody\r\n.\r\n")
    return idle, busy


def assert_drained(test: unittest.TestCase, idle: SmtpClient, busy: SmtpClient,
                   diagnostics: str = "") -> None:
    """RFC 5321 §3.8 on a stop: the idle session got 421 4.3.2 and was closed; the busy one
    got its 250 first, then 421 4.3.2."""
    r = idle.read_reply(2)
    test.assertEqual((r.code, r.enhanced), (421, "4.3.2"), str(r) + diagnostics)
    test.assertIsNone(idle.expect_closed(2))
    r = busy.read_reply(5)
    test.assertEqual(r.code, 250, str(r) + diagnostics)
    r = busy.read_reply(2)
    test.assertEqual((r.code, r.enhanced), (421, "4.3.2"), str(r))


def capabilities(reply: Reply) -> dict[str, str]:
    """EHLO reply lines after the first, as {KEYWORD: rest}."""
    caps = {}
    for text in reply.texts[1:]:
        keyword, _, rest = text.partition(" ")
        caps[keyword.upper()] = rest
    return caps


class RelayCase(unittest.TestCase):
    """One gctld + grelayd per test class; each test adds its own upstream and service."""

    env: Optional[RelayEnv] = None
    threads = 1  # grelayd --threads

    @classmethod
    def setUpClass(cls) -> None:
        cls.env = RelayEnv(cls.__name__.lower(), node_id=f"relay-{cls.__name__.lower()}",
                           threads=cls.threads)
        try:
            cls.env.start()
        except BaseException:
            cls.env.stop()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.env:
            cls.env.stop()

    def setUp(self) -> None:
        if not self.env.relay.alive():
            self.env.start_relay()
        self._services: list[str] = []
        self._upstreams: list[RecordingUpstream] = []

    def tearDown(self) -> None:
        for name in self._services:
            self.env.drop_service(name)
        for up in self._upstreams:
            self.env.stop_upstream(up)
        self.assertTrue(self.env.relay.alive(),
                        f"grelayd died (rc={self.env.relay.returncode()}):\n"
                        f"{self.env.relay.log_tail()}")

    def relay(self, config: Optional[UpstreamConfig] = None, *extra: str,
              upstream: Optional[dict] = None, **service_options) -> tuple[RecordingUpstream, int]:
        """A fresh upstream plus a service and interface towards it: (upstream, relay port)."""
        up = self.env.upstream(config, **(upstream or {}))
        self._upstreams.append(up)
        name, port = self.env.service(up, *extra, **service_options)
        self._services.append(name)
        return up, port

    def diag(self, up: Optional[RecordingUpstream] = None) -> str:
        return (f"\n--- upstream:\n{up.describe()}" if up else "") + "\n" + self.env.diagnostics()


class DataPathTests(RelayCase):
    """Messages through the relay: byte exactness, faults, concurrency."""

    def send_and_get(self, port: int, up: RecordingUpstream, content: bytes,
                     mail_options: tuple = ()) -> bytes:
        with smtp(port) as s:
            refused = s.sendmail("alice@example.com", ["bob@example.org"], content,
                                 mail_options=list(mail_options))
            self.assertEqual(refused, {})
            s.quit()
        self.assertTrue(up.wait_messages(1, 5), "no message stored upstream" + self.diag(up))
        self.assertEqual(len(up.messages()), 1, self.diag(up))
        return up.messages()[0].content

    def test_swaks_delivers_a_message(self) -> None:
        up, port = self.relay()
        cp = subprocess.run([SWAKS, "--server", LOOPBACK, "--port", str(port), "--helo",
                             "c.example.net", "--from", "alice@example.com", "--to",
                             "bob@example.org", "--header", "Subject: swaks test", "--body",
                             "hello through the relay"],
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr + self.diag(up))
        msgs = up.messages()
        self.assertEqual(len(msgs), 1, self.diag(up))
        self.assertEqual(msgs[0].mail_from, "alice@example.com")
        self.assertEqual(msgs[0].rcpt_tos, ["bob@example.org"])
        self.assertIn(b"Subject: swaks test\r\n", msgs[0].content)
        self.assertIn(b"hello through the relay", msgs[0].content)

    def test_swaks_pipelined_byte_exact(self) -> None:
        """swaks with PIPELINING and DATA sent verbatim (no fixup): dot lines survive."""
        up, port = self.relay()
        content = (b"From: alice@example.com\r\nTo: bob@example.org\r\nSubject: swaks exact\r\n"
                   b"\r\n.\r\n..\r\n.leading dot\r\nend.\r\n")
        data_file = self.env.workdir / f"swaks-{uuid.uuid4().hex}.eml"
        data_file.write_bytes(stuff(content))
        cp = subprocess.run([SWAKS, "--server", LOOPBACK, "--port", str(port), "--helo",
                             "c.example.net", "--from", "alice@example.com", "--to",
                             "bob@example.org", "--pipeline", "--no-data-fixup", "--data",
                             f"@{data_file}"],
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr + self.diag(up))
        self.assertTrue(up.wait_messages(1, 5), self.diag(up))
        self.assertEqual(up.messages()[0].content, content)

    def test_byte_exact_dot_lines_and_whitespace(self) -> None:
        """Lines starting with '.', folded headers, tabs, trailing blanks, empty lines: the
        upstream gets exactly what the client meant (a DKIM signature would still verify)."""
        up, port = self.relay()
        content = (b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel;\r\n"
                   b"\th=from:to:subject; bh=AAAA; b=BBBB\r\n"
                   b"From: alice@example.com\r\nSubject:  two  spaces \t \r\n"
                   b"X-Folded: first\r\n  second\r\n\r\n"
                   b".\r\n..\r\n...\r\n.hidden\r\n. space\r\n\r\n\r\n\ttab\r\n"
                   b"trailing   \r\nend.\r\n.")
        got = self.send_and_get(port, up, content + b"\r\n")
        self.assertEqual(got, content + b"\r\n")
        self.assertEqual(up.messages()[0].data_raw, stuff(content + b"\r\n"))

    def test_byte_exact_8bit_body(self) -> None:
        up, port = self.relay()
        body = "Grüße aus Köln — ½ € 😀\r\n".encode() + bytes(range(0x80, 0x100)) + b"\r\n"
        content = (b"From: alice@example.com\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body)
        got = self.send_and_get(port, up, content, mail_options=("BODY=8BITMIME",))
        self.assertEqual(got, content)
        mail = [c for c in up.command_texts() if c.upper().startswith("MAIL")]
        self.assertEqual(len(mail), 1)
        self.assertIn("BODY=8BITMIME", mail[0].upper())

    def test_byte_exact_10_mib_body(self) -> None:
        up, port = self.relay()
        rng = random.Random(2)
        alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789 .,-"
        lines = [b"From: alice@example.com", b"Subject: ten MiB", b""]
        size = 0
        while size < 10 * 1024 * 1024:
            line = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 76)))
            if rng.random() < 0.02:
                line = b"." + line
            lines.append(line)
            size += len(line) + 2
        content = b"\r\n".join(lines) + b"\r\n"
        start = time.monotonic()
        got = self.send_and_get(port, up, content)
        self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(content).hexdigest(),
                         f"10 MiB body differs (got {len(got)} octets, sent {len(content)})")
        self.assertLess(time.monotonic() - start, 60)

    def test_last_line_without_crlf_is_completed_by_the_client(self) -> None:
        """smtplib adds the CRLF a last body line lacks (client rule); the relay passes
        "text<CRLF>.<CRLF>" as a message ending in "text<CRLF>"."""
        up, port = self.relay()
        got = self.send_and_get(port, up, b"Subject: x\r\n\r\nno newline at the end")
        self.assertEqual(got, b"Subject: x\r\n\r\nno newline at the end\r\n")

    def test_upstream_rcpt_rejection_reaches_client_verbatim(self) -> None:
        text = "5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in table"
        up, port = self.relay(upstream={"reject_rcpt": [("nobody@*", f"550 {text}")]})
        with smtp(port) as s:
            s.ehlo()
            self.assertEqual(s.mail("alice@example.com")[0], 250)
            code, msg = s.rcpt("nobody@example.org")
            self.assertEqual((code, msg.decode()), (550, text), self.diag(up))
            self.assertEqual(s.rcpt("bob@example.org")[0], 250)
            code, _ = s.data(b"Subject: x\r\n\r\nx\r\n")
            self.assertEqual(code, 250)
            s.quit()
        self.assertEqual([m.rcpt_tos for m in up.messages()], [["bob@example.org"]])

    def test_upstream_rcpt_rejection_with_swaks(self) -> None:
        line = "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown"
        up, port = self.relay(upstream={"reject_rcpt": [("nobody@*", line)]})
        cp = subprocess.run([SWAKS, "--server", LOOPBACK, "--port", str(port), "--from",
                             "alice@example.com", "--to", "nobody@example.org"],
                            capture_output=True, text=True, timeout=60)
        self.assertNotEqual(cp.returncode, 0)
        self.assertIn(f"<** {line}", cp.stdout, cp.stdout + self.diag(up))
        self.assertEqual(up.messages(), [])

    def test_reconnected_upstream_offers_less_br21(self) -> None:
        """The upstream drops the connection during DATA and the next MAIL opens a new one
        that offers neither SMTPUTF8 nor 8BITMIME and a smaller SIZE: the parameters are
        checked against what the new connection offers, never against the lost one's
        (field probe round 3, BR-21; RFC 6531 §3.2, RFC 1870 §6)."""
        up, port = self.relay(upstream={"drop_mid_data": 10})
        with SmtpClient(port) as c:
            c.banner()
            self.assertEqual(c.command("EHLO c.example.net").code, 250)
            self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250)
            self.assertEqual(c.command("RCPT TO:<bob@example.org>").code, 250)
            self.assertEqual(c.command("DATA").code, 354)
            r = c.command(b"Subject: cut\r\n\r\n" + b"x" * 100 + b"\r\n.")
            self.assertEqual(r.code // 100, 4, str(r))
            self.assertTrue(up.wait_closed(5), self.diag(up))
            up.config.drop_mid_data = None
            up.config.smtputf8 = False
            up.config.eightbitmime = False
            up.config.size = 1000
            # Advertised on this session, unavailable now: 550 5.6.x (BR-21), not "555
            # unsupported parameter", which would blame the client (probe round 14).
            r = c.command("MAIL FROM:<j\u00f6rg@example.com> SMTPUTF8".encode())
            self.assertEqual((r.code, r.enhanced), (550, "5.6.7"), str(r))
            r = c.command("MAIL FROM:<alice@example.com> BODY=8BITMIME")
            self.assertEqual((r.code, r.enhanced), (550, "5.6.3"), str(r))
            # BODY=7BIT stays valid (8BITMIME was offered); not sent to an upstream without it.
            self.assertEqual(c.command("MAIL FROM:<alice@example.com> BODY=7BIT").code, 250)
            self.assertEqual(c.command("RSET").code, 250)
            r = c.command("MAIL FROM:<alice@example.com> SIZE=5000")
            self.assertEqual((r.code, r.enhanced), (552, "5.3.4"), str(r))
            self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250)
        mails = [t for t in up.command_texts() if t.upper().startswith("MAIL")]
        self.assertEqual(mails, ["MAIL FROM:<alice@example.com>"] * 3, self.diag(up))
        self.assertEqual(up.messages(), [])
        self.assertEqual(up.connection_count(), 2, self.diag(up))

    def test_upstream_that_closed_an_idle_connection_is_reconnected(self) -> None:
        """An upstream that closes an idle connection without a word (FIN, no 421) after a
        delivered message or after EHLO: the next MAIL goes to a new connection, not to the
        dead one with a 451 for the client (probe round 9; PROTOCOL.md "a lost connection is
        reopened before the parameters are checked")."""
        up, port = self.relay()
        with SmtpClient(port) as c:
            c.banner()
            self.assertEqual(c.command("EHLO c.example.net").code, 250)
            up.drop_connections()  # idle after EHLO
            self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250,
                             self.diag(up))
            self.assertEqual(c.command("RCPT TO:<bob@example.org>").code, 250)
            self.assertEqual(c.command("DATA").code, 354)
            self.assertEqual(c.command(b"Subject: one\r\n\r\nfirst\r\n.").code, 250)
            up.drop_connections()  # idle after a delivered message
            self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250,
                             self.diag(up))
            self.assertEqual(c.command("RCPT TO:<bob@example.org>").code, 250)
            self.assertEqual(c.command("DATA").code, 354)
            self.assertEqual(c.command(b"Subject: two\r\n\r\nsecond\r\n.").code, 250)
        self.assertTrue(up.wait_messages(2), self.diag(up))
        self.assertEqual(len(up.messages()), 2)
        self.assertEqual(up.connection_count(), 3, self.diag(up))

    def test_client_reset_during_an_upstream_wait_frees_the_session(self) -> None:
        """A client that resets its connection while the gateway waits for a slow upstream
        ends its session at once: the per-client slot is free again and the upstream socket
        closed, not both held until the upstream answers (BR-33, BR-36; probe round 5)."""
        up, port = self.relay(None, "--max-sessions-per-client", "1",
                              upstream={"delay_rcpt": 6.0})
        c = SmtpClient(port)
        c.banner()
        self.assertEqual(c.command("EHLO c.example.net").code, 250)
        self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250)
        c.send(b"RCPT TO:<bob@example.org>\r\n")
        time.sleep(0.3)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()  # RST
        started = time.monotonic()
        self.assertTrue(up.wait_closed(3), "upstream socket still open" + self.diag(up))
        with SmtpClient(port) as c2:
            banner = c2.banner()
            self.assertEqual(banner.code, 220, f"slot still held: {banner}")
        self.assertLess(time.monotonic() - started, 3.0)
        # The log says what happened: the client's connection failed, not an upstream
        # timeout (the watch cancels the upstream wait), and the session did not QUIT.
        log = self.env.relay.log_text()
        self.assertIn("RCPT: cancelled (the client's connection failed meanwhile)", log)
        self.assertRegex(log, r"end messages=0 reason=client connection failed")

    def test_session_end_log_names_the_cause(self) -> None:
        """The session's last log line names why it ended, not "quit" for every close the
        gateway makes (probe round 39): a timeout inside DATA, a pipelining violation, too
        many errors, a QUIT and a client that closes mid-DATA each say so."""
        _, port = self.relay(None, "--idle-timeout", "1000", "--max-errors", "3")
        # Only this test's lines: an earlier test's session may have had the same client
        # port (the kernel reuses ephemeral ports; CI saw "quit" for the timeout session).
        start = len(self.env.relay.log_text())

        def log() -> str:
            return self.env.relay.log_text()[start:]

        def session_id(c: SmtpClient) -> int:
            return c.sock.getsockname()[1]  # the log's client=ADDR:PORT

        def inside_data(c: SmtpClient) -> None:
            open_data(self, c)
            c.send(b"Subject: x\r\n\r\npartial")

        ends: dict[str, int] = {}
        with SmtpClient(port) as c:  # timeout inside DATA
            inside_data(c)
            self.assertEqual(c.read_reply(5).code, 421)
            ends["timeout"] = session_id(c)
        with SmtpClient(port) as c:  # pipelining violation after HELO
            c.banner()
            c.send(b"HELO c.example.net\r\nNOOP\r\nNOOP\r\n")
            self.assertEqual(c.read_reply(5).code, 503)
            self.assertEqual(c.read_reply(5).code, 421)
            ends["protocol violation"] = session_id(c)
        with SmtpClient(port) as c:  # too many errors
            c.banner()
            for _ in range(3):
                self.assertEqual(c.command("XYZZY").code, 500)
            self.assertEqual(c.read_reply(5).code, 421)
            ends["too many errors"] = session_id(c)
        with SmtpClient(port) as c:  # QUIT
            c.banner()
            self.assertEqual(c.command("QUIT").code, 221)
            ends["quit"] = session_id(c)
        with SmtpClient(port) as c:  # the client closes mid-DATA
            inside_data(c)
            ends["client closed"] = session_id(c)
        for reason, client_port in ends.items():
            pattern = rf"client=127\.0\.0\.1:{client_port} end messages=0 reason=(.*)"
            self.assertTrue(wait_until(lambda: re.search(pattern, log()), 3, 0.05),
                            f"no end line for {reason}" + self.diag())
            found = re.search(pattern, log()).group(1)
            self.assertEqual(found, reason, self.diag())

    def test_urgent_data_during_an_upstream_wait_is_no_reset(self) -> None:
        """TCP urgent data completes the same epoll wait as a reset (EPOLLPRI), but the
        client is alive: one urgent octet while the relay waits for the upstream's reply
        to MAIL and another while it waits for the reply to end-of-data must change
        nothing. The message is confirmed with the upstream's 250 and stored once; before
        the fix the client got 451 for a message the upstream had taken, and would have
        sent it again (probe round 28)."""
        up, port = self.relay(None, upstream={"delay_mail": 0.5, "delay_final": 0.5})
        c = SmtpClient(port)
        try:
            c.banner()
            self.assertEqual(c.command("EHLO c.example.net").code, 250)
            c.send(b"MAIL FROM:<alice@example.com>\r\n")
            time.sleep(0.2)
            c.sock.send(b"!", socket.MSG_OOB)
            self.assertEqual(c.read_reply().code, 250, self.diag(up))
            self.assertEqual(c.command("RCPT TO:<bob@example.org>").code, 250)
            self.assertEqual(c.command("DATA").code, 354)
            c.send(b"Subject: urgent\r\n\r\nonce\r\n.\r\n")
            time.sleep(0.2)
            c.sock.send(b"!", socket.MSG_OOB)
            final = c.read_reply()
            self.assertEqual(final.code, 250, f"{final}" + self.diag(up))
            self.assertEqual(c.command("NOOP").code, 250)
        finally:
            c.close()
        self.assertTrue(up.wait_messages(1, 5), self.diag(up))
        self.assertEqual(len(up.messages()), 1, self.diag(up))
        self.assertIn(b"once", up.messages()[0].content)

    def test_urgent_octet_hides_no_stuffing_br23(self) -> None:
        """BR-23 kind (probe round 54): octets sent after an urgent octet are still octets
        sent before the reply. "MAIL, RCPT, DATA" then an urgent octet and the message
        content, all in one segment before any reply: the content arrived before the 354, so
        DATA gets 503 5.5.0 and 421 and none of it reaches the upstream. FIONREAD counts only
        up to the urgent mark and reported nothing, so the content was relayed as a message;
        the same after EHLO (a stuffed MAIL ran) and in a HELO session (a stuffed RCPT)."""
        up, port = self.relay(None)
        cases = [
            ("EHLO c.example.net", b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n",
             b"Subject: stuffed\r\n\r\nhi\r\n.\r\n", 3),
            (None, b"EHLO c.example.net\r\n", b"MAIL FROM:<mallory@example.com>\r\n", 1),
            ("HELO c.example.net", b"MAIL FROM:<alice@example.com>\r\n", b"RCPT TO:<carol@example.org>\r\n", 1),
        ]
        for greeting, before, after, replies_before in cases:
            with self.subTest(before=before):
                c = SmtpClient(port)
                try:
                    c.banner()
                    if greeting:
                        self.assertEqual(c.command(greeting).code, 250)
                    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
                    c.send(before)
                    c.sock.send(b"X", socket.MSG_OOB)
                    c.send(after)
                    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
                    codes = [c.read_reply().code for _ in range(replies_before)]
                    self.assertEqual(codes[-1], 503, f"{codes}" + self.diag(up))
                    self.assertEqual(c.read_reply().code, 421, self.diag(up))
                finally:
                    c.close()
        time.sleep(0.3)
        self.assertEqual(up.messages(), [], self.diag(up))
        # DATA itself may have gone out (the read that took it stopped at the urgent mark,
        # so the content was found only while DATA waited for the 354), but never content.
        self.assertNotIn(b"stuffed", up.raw(), self.diag(up))
        texts = [t.lower() for t in up.command_texts()]
        self.assertFalse([t for t in texts if "mallory" in t or "carol" in t], self.diag(up))

    def test_upstream_down_gives_421_at_ehlo(self) -> None:
        up, port = self.relay(upstream={"down": True})
        with SmtpClient(port) as c:
            banner = c.banner()
            self.assertEqual(banner.code, 220, "banner must come before contacting upstream")
            reply = c.command("EHLO c.example.net")
            self.assertEqual((reply.code, reply.enhanced), (421, "4.4.1"), str(reply))
            self.assertIsNone(c.expect_closed(5), "connection must close after 421")
        with self.assertRaises(smtplib.SMTPException) as ctx:
            with smtp(port) as s:
                s.sendmail("alice@example.com", ["bob@example.org"], b"Subject: x\r\n\r\nx\r\n")
        code = getattr(ctx.exception, "smtp_code", None)
        if code is not None:
            self.assertTrue(400 <= code < 500, f"expected 4xx, got {ctx.exception!r}")

    def test_upstream_closing_mid_data_gives_4xx_and_stores_nothing(self) -> None:
        up, port = self.relay(upstream={"drop_mid_data": 4000})
        content = b"Subject: cut\r\n\r\n" + b"".join(
            b"%05d " % i + b"x" * 70 + b"\r\n" for i in range(3000))
        with smtp(port) as s:
            with self.assertRaises(smtplib.SMTPDataError) as ctx:
                s.sendmail("alice@example.com", ["bob@example.org"], content)
        self.assertEqual(ctx.exception.smtp_code, 451, str(ctx.exception) + self.diag(up))
        self.assertTrue(ctx.exception.smtp_error.startswith(b"4.4.2"), str(ctx.exception))
        time.sleep(0.3)
        self.assertEqual(up.messages(), [])

    def test_upstream_closing_before_final_reply_gives_4xx(self) -> None:
        up, port = self.relay(upstream={"drop_before_final": True})
        with smtp(port) as s:
            with self.assertRaises(smtplib.SMTPDataError) as ctx:
                s.sendmail("alice@example.com", ["bob@example.org"], b"Subject: x\r\n\r\nx\r\n")
        self.assertEqual(ctx.exception.smtp_code, 451, str(ctx.exception) + self.diag(up))
        self.assertTrue(ctx.exception.smtp_error.startswith(b"4.4.2"), str(ctx.exception))

    def test_upstream_refusal_after_data_is_never_2xx(self) -> None:
        up, port = self.relay(upstream={"final_reply": "554 5.7.1 Message rejected: spam"})
        with smtp(port) as s:
            with self.assertRaises(smtplib.SMTPDataError) as ctx:
                s.sendmail("alice@example.com", ["bob@example.org"], b"Subject: x\r\n\r\nx\r\n")
        self.assertEqual((ctx.exception.smtp_code, ctx.exception.smtp_error),
                         (554, b"5.7.1 Message rejected: spam"))

    def test_any_2yz_to_the_end_of_data_is_a_delivery(self) -> None:
        # The upstream took the message: a 451 would have the client send it again (RFC 5321
        # §4.2.1, §6.1). The client gets 250, the one reply §4.3.2 names (probe round 44).
        for final in ("252 2.0.0 queued, sort of", "251 2.1.5 ok", "299 2.0.0 fine"):
            up, port = self.relay(upstream={"final_reply": final})
            with SmtpClient(port) as c:
                c.banner()
                self.assertEqual(c.command("EHLO c.example.net").code, 250)
                self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250)
                self.assertEqual(c.command("RCPT TO:<bob@example.org>").code, 250)
                self.assertEqual(c.command("DATA").code, 354)
                r = c.command(b"Subject: x\r\n\r\nx\r\n.")
                self.assertEqual((r.code, r.text), (250, final[4:]), final + self.diag(up))
                self.assertEqual(c.command("NOOP").code, 250)  # the session goes on
            self.assertEqual(len(up.messages()), 1, final)

    def test_upstream_enhanced_code_class_follows_the_reply_code(self) -> None:
        # "550 2.1.5" says both refused and valid; the code is what SMTP acts on, so the
        # class follows it (RFC 3463 §2; probe round 44).
        up, port = self.relay(upstream={
            "reject_rcpt": [("*@gone.example", "550 2.1.5 no such user")],
            "final_reply": "250 5.0.0 queued"})
        with SmtpClient(port) as c:
            c.banner()
            self.assertEqual(c.command("EHLO c.example.net").code, 250)
            self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250)
            r = c.command("RCPT TO:<x@gone.example>")
            self.assertEqual((r.code, r.enhanced, r.text), (550, "5.1.5", "5.1.5 no such user"),
                             str(r) + self.diag(up))
            self.assertEqual(c.command("RCPT TO:<bob@example.org>").code, 250)
            self.assertEqual(c.command("DATA").code, 354)
            r = c.command(b"Subject: x\r\n\r\nx\r\n.")
            self.assertEqual((r.code, r.enhanced), (250, "2.0.0"), str(r))

    def test_mail_pipelined_behind_the_dot_survives_an_upstream_closing_after_its_reply(
            self) -> None:
        # The upstream answers 250 to the end of data and closes at once (no 421, RFC 5321
        # §3.8). A MAIL the client pipelined behind the dot meets the closing connection:
        # it goes again on a new one instead of getting 451 (probe round 44: 11 of 20).
        up, port = self.relay(upstream={"close_after_final": True})
        rounds = 8
        with SmtpClient(port) as c:
            c.banner()
            self.assertEqual(c.command("EHLO c.example.net").code, 250)
            self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250)
            for i in range(rounds):
                self.assertEqual(c.command("RCPT TO:<bob@example.org>").code, 250, str(i))
                self.assertEqual(c.command("DATA").code, 354)
                c.send(b"Subject: %d\r\n\r\nbody\r\n.\r\nMAIL FROM:<alice@example.com>\r\n" % i)
                r = c.read_reply(10)
                self.assertEqual(r.code, 250, f"round {i}: {r}")
                r = c.read_reply(10)
                self.assertEqual(r.code, 250, f"round {i} MAIL: {r}" + self.diag(up))
        self.assertEqual(len(up.messages()), rounds, self.diag(up))
        self.assertGreaterEqual(up.connection_count(), rounds, self.diag(up))
        # The new connection need only offer what this MAIL uses: no SIZE= on it, so an
        # upstream that stopped offering SIZE takes it (probe round 46: 451).
        with SmtpClient(port) as c:
            c.banner()
            self.assertEqual(c.command("EHLO c.example.net").code, 250)
            self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250)
            for i in range(rounds):
                self.assertEqual(c.command("RCPT TO:<bob@example.org>").code, 250)
                self.assertEqual(c.command("DATA").code, 354)
                # Each new connection offers SIZE when the last one did not, and back.
                up.config.size = None if i % 2 == 0 else 33554432
                c.send(b"Subject: s%d\r\n\r\nbody\r\n.\r\nMAIL FROM:<alice@example.com>\r\n"
                       % i)
                self.assertEqual(c.read_reply(10).code, 250)
                r = c.read_reply(10)
                self.assertEqual(r.code, 250, f"round {i}: {r}" + self.diag(up))

    def test_200_messages_over_20_sessions_each_delivered_once(self) -> None:
        up, port = self.relay()
        sessions, per_session = 20, 10
        expected = {f"<{uuid.uuid4().hex}.{i}.{j}@example.com>"
                    for i in range(sessions) for j in range(per_session)}
        ids = sorted(expected)
        errors: list[str] = []

        def worker(i: int) -> None:
            try:
                with smtp(port, timeout=60) as s:
                    for j in range(per_session):
                        mid = ids[i * per_session + j]
                        msg = (f"From: alice@example.com\r\nTo: bob@example.org\r\n"
                               f"Message-ID: {mid}\r\nSubject: load {i}/{j}\r\n\r\n"
                               f"body {i} {j}\r\n").encode()
                        refused = s.sendmail("alice@example.com", ["bob@example.org"], msg)
                        if refused:
                            errors.append(f"{mid}: refused {refused}")
                    s.quit()
            except Exception as e:  # collected and reported by the main thread
                errors.append(f"session {i}: {e!r}")

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(sessions)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        elapsed = time.monotonic() - start
        self.assertEqual(errors, [], self.diag(up))
        got = [re.search(rb"Message-ID: (<[^>]+>)", m.content).group(1).decode()
               for m in up.messages()]
        self.assertEqual(len(got), sessions * per_session, self.diag(up))
        self.assertEqual(len(set(got)), len(got), "a message was delivered twice")
        self.assertEqual(set(got), expected)
        self.assertLess(elapsed, 60, f"200 messages took {elapsed:.1f}s")

    def test_quit_closes_both_sides(self) -> None:
        up, port = self.relay()
        with SmtpClient(port) as c:
            c.banner()
            self.assertEqual(c.command("EHLO c.example.net").code, 250)
            self.assertEqual(up.open_connections(), 1)
            reply = c.command("QUIT")
            self.assertEqual((reply.code, reply.enhanced), (221, "2.0.0"), str(reply))
            self.assertIsNone(c.expect_closed(5))
        self.assertTrue(up.wait_closed(5), "upstream connection still open after QUIT")
        self.assertIn("QUIT", [cmd.upper() for cmd in up.command_texts()])


class CapabilityTests(RelayCase):
    """The EHLO capability list the gateway computes (/tmp/relay_behaviour.md, DESIGN 3.2)."""

    def ehlo(self, port: int, domain: str = "c.example.net") -> Reply:
        with SmtpClient(port) as c:
            c.banner()
            reply = c.command(f"EHLO {domain}")
            c.command("QUIT")
        self.assertEqual(reply.code, 250, str(reply))
        self.assertEqual(reply.texts[0], f"{HOST} Hello {domain}", str(reply))
        return reply

    def test_banner(self) -> None:
        """`220 <hostname> ESMTP ...` at once, before the upstream is contacted. RFC 5321
        section 4.2 Greeting is "220 " Domain [ SP textstring ]: the name comes first."""
        up, port = self.relay()
        with SmtpClient(port) as c:
            banner = c.banner()
        self.assertEqual(banner.code, 220)
        self.assertEqual(len(banner.lines), 1, str(banner))
        self.assertRegex(banner.text, rf"^{re.escape(HOST)} ESMTP( |$)")
        self.assertEqual(up.connection_count(), 0, "upstream contacted before EHLO")

    def test_all_upstream_extensions(self) -> None:
        """Upstream offers everything: only SIZE, 8BITMIME, SMTPUTF8, PIPELINING,
        ENHANCEDSTATUSCODES come through; never CHUNKING, BINARYMIME, DSN, AUTH, STARTTLS..."""
        up, port = self.relay(upstream={
            "size": 20000000,
            "extra_caps": ["CHUNKING", "BINARYMIME", "DSN", "AUTH PLAIN LOGIN", "STARTTLS",
                           "ETRN", "XCLIENT NAME ADDR", "DELIVERBY 60", "REQUIRETLS"]})
        caps = capabilities(self.ehlo(port))
        self.assertEqual(caps, {"SIZE": "20000000", "8BITMIME": "", "SMTPUTF8": "",
                                "PIPELINING": "", "ENHANCEDSTATUSCODES": ""}, self.diag(up))

    def test_minimal_upstream(self) -> None:
        """Upstream offers nothing (no SIZE either): SIZE is the service limit, PIPELINING
        is the gateway's own; nothing else."""
        up, port = self.relay(upstream={"size": None, "eightbitmime": False, "smtputf8": False,
                                        "pipelining": False, "enhancedstatuscodes": False})
        caps = capabilities(self.ehlo(port))
        self.assertEqual(caps, {"SIZE": "36700160", "PIPELINING": ""}, self.diag(up))

    def test_size_is_the_smaller_limit_upstream(self) -> None:
        up, port = self.relay(upstream={"size": 1000000})
        self.assertEqual(capabilities(self.ehlo(port)).get("SIZE"), "1000000")

    def test_size_is_the_smaller_limit_service(self) -> None:
        up, port = self.relay(upstream={"size": 52428800}, max_message_size=10485760)
        self.assertEqual(capabilities(self.ehlo(port)).get("SIZE"), "10485760")

    def test_size_zero_upstream_means_service_limit(self) -> None:
        up, port = self.relay(upstream={"size": 0}, max_message_size=5000000)
        self.assertEqual(capabilities(self.ehlo(port)).get("SIZE"), "5000000")

    def test_smtputf8_only_when_upstream_has_it(self) -> None:
        up, port = self.relay(upstream={"smtputf8": False})
        caps = capabilities(self.ehlo(port))
        self.assertNotIn("SMTPUTF8", caps)
        self.assertIn("8BITMIME", caps)
        with SmtpClient(port) as c:
            c.banner()
            c.command("EHLO c.example.net")
            reply = c.command("MAIL FROM:<alice@example.com> SMTPUTF8")
            self.assertEqual((reply.code, reply.enhanced), (555, "5.5.4"), str(reply))

    def test_helo_reply_is_one_line(self) -> None:
        up, port = self.relay()
        with SmtpClient(port) as c:
            c.banner()
            reply = c.command("HELO c.example.net")
        self.assertEqual(reply.lines, [f"250 {HOST} Hello c.example.net"])

    def test_upstream_ehlo_carries_the_relay_name_not_the_client_string(self) -> None:
        # RFC 5321 §4.1.1.1 (the EHLO argument names the SMTP client: upstream, the relay);
        # field cases BR-15, BR-20. A HELO policy may still set it (test_policy.py).
        up, port = self.relay()
        for name in ("client.example.net", "[IPv6:2001:db8::25]", "[192.0.2.7]"):
            self.ehlo(port, name)
        conns = up.connections()
        self.assertEqual(len(conns), 3)
        self.assertEqual([c.greeting for c in conns], [f"EHLO {HOST}"] * 3)


class FourThreadTests(RelayCase):
    """grelayd --threads 4: one io_context per thread, sessions spread over them by the
    acceptor (dataplane/listener.h NodeIdentity::session_contexts)."""

    threads = 4

    # The same tests as with one thread (plain functions, bound to this class).
    send_and_get = DataPathTests.send_and_get
    test_200_messages_over_20_sessions_each_delivered_once = \
        DataPathTests.test_200_messages_over_20_sessions_each_delivered_once
    test_byte_exact_10_mib_body = DataPathTests.test_byte_exact_10_mib_body
    test_urgent_data_during_an_upstream_wait_is_no_reset = \
        DataPathTests.test_urgent_data_during_an_upstream_wait_is_no_reset
    test_client_reset_during_an_upstream_wait_frees_the_session = \
        DataPathTests.test_client_reset_during_an_upstream_wait_frees_the_session

    def test_a_client_reconnecting_right_after_quit_finds_its_slot_free(self) -> None:
        """With --max-sessions-per-client 1, a client that connects again as soon as it has
        read the 221 is served: the session gives its slot back as soon as the kernel has
        the 221. When the slot was freed only after the session's last handler ran, the new
        connection could be accepted on another thread first and refused with 421 (6 of 100
        in session 13's probe, with --threads 4)."""
        up, port = self.relay(None, "--max-sessions-per-client", "1")
        refused = []
        for i in range(100):
            with SmtpClient(port) as c:
                banner = c.banner()
                if banner.code != 220:
                    refused.append(f"{i}: {banner}")
                    continue
                self.assertEqual(c.command("EHLO c.example.net").code, 250)
                self.assertEqual(c.command("QUIT").code, 221)
        self.assertEqual(refused, [], self.diag(up))


class ControlPlaneTests(unittest.TestCase):
    """Configuration changes reach a running relay; the relay survives the control plane."""

    def setUp(self) -> None:
        self.env = RelayEnv(self._testMethodName.lower(), node_id="relay-cp")
        try:
            self.env.start()
        except BaseException:
            self.env.stop()
            raise

    def tearDown(self) -> None:
        self.env.stop()

    def deliver(self, port: int, up: RecordingUpstream, tag: str) -> None:
        before = len(up.messages())
        with smtp(port) as s:
            s.sendmail("alice@example.com", ["bob@example.org"],
                       f"Subject: {tag}\r\n\r\n{tag}\r\n".encode())
            s.quit()
        self.assertTrue(up.wait_messages(before + 1, 5), f"{tag} not delivered")
        self.assertIn(f"Subject: {tag}".encode(), up.messages()[-1].content)

    def test_sigterm_answers_421_and_lets_the_command_under_way_finish(self) -> None:
        """SIGTERM (RFC 5321 §3.8): no new sessions; an idle session gets 421 4.3.2 at once;
        a message whose end of data waits for the upstream still gets its 250 and is
        stored once, then 421; grelayd then exits 0 (probe round 40: every session was cut
        off without a reply)."""
        up = self.env.upstream(delay_final=1.5)
        _, port = self.env.service(up)
        idle, busy = idle_and_busy(self, port)
        time.sleep(0.3)  # the end of data is with the upstream, which answers at 1.5 s
        os.kill(self.env.relay.pid, signal.SIGTERM)
        assert_drained(self, idle, busy, self.env.diagnostics())
        self.assertFalse(banner_ok(port, 0.5), "a new session was accepted while stopping")
        self.assertTrue(wait_until(lambda: not self.env.relay.alive(), 5, 0.05))
        self.assertEqual(self.env.relay.returncode(), 0)
        self.assertEqual(len(up.messages()), 1, self.diag_text(up))
        idle.close()
        busy.close()

    def test_a_snapshot_during_the_stop_opens_no_listener(self) -> None:
        """Probe round 42: a configuration change that reached grelayd while it drained
        opened every listener again, and new clients got 220 then 421."""
        up = self.env.upstream(delay_final=2.0)
        _, port = self.env.service(up, name="stopping")
        busy = SmtpClient(port)
        open_data(self, busy)
        busy.send(b"Subject: under way\r\n\r\nbody\r\n.\r\n")
        time.sleep(0.3)
        os.kill(self.env.relay.pid, signal.SIGTERM)
        self.assertTrue(wait_until(lambda: port_refuses(port), 2.0, 0.02))
        self.env.gctl.service_update("stopping", "--max-recipients", "60")
        time.sleep(0.6)  # the snapshot reaches the node well within this
        self.assertTrue(port_refuses(port), "a listener opened again while stopping\n" +
                        self.env.relay.log_text()[-2000:])
        r = busy.read_reply(5)
        self.assertEqual(r.code, 250, str(r) + self.env.diagnostics())
        busy.close()
        self.assertTrue(wait_until(lambda: not self.env.relay.alive(), 5, 0.05))

    def test_sessions_of_a_deleted_interface_get_421_after_their_command(self) -> None:
        """Probe round 42: sessions on an interface that was deleted went on with the
        configuration of that moment (a deny handler added later never reached them), until
        their session timeout. Now they are drained as on SIGTERM: an idle one gets
        421 4.3.2 at once, one whose end of data waits for the upstream gets its 250
        first; sessions of the service's other interface go on."""
        up = self.env.upstream(delay_final=1.5)
        self.env.gctl.service_add("moving", LOOPBACK, up.port, hostname=HOST)
        kept_port, gone_port = free_port(), free_port()
        self.env.gctl.interface_add("moving", kept_port)
        gone_id = self.env.gctl.interface_add("moving", gone_port)
        self.assertTrue(wait_until(lambda: banner_ok(gone_port, 0.5) and banner_ok(kept_port, 0.5),
                                   3.0, 0.02), self.env.diagnostics())
        idle, busy = idle_and_busy(self, gone_port)
        other = SmtpClient(kept_port)
        other.banner()
        self.assertEqual(other.command("EHLO c.example.net").code, 250)
        time.sleep(0.3)
        self.env.gctl.interface_delete(gone_id)
        assert_drained(self, idle, busy, self.env.diagnostics())
        self.assertEqual(other.command("NOOP").code, 250, "the other interface's session goes on")
        self.assertIn("reason=interface closed", self.env.relay.log_text())
        other.command("QUIT")
        for c in (idle, busy, other):
            c.close()
        self.assertEqual(len(up.messages()), 1, self.diag_text(up))
        self.assertTrue(self.env.relay.alive())

    def diag_text(self, up: RecordingUpstream) -> str:
        return f"\n--- upstream:\n{up.describe()}\n" + self.env.diagnostics()

    def test_interface_add_and_delete_without_restart(self) -> None:
        up = self.env.upstream()
        self.env.gctl.service_add("svc", LOOPBACK, up.port, hostname=HOST)
        pid = self.env.relay.pid
        latencies = []
        ids = []
        ports = []
        for _ in range(3):
            port = free_port()
            ids.append(self.env.gctl.interface_add("svc", port))
            start = time.monotonic()
            self.assertTrue(wait_until(lambda: banner_ok(port, 0.5), 3.0, 0.01),
                            f"port {port} never greeted\n{self.env.diagnostics()}")
            latencies.append(time.monotonic() - start)
            ports.append(port)
        self.assertLess(max(latencies), 1.0, f"interface add -> first banner: {latencies}")
        if os.environ.get("GW_TEST_VERBOSE"):
            print(f"\ninterface add -> first banner: {[round(x, 3) for x in latencies]} s",
                  file=sys.stderr)
        for port in ports:
            self.deliver(port, up, f"via-{port}")
        self.env.gctl.interface_delete(ids[1])
        start = time.monotonic()
        self.assertTrue(wait_until(lambda: port_refuses(ports[1]), 3.0, 0.01),
                        f"deleted interface still accepts\n{self.env.diagnostics()}")
        closed_after = time.monotonic() - start
        self.assertLess(closed_after, 1.0, "interface delete took over 1 s")
        if os.environ.get("GW_TEST_VERBOSE"):
            print(f"interface delete -> refused: {closed_after:.3f} s", file=sys.stderr)
        self.deliver(ports[0], up, "still-open-0")
        self.deliver(ports[2], up, "still-open-2")
        self.assertEqual(self.env.relay.pid, pid)
        self.assertTrue(self.env.relay.alive())

    def test_gctlds_own_port_is_no_interface(self) -> None:
        """A relay node on gctld's host would take gctld's port while gctld restarts, and
        gctld could not listen again (probe round 45): gctl interface add refuses it."""
        up = self.env.upstream()
        self.env.gctl.service_add("selfport", LOOPBACK, up.port, hostname=HOST)
        for bind in (LOOPBACK, "0.0.0.0"):
            cp = self.env.gctl.run("interface", "add", "selfport", "--type", "tcp", "--port",
                                   str(self.env.gctld.port), "--bind", bind, check=False)
            self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
            self.assertIn("overlaps gctld's own gRPC listener (--listen)", cp.stderr)
        self.assertEqual(self.env.gctl.run("interface", "list", "selfport",
                                           output="json").stdout.count('"port"'), 0)

    def test_port_in_use_is_bound_once_it_is_free(self) -> None:
        """An interface whose port another process holds is served as soon as the port is
        free, without any further configuration change (probe round 10: the bind was only
        retried on the next snapshot)."""
        up = self.env.upstream()
        self.env.gctl.service_add("held", LOOPBACK, up.port, hostname=HOST)
        blocker = socket.socket()
        blocker.bind((LOOPBACK, 0))
        blocker.listen(5)
        port = blocker.getsockname()[1]
        try:
            self.env.gctl.interface_add("held", port)
            self.assertTrue(wait_until(lambda: "Address already in use" in
                                       self.env.relay.log_text(), 3.0),
                            "the bind did not fail\n" + self.env.diagnostics())
        finally:
            blocker.close()
        self.assertTrue(wait_until(lambda: banner_ok(port, 0.5), 8.0, 0.05),
                        f"port {port} not served after it became free\n{self.env.diagnostics()}")
        self.deliver(port, up, "after-the-port-came-free")

    def test_port_passed_to_another_interface_in_one_change(self) -> None:
        """One apply moves an interface (same port) from one service to another: the old
        listener closes before the new one binds, the port keeps greeting and now relays to
        the other service's upstream (probe round 10: the new listener failed with 'Address
        already in use', then the old one closed, and the port stayed closed)."""
        up_a, up_b = self.env.upstream(), self.env.upstream()
        port = free_port()
        service = ("  - name: {name}\n    host: 127.0.0.1\n    port: {up}\n"
                   "    hostname: relay.example.com\n    interfaces: {ifaces}\n")
        iface = f'[{{type: tcp, port: {port}, bind: "127.0.0.1"}}]'
        path = self.env.workdir / "move.yaml"

        def apply(on_a: bool) -> None:
            path.write_text("services:\n" +
                            service.format(name="move-a", up=up_a.port,
                                           ifaces=iface if on_a else "[]") +
                            service.format(name="move-b", up=up_b.port,
                                           ifaces="[]" if on_a else iface))
            self.env.gctl.run("apply", "-f", str(path))

        apply(on_a=True)
        self.assertTrue(wait_until(lambda: banner_ok(port, 0.5), 3.0, 0.02))
        self.deliver(port, up_a, "before-the-move")
        apply(on_a=False)
        self.assertTrue(wait_until(lambda: self.relays_to(port, up_b), 3.0, 0.1),
                        f"port {port} does not relay to move-b\n{self.env.diagnostics()}")

    def relays_to(self, port: int, up: RecordingUpstream) -> bool:
        """One message through `port`: True once `up` stored it."""
        before = len(up.messages())
        try:
            with smtp(port) as s:
                s.sendmail("alice@example.com", ["bob@example.org"],
                           b"Subject: moved\r\n\r\nx\r\n")
                s.quit()
        except (OSError, smtplib.SMTPException):
            return False
        return up.wait_messages(before + 1, 0.5)

    def test_service_update_reaches_the_node_within_one_second(self) -> None:
        up = self.env.upstream()
        name, port = self.env.service(up)

        def recipients_limited() -> bool:
            with SmtpClient(port) as c:
                c.banner()
                c.command("EHLO c.example.net")
                c.command("MAIL FROM:<alice@example.com>")
                c.command("RCPT TO:<a@example.org>")
                reply = c.command("RCPT TO:<b@example.org>")
                c.command("QUIT")
                return reply.code == 452

        self.assertFalse(recipients_limited())
        self.env.gctl.service_update(name, max_recipients=1)
        start = time.monotonic()
        self.assertTrue(wait_until(recipients_limited, 3.0, 0.02),
                        f"max-recipients 1 never applied\n{self.env.diagnostics()}")
        self.assertLess(time.monotonic() - start, 1.0)

    def test_relay_keeps_serving_without_control_plane(self) -> None:
        up = self.env.upstream()
        name, port = self.env.service(up)
        self.deliver(port, up, "before")
        self.assertEqual(self.env.gctld.stop(), 0, "gctld must exit 0 on SIGTERM")
        time.sleep(1.0)
        self.assertTrue(self.env.relay.alive(), self.env.relay.log_tail())
        for i in range(3):
            self.deliver(port, up, f"during-{i}")
        self.env.restart_gctld()
        new_port = free_port()
        self.env.gctl.interface_add(name, new_port)
        self.assertTrue(wait_until(lambda: banner_ok(new_port, 0.5), 20.0, 0.05),
                        f"relay did not pick up a change after gctld came back\n"
                        f"{self.env.diagnostics()}")
        self.deliver(new_port, up, "after")
        self.deliver(port, up, "after-old-port")
        cp = self.env.gctl.run("node", "list", output="json")
        self.assertIn("relay-cp", cp.stdout)


if __name__ == "__main__":
    unittest.main()
