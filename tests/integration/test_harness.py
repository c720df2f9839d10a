"""Self-tests of the integration harness and the script runner (no gateway binaries needed):
the recording upstream records and misbehaves as configured, the raw client parses replies,
the script format parses and matches as documented in tests/scripts/README.md.

  cd tests/integration && /usr/bin/python3 -m unittest -v test_harness
"""

from __future__ import annotations

import smtplib
import socket
import sys
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scripts"))

from harness import (ConnectionClosed, RecordingUpstream, Reply, SmtpClient,  # noqa: E402
                     has_bare_cr, has_bare_lf, parse_id, port_refuses, split_path)
import run_scripts  # noqa: E402


class RecordingUpstreamTest(unittest.TestCase):

    def test_records_envelope_content_commands_and_raw_bytes(self) -> None:
        with RecordingUpstream() as up:
            with smtplib.SMTP("127.0.0.1", up.port, local_hostname="c.example.net") as s:
                s.sendmail("alice@example.com", ["bob@example.org"],
                           b"Subject: x\r\n\r\n.dot\r\n8bit \xc3\xa9\r\n",
                           mail_options=["BODY=8BITMIME"])
                s.quit()
            self.assertTrue(up.wait_closed(2))
            [msg] = up.messages()
            self.assertEqual(msg.mail_from, "alice@example.com")
            self.assertEqual(msg.rcpt_tos, ["bob@example.org"])
            self.assertIn("BODY=8BITMIME", msg.mail_options)
            self.assertEqual(msg.content, b"Subject: x\r\n\r\n.dot\r\n8bit \xc3\xa9\r\n")
            self.assertEqual(msg.data_raw, b"Subject: x\r\n\r\n..dot\r\n8bit \xc3\xa9\r\n.\r\n")
            self.assertEqual(up.connections()[0].greeting, "EHLO c.example.net")
            self.assertIn(b"..dot\r\n", up.raw())
            self.assertEqual(up.command_texts()[0], "ehlo c.example.net")

    def test_rejects_recipients_and_relays_multiline(self) -> None:
        reply = "550-5.1.1 one\r\n550 5.1.1 two"
        with RecordingUpstream(reject_rcpt=[("nobody@*", reply)]) as up:
            with SmtpClient(up.port) as c:
                c.banner()
                c.command("EHLO c.example.net")
                c.command("MAIL FROM:<>")
                r = c.command("RCPT TO:<nobody@example.org>")
                self.assertEqual(r.lines, ["550-5.1.1 one", "550 5.1.1 two"])
                self.assertEqual(r.enhanced, "5.1.1")

    def test_capabilities_are_configurable(self) -> None:
        with RecordingUpstream(size=None, smtputf8=False, extra_caps=["CHUNKING"]) as up:
            with SmtpClient(up.port) as c:
                c.banner()
                r = c.command("EHLO c.example.net")
        caps = [t.split()[0] for t in r.texts[1:]]
        self.assertEqual(caps, ["8BITMIME", "PIPELINING", "ENHANCEDSTATUSCODES", "CHUNKING"])

    def test_drop_mid_data_stores_nothing(self) -> None:
        with RecordingUpstream(drop_mid_data=100) as up:
            with SmtpClient(up.port) as c:
                c.banner()
                c.command("EHLO c.example.net")
                c.command("MAIL FROM:<a@example.com>")
                c.command("RCPT TO:<b@example.org>")
                self.assertEqual(c.command("DATA").code, 354)
                c.send(b"x" * 200 + b"\r\n.\r\n")
                with self.assertRaises(ConnectionClosed):
                    c.read_reply(2)
            self.assertEqual(up.messages(), [])

    def test_data_reply_and_delay(self) -> None:
        with RecordingUpstream(data_reply="554 5.5.1 no", delay_data=0.3) as up:
            with SmtpClient(up.port) as c:
                c.banner()
                c.command("HELO c.example.net")
                c.command("MAIL FROM:<a@example.com>")
                c.command("RCPT TO:<b@example.org>")
                start = time.monotonic()
                r = c.command("DATA")
                self.assertGreaterEqual(time.monotonic() - start, 0.25)
                self.assertEqual(str(r), "554 5.5.1 no")

    def test_down_refuses_connections(self) -> None:
        with RecordingUpstream(down=True) as up:
            self.assertTrue(port_refuses(up.port))

    def test_silent_never_greets(self) -> None:
        with RecordingUpstream(silent=True) as up:
            with SmtpClient(up.port) as c:
                self.assertIsNone(c.expect_silence(0.4))


