"""Policy replies and refused greetings on the wire (issue 4; probe round 8): a HELO/EHLO
the policy refuses leaves the session as it was (RFC 5321 §4.1.4), a policy's 421 closes
the session (RFC 5321 §3.8), a reply built from client data is one printable line of at
most 512 octets with its decision id (RFC 5321 §4.2, §4.5.3.1.5; BR-31's rule for upstream
replies), and a policy's greeting reaches the client as written.

  cd tests/integration && GW_BIN_DIR=../../build/bin /usr/bin/python3 -m unittest -v test_policy_replies
"""

from __future__ import annotations

import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ConnectionClosed, ReplyTimeout  # noqa: E402
from policy_helpers import PolicyCase, decision_id  # noqa: E402

POLICIES = """\
policies:
  - name: no-internal-names
    reply: "550 5.7.1 HELO name not allowed"
    filters:
      - type: match
        attribute: smtp.helo.domain
        wildcard: "*.internal"
        negate: true
  - name: internal-only
    reply: "550 5.7.1 relay denied for helo ${smtp.helo.domain}"
    filters:
      - type: match
        attribute: smtp.helo.domain
        wildcard: "*.internal"
  - name: go-away
    reply: "421 4.7.0 Go away"
    filters:
      - type: "false"
  - name: echo-sender
    reply: "550 5.7.1 ${smtp.mail.from} ${smtp.mail.from} ${smtp.mail.from}"
    filters:
      - type: "false"
  - name: echo-body
    reply: "554 5.7.1 Rejected: ${content.body}"
    filters:
      - type: "false"
  - name: percent-greeting
    filters:
      - type: set_attribute
        attribute: smtp.helo.greeting
        value: "100% ready, C:\\\\relay for ${smtp.helo.domain}"
"""


def unprintable_lines(raw: bytes) -> list[bytes]:
    """Lines of `raw` (split at CRLF) that are not printable UTF-8: broken UTF-8, a C0
    control but HT, DEL, a C1 control (U+0080..U+009F) or U+2028/U+2029."""
    bad = []
    for line in raw.split(b"\r\n"):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(line)
            continue
        if any((ord(ch) < 0x20 and ch != "\t") or 0x7f <= ord(ch) <= 0x9f
               or ch in "\u2028\u2029" for ch in text):
            bad.append(line)
    return bad


class PolicyReplyTests(PolicyCase):
    POLICIES = POLICIES

    def raw_reply(self, c, seconds: float = 5.0) -> bytes:
        """Every octet that arrives until one complete reply line ends (or the time is up)."""
        deadline = time.monotonic() + seconds
        while b"\r\n" not in bytes(c.buf) and not c.eof and time.monotonic() < deadline:
            c._fill(deadline)
        return bytes(c.buf)

    def test_refused_ehlo_name_never_reaches_later_decisions(self) -> None:
        up = self.upstream()
        _, port = self.service(up, handlers=[("helo", "no-internal-names"),
                                             ("mail", "internal-only", "*")])
        c, ehlo = self.session(port, helo="outside.example")
        self.assertEqual(ehlo.code, 250, str(ehlo))
        r = c.command("MAIL FROM:<a@example.com>")
        self.assertEqual(r.code, 550, str(r))
        r = c.command("EHLO spoof.internal")
        self.assertEqual((r.code, r.enhanced), (550, "5.7.1"), str(r))
        # The MAIL policy must still see outside.example, the name that was accepted.
        r = c.command("MAIL FROM:<a@example.com>")
        self.assertEqual(r.code, 550, "MAIL accepted on a refused EHLO name: " + str(r))
        self.assertIn("outside.example", r.lines[0])
        self.assertFalse([t for t in up.command_texts() if t.upper().startswith("MAIL")],
                         up.command_texts())

    def test_refused_ehlo_keeps_the_transaction(self) -> None:
        up = self.upstream()
        _, port = self.service(up, handlers=[("helo", "no-internal-names")])
        c, ehlo = self.session(port, helo="outside.example")
        self.assertEqual(ehlo.code, 250, str(ehlo))
        self.assertEqual(c.command("MAIL FROM:<a@example.com>").code, 250)
        self.assertEqual(c.command("EHLO spoof.internal").code, 550)
        r = c.command("RCPT TO:<b@example.org>")
        self.assertEqual(r.code, 250, "the refused EHLO reset the transaction: " + str(r))
        self.assertEqual(c.command("DATA").code, 354)
        c.send(b"Subject: kept\r\n\r\nstill one transaction\r\n.\r\n")
        self.assertEqual(c.read_reply().code, 250)
        self.assertEqual(len(up.messages()), 1)

    def test_policy_421_closes_the_session(self) -> None:
        for command, spec in (("MAIL", ("mail", "go-away", "*")), ("EHLO", ("helo", "go-away"))):
            with self.subTest(command=command):
                up = self.upstream()
                _, port = self.service(up, handlers=[spec])
                c = self.client(port)
                self.assertEqual(c.banner().code, 220)
                if command == "MAIL":
                    self.assertEqual(c.command("EHLO c.example.net").code, 250)
                    r = c.command("MAIL FROM:<a@example.com>")
                else:
                    r = c.command("EHLO c.example.net")
                self.assertEqual((r.code, r.enhanced), (421, "4.7.0"), str(r))
                try:
                    after = c.command("NOOP")
                except (ConnectionClosed, ReplyTimeout, OSError):
                    after = None
                self.assertIsNone(after, f"session still open after a policy's 421: {after}")

    def test_reply_from_client_data_is_one_printable_line(self) -> None:
        up = self.upstream()
        # ${content.body}: NEL (U+0085), a fake reply behind it and octets that are not UTF-8.
        _, port = self.service(up, handlers=[("data", "echo-body")])
        c, _ = self.session(port)
        self.assertEqual(c.command("MAIL FROM:<a@example.com> BODY=8BITMIME").code, 250)
        self.assertEqual(c.command("RCPT TO:<b@example.org>").code, 250)
        self.assertEqual(c.command("DATA").code, 354)
        c.send(b"Subject: x\r\n\r\nok\xc2\x85250 2.0.0 Queued as FAKE \xff\xfe\r\n.\r\n")
        raw = self.raw_reply(c)
        self.assertTrue(raw.startswith(b"554 5.7.1 Rejected: "), raw)
        self.assertEqual(raw.count(b"\r\n"), 1, raw)
        self.assertEqual(unprintable_lines(raw), [], raw)
        self.assertIsNotNone(decision_id(raw.decode("utf-8")), raw)
        self.assertEqual(up.messages(), [])

        # ${smtp.mail.from}: a SMTPUTF8 local part holding NEL and U+2028 is valid UTF-8, but
        # refused as an address before any policy sees it (probe round 15); the reply is
        # still one printable line.
        _, port = self.service(up, handlers=[("mail", "echo-sender", "*")])
        c, _ = self.session(port)
        c.send(b"MAIL FROM:<a\xc2\x85250-fake\xe2\x80\xa8x@example.com> SMTPUTF8\r\n")
        raw = self.raw_reply(c)
        self.assertTrue(raw.startswith(b"501 5.1.7 "), raw)
        self.assertEqual(raw.count(b"\r\n"), 1, raw)
        self.assertEqual(unprintable_lines(raw), [], raw)

    def test_reply_text_is_ascii_unless_the_transaction_uses_smtputf8(self) -> None:
        """Reply text is US-ASCII (RFC 5321 §4.2) unless the transaction uses SMTPUTF8 (RFC
        6531 §3.7.4.2). The sender attribute holds U-labels for A-labels, and a policy reply
        that quoted it put UTF-8 into a 7-bit session (probe round 18)."""
        up = self.upstream()
        _, port = self.service(up, handlers=[("mail", "echo-sender", "*")])
        c, _ = self.session(port)
        c.send(b"MAIL FROM:<ceo@xn--bcher-kva.example>\r\n")
        raw = self.raw_reply(c)
        self.assertTrue(raw.startswith(b"550 5.7.1 ceo@b?cher.example "), raw)
        self.assertTrue(all(b < 0x80 for b in raw), raw)
        self.assertIsNotNone(decision_id(raw.decode()), raw)
        c.buf.clear()
        c.send("MAIL FROM:<ceo@bücher.example> SMTPUTF8\r\n".encode())
        raw = self.raw_reply(c)
        self.assertTrue(raw.startswith("550 5.7.1 ceo@bücher.example ".encode()), raw)

    def test_reply_line_fits_512_octets_with_its_decision_id(self) -> None:
        up = self.upstream()
        _, port = self.service(up, handlers=[("mail", "echo-sender", "*")])
        c, _ = self.session(port)
        # A 252-octet path (RFC 5321 §4.5.3.1.3 allows 256) echoed three times.
        local = "a" * 64
        domain = ".".join(["d" * 59] * 3) + ".example"
        c.send(f"MAIL FROM:<{local}@{domain}>\r\n".encode())
        raw = self.raw_reply(c)
        self.assertTrue(raw.startswith(b"550 5.7.1 "), raw)
        self.assertLessEqual(len(raw), 512, f"reply line of {len(raw)} octets")
        self.assertIsNotNone(decision_id(raw.decode()), "the decision id was cut off: " + repr(raw))

    def test_policy_greeting_reaches_the_client_as_written(self) -> None:
        up = self.upstream()
        _, port = self.service(up, handlers=[("helo", "percent-greeting")])
        c, ehlo = self.session(port, helo="client.example")
        self.assertEqual(ehlo.code, 250, str(ehlo))
        self.assertIn("100% ready, C:\\relay for client.example", ehlo.lines[0])


if __name__ == "__main__":
    unittest.main()