class ClientAndHelpersTest(unittest.TestCase):

    def test_reply_parsing(self) -> None:
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        with SmtpClient(srv.getsockname()[1]) as c:
            conn, _ = srv.accept()
            conn.sendall(b"250-a.example\r\n250-SIZE 10\r\n250 PIPELINING\r\n421 4.4.2 bye\r\n")
            r = c.read_reply(1)
            self.assertEqual((r.code, r.texts), (250, ["a.example", "SIZE 10", "PIPELINING"]))
            r = c.read_reply(1)
            self.assertEqual((r.code, r.enhanced, r.text), (421, "4.4.2", "4.4.2 bye"))
            conn.sendall(b"250 no crlf\n")
            with self.assertRaises(AssertionError):
                c.read_reply(1)
            conn.close()
            self.assertIsNone(c.expect_closed(1))
        srv.close()

    def test_helpers(self) -> None:
        self.assertEqual(split_path('<"a b"@x> SIZE=1 BODY=8BITMIME'),
                         ('"a b"@x', ["SIZE=1", "BODY=8BITMIME"]))
        self.assertEqual(split_path("<>"), ("", []))
        self.assertEqual(split_path('<"a>b"@x>'), ('"a>b"@x', []))
        self.assertTrue(has_bare_lf(b"a\r\nb\nc"))
        self.assertFalse(has_bare_lf(b"a\r\nb\r\n"))
        self.assertTrue(has_bare_cr(b"a\rb"))
        self.assertFalse(has_bare_cr(b"a\r\n"))
        self.assertEqual(parse_id('{\n "id": "42",\n "service": "s"\n}'), 42)
        self.assertEqual(parse_id("ID\n7\n"), 7)


class ScriptFormatTest(unittest.TestCase):

    def test_escapes(self) -> None:
        e = run_scripts.expand
        self.assertEqual(e("a<CR>b<LF>c<CRLF><NUL><xFF><SP><REPEAT 3 ab>"),
                         b"a\rb\nc\r\n\0\xff ababab")
        self.assertEqual(e("<REPEAT 2 <REPEAT 2 x><CRLF>>"), b"xx\r\nxx\r\n")
        self.assertEqual(e("MAIL FROM:<alice@example.com>"), b"MAIL FROM:<alice@example.com>")
        self.assertEqual(run_scripts.client_bytes("NOOP"), b"NOOP\r\n")
        self.assertEqual(run_scripts.client_bytes("x<LF>"), b"x\n")
        self.assertEqual(run_scripts.client_bytes("x<NOEOL>"), b"x")

    def test_reply_patterns(self) -> None:
        r = Reply(550, ["550 5.1.1 <nobody@example.org>: rejected"])
        check = run_scripts.check_reply
        self.assertIsNone(check("550*", r))
        self.assertIsNone(check("5xx", r))
        self.assertIsNone(check("5*", r))
        self.assertIsNone(check("550 5.1.1", r))
        self.assertIsNone(check("550 5.x.x *rejected", r))
        self.assertIsNone(check("550 5.1.1 <nobody@example.org>: rejected", r))
        self.assertIsNotNone(check("250*", r))
        self.assertIsNotNone(check("550 5.1.2", r))
        self.assertIsNotNone(check("550 5.1.1 accepted", r))
        self.assertIsNotNone(check("4xx", r))
        self.assertIsNotNone(check("550 5.1.1", Reply(550, ["550 no enhanced code"])))

    def test_all_scripts_parse(self) -> None:
        scripts = run_scripts.selected_scripts()
        self.assertGreater(len(scripts), 50)
        for path in scripts:
            script = run_scripts.parse_script(path)
            self.assertTrue(script.description, f"{path.name} has no description")
            self.assertTrue(script.steps, path.name)
            for step in script.steps:
                if step.kind == "U":
                    run_scripts.UpstreamCheck(None, step.arg)


if __name__ == "__main__":
    unittest.main()
