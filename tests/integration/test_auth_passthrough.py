"""AUTH integration tests (issue 3, DESIGN.md §4): pass-through of the client's SASL exchange
to an upstream that offers AUTH (PLAIN with and without initial response, LOGIN challenges,
"*" cancel), local checks of every client response (field cases BR-08, BR-09, BR-11: nothing
malformed reaches the upstream), AUTH only on encrypted sessions, and the gateway's own login
with service credentials (scenario 4). Real gctld/grelayd/gctl and aiosmtpd upstreams that
record every AUTH line and credential check.

  cd tests/integration && GW_BIN_DIR=../../build/bin /usr/bin/python3 -m unittest -v \\
      test_auth_passthrough
"""

from __future__ import annotations

import json
import smtplib
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import LOOPBACK, RecordingUpstream, wait_until  # noqa: E402
from tls_helpers import TlsRelayCase, b64, capabilities, plain_blob  # noqa: E402

# carol's credentials make a PLAIN response too long for an AUTH line of 512 octets.
USERS = {"alice": "s3cret", "bob": "b0b-pa55", "carol": "C4r0l-" + "x" * 400}


def auth_lines(up: RecordingUpstream) -> list[str]:
    """The upstream's received lines from the first AUTH on (SASL responses included),
    without EHLO/QUIT/MAIL/RCPT/DATA/RSET/NOOP."""
    skip = ("EHLO", "QUIT", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "STARTTLS")
    return [c for c in up.command_texts() if not c.upper().startswith(skip)]


class PassThroughTests(TlsRelayCase):
    """Service without credentials, upstream offering AUTH LOGIN PLAIN and requiring it for
    MAIL: the relay advertises the upstream's mechanisms after TLS and relays the exchange."""

    def setUp(self) -> None:
        super().setUp()
        self.up = self.upstream(auth_mechanisms=["LOGIN", "PLAIN"], auth_require_tls=False,
                                auth_users=dict(USERS), auth_required=True)
        self.svc, self.port = self.relay(self.up, iface="starttls")

    def session(self):
        c, before, after = self.starttls_session(self.port)
        return c, before, after

    def assert_no_credentials_reached_upstream(self) -> None:
        self.assertEqual(self.up.auth_attempts(), [], self.diag(self.up))

    def assert_login_works(self, c, user: str = "bob") -> None:
        """A valid AUTH PLAIN now succeeds and MAIL is accepted: the dialogue is aligned."""
        r = c.command("AUTH PLAIN " + plain_blob(user, USERS[user]))
        self.assertEqual(r.code, 235, str(r) + self.diag(self.up, c))
        r = c.command(f"MAIL FROM:<{user}@example.com>")
        self.assertEqual(r.code, 250, str(r) + self.diag(self.up, c))
        self.assertEqual(c.command("RSET").code, 250)
        self.assertEqual([(a.login, a.success) for a in self.up.auth_attempts()][-1],
                         (user, True))

    # -- advertising
    def test_mechanisms_are_the_upstreams_and_only_after_tls(self) -> None:
        c = self.client(self.port)
        c.banner()
        before = c.command("EHLO c.example.net")
        self.assertNotIn("AUTH", capabilities(before), str(before))
        r = c.command("AUTH PLAIN " + plain_blob("alice", USERS["alice"]))
        self.assertEqual((r.code, r.enhanced), (538, "5.7.11"), str(r))
        r = c.command("AUTH LOGIN")
        self.assertEqual((r.code, r.enhanced), (538, "5.7.11"), str(r))
        self.assertEqual(c.command("STARTTLS").code, 220)
        c.starttls(self.pki.client_context())
        after = c.command("EHLO c.example.net")
        self.assertEqual(sorted(capabilities(after).get("AUTH", "").split()), ["LOGIN", "PLAIN"],
                         str(after))
        self.assertEqual(auth_lines(self.up), [], "AUTH sent before TLS reached the upstream")
        # An upstream offering only LOGIN: the relay offers only LOGIN.
        up2 = self.upstream(auth_mechanisms=["LOGIN"], auth_require_tls=False,
                            auth_users=dict(USERS))
        _, port2 = self.relay(up2, iface="starttls")
        c2, _, after2 = self.starttls_session(port2)
        self.assertEqual(capabilities(after2).get("AUTH", "").split(), ["LOGIN"], str(after2))
        r = c2.command("AUTH PLAIN " + plain_blob("alice", USERS["alice"]))
        self.assertEqual(r.code // 100, 5, str(r))
        self.assertEqual(auth_lines(up2), [], "an unoffered mechanism was forwarded")

    def test_auth_not_offered_by_upstream(self) -> None:
        up = self.upstream()  # no AUTH
        _, port = self.relay(up, iface="starttls")
        c, _, after = self.starttls_session(port)
        self.assertNotIn("AUTH", capabilities(after))
        r = c.command("AUTH PLAIN " + plain_blob("alice", USERS["alice"]))
        self.assertEqual((r.code, r.enhanced), (503, "5.5.1"), str(r))
        self.assertEqual(auth_lines(up), [])

    def test_channel_bound_mechanisms_are_neither_offered_nor_relayed(self) -> None:
        # EXTERNAL would log the client in as the gateway's own TLS channel to the upstream
        # (RFC 4422 appendix A), and a "-PLUS" mechanism binds to a TLS session the upstream
        # never sees (RFC 5802 §6): neither can pass through a gateway (probe round 44).
        up = self.upstream(auth_mechanisms=["EXTERNAL", "SCRAM-SHA-256-PLUS", "PLAIN",
                                            "GS2-KRB5-PLUS"],
                           auth_require_tls=False, auth_users=dict(USERS))
        _, port = self.relay(up, iface="starttls")
        c, _, after = self.starttls_session(port)
        self.assertEqual(capabilities(after).get("AUTH", "").split(), ["PLAIN"], str(after))
        for line in ("AUTH EXTERNAL =", "AUTH EXTERNAL", "auth external Ym9i",
                     "AUTH SCRAM-SHA-256-PLUS cD10bHMtZXhwb3J0ZXIsLG49Ym9iLHI9eHl6",
                     "AUTH GS2-KRB5-PLUS"):
            r = c.command(line)
            self.assertEqual((r.code, r.enhanced), (504, "5.5.4"), line + ": " + str(r))
        self.assertEqual(auth_lines(up), [], "a channel-bound AUTH reached the upstream")
        r = c.command("AUTH PLAIN " + plain_blob("alice", USERS["alice"]))
        self.assertEqual(r.code, 235, str(r) + self.diag(up, c))
        # An upstream offering nothing else: AUTH is not offered at all.
        up2 = self.upstream(auth_mechanisms=["EXTERNAL", "SCRAM-SHA-1-PLUS"],
                            auth_require_tls=False)
        _, port2 = self.relay(up2, iface="starttls")
        c2, _, after2 = self.starttls_session(port2)
        self.assertNotIn("AUTH", capabilities(after2), str(after2))
        r = c2.command("AUTH EXTERNAL =")
        self.assertEqual((r.code, r.enhanced), (503, "5.5.1"), str(r))
        self.assertEqual(auth_lines(up2), [])

    def test_plaintext_auth_on_tcp_interface(self) -> None:
        # Without --allow-plaintext-auth: not advertised, refused with 538, never proxied.
        port = self.interface(self.svc, "tcp")
        c = self.client(port)
        c.banner()
        ehlo = c.command("EHLO c.example.net")
        self.assertNotIn("AUTH", capabilities(ehlo))
        r = c.command("AUTH PLAIN " + plain_blob("alice", USERS["alice"]))
        self.assertEqual((r.code, r.enhanced), (538, "5.7.11"), str(r))
        self.assertEqual(auth_lines(self.up), [])
        # With --allow-plaintext-auth: advertised and relayed.
        up = self.upstream(auth_mechanisms=["PLAIN"], auth_require_tls=False,
                           auth_users=dict(USERS))
        _, port2 = self.relay(up, "--allow-plaintext-auth")
        with smtplib.SMTP(LOOPBACK, port2, local_hostname="c.example.net", timeout=30) as s:
            s.ehlo()
            self.assertEqual(s.esmtp_features.get("auth", "").split(), ["PLAIN"])
            self.assertEqual(s.login("alice", USERS["alice"])[0], 235)
            s.quit()
        self.assertEqual([(a.login, a.success) for a in up.auth_attempts()], [("alice", True)])

    # -- relaying
    def test_plain_with_initial_response(self) -> None:
        c, _, _ = self.session()
        blob = plain_blob("alice", USERS["alice"])
        r = c.command("AUTH PLAIN " + blob)
        self.assertEqual(r.code, 235, str(r) + self.diag(self.up, c))
        r = c.command("AUTH PLAIN " + blob)
        self.assertEqual((r.code, r.enhanced), (503, "5.5.1"), "second AUTH: " + str(r))
        self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250)
        self.assertEqual(auth_lines(self.up), ["AUTH PLAIN " + blob])
        [attempt] = self.up.auth_attempts()
        self.assertEqual((attempt.mechanism, attempt.login, attempt.success),
                         ("PLAIN", "alice", True))

    def test_second_ehlo_keeps_the_proxied_login(self) -> None:
        """RFC 5321 §4.1.4: a second EHLO resets the transaction, not the login (RFC 4954
        §4). The login lives on the upstream connection, so the gateway greets that same
        connection again instead of opening an anonymous one (field probe, BR-08 family)."""
        c, _, _ = self.session()
        blob = plain_blob("bob", USERS["bob"])
        self.assertEqual(c.command("AUTH PLAIN " + blob).code, 235)
        connections = self.up.connection_count()
        r = c.command("EHLO c.example.net")
        self.assertEqual(r.code, 250, str(r))
        self.assertNotIn("AUTH", " ".join(r.lines[1:]), "AUTH offered again: " + str(r))
        r = c.command("AUTH PLAIN " + blob)
        self.assertEqual((r.code, r.enhanced), (503, "5.5.1"), str(r))
        r = c.command("MAIL FROM:<bob@example.com>")
        self.assertEqual(r.code, 250, str(r) + self.diag(self.up, c))
        self.assertEqual(c.command("RCPT TO:<carol@example.org>").code, 250)
        self.assertEqual(c.command("DATA").code, 354)
        self.assertEqual(c.command("Subject: again\r\n\r\nbody\r\n.").code, 250)
        self.assertEqual(self.up.connection_count(), connections, self.diag(self.up, c))
        self.assertEqual(len(self.up.auth_attempts()), 1)
        self.assertTrue(self.up.wait_messages(1))

    def test_second_ehlo_after_the_upstream_dropped_the_login(self) -> None:
        """The upstream closed the logged-in connection while the client was idle: the
        second EHLO opens a fresh session and offers AUTH again, never a 421 (probe round 6,
        PROTOCOL.md)."""
        c, _, _ = self.session()
        self.assertEqual(c.command("AUTH PLAIN " + plain_blob("bob", USERS["bob"])).code, 235)
        self.up.drop_connections()
        r = c.command("EHLO c.example.net")
        self.assertEqual(r.code, 250, str(r) + self.diag(self.up, c))
        self.assertIn("AUTH", " ".join(r.lines[1:]), "AUTH not offered again: " + str(r))
        self.assert_login_works(c)

    def test_auth_after_the_upstream_dropped_the_idle_connection(self) -> None:
        """This session's EHLO offered AUTH; the upstream then closed its idle connection.
        AUTH opens a new upstream connection (as MAIL does) and logs in there; with the
        upstream gone for good it is a temporary failure (454 4.7.0), never "503
        Authentication not enabled", which contradicts the EHLO reply (probe round 22)."""
        c, _, _ = self.session()
        before = self.up.connection_count()
        self.up.drop_connections()
        time.sleep(0.2)
        r = c.command("AUTH PLAIN " + plain_blob("bob", USERS["bob"]))
        self.assertEqual(r.code, 235, str(r) + self.diag(self.up, c))
        self.assertEqual(self.up.connection_count(), before + 1, self.diag(self.up, c))
        r = c.command("MAIL FROM:<bob@example.com>")
        self.assertEqual(r.code, 250, str(r) + self.diag(self.up, c))
        c.command("QUIT")
        # The upstream gone for good: every AUTH is 454 4.7.0, again and again.
        c2, _, _ = self.session()
        self.up.stop()  # closes its connections too
        time.sleep(0.2)
        for attempt in range(2):
            r = c2.command("AUTH PLAIN " + plain_blob("bob", USERS["bob"]))
            self.assertEqual((r.code, r.enhanced), (454, "4.7.0"), f"attempt {attempt}: {r}")
        r = c2.command("AUTH LOGIN")
        self.assertEqual((r.code, r.enhanced), (454, "4.7.0"), str(r))

    def test_response_with_a_command_behind_it_never_reaches_the_upstream(self) -> None:
        """A valid SASL response with MAIL pipelined behind it: 503 and close before the
        credential goes upstream (BR-23, probe round 6)."""
        c, _, _ = self.session()
        self.assertEqual(c.command("AUTH LOGIN").code, 334)
        self.assertEqual(c.command(b64("bob")).code, 334)
        c.send(b64(USERS["bob"]).encode() + b"\r\nMAIL FROM:<bob@example.com>\r\n")
        r = c.read_reply(5)
        self.assertEqual((r.code, r.enhanced), (503, "5.5.0"), str(r) + self.diag(self.up, c))
        closing = c.read_reply(5)  # RFC 5321 §4.1.4: a 421 before the close
        self.assertEqual((closing.code, closing.enhanced), (421, "4.5.0"), str(closing))
        self.assertIsNone(c.expect_closed(5))
        time.sleep(0.2)
        self.assertNotIn(b64(USERS["bob"]), self.up.command_texts())
        self.assertEqual([a.success for a in self.up.auth_attempts()], [])

    def test_plain_with_initial_response_may_be_pipelined(self) -> None:
        """RFC 4954 §4: AUTH PLAIN with an initial response completes in one round trip, so
        a client may pipeline MAIL behind it; MAIL runs after the 235 (probe round 12).
        AUTH LOGIN, or PLAIN without an initial response, still ends the group (BR-23)."""
        c, _, _ = self.session()
        c.send(("AUTH PLAIN " + plain_blob("alice", USERS["alice"]) +
                "\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.net>\r\n").encode())
        r = c.read_reply(5)
        self.assertEqual(r.code, 235, str(r) + self.diag(self.up, c))
        self.assertEqual(c.read_reply(5).code, 250, self.diag(self.up, c))
        self.assertEqual(c.read_reply(5).code, 250, self.diag(self.up, c))
        texts = self.up.command_texts()
        self.assertEqual(auth_lines(self.up), ["AUTH PLAIN " + plain_blob("alice", USERS["alice"])])
        self.assertIn("MAIL FROM:<alice@example.com>", texts)
        # A wrong password: 535, then the pipelined MAIL runs unauthenticated (530 upstream).
        c2, _, _ = self.session()
        c2.send(("AUTH PLAIN " + plain_blob("alice", "wrong") +
                 "\r\nMAIL FROM:<alice@example.com>\r\n").encode())
        self.assertEqual(c2.read_reply(5).code, 535)
        self.assertEqual(c2.read_reply(5).code, 530, "MAIL ran after the failed AUTH")
        for first, what in (("AUTH LOGIN " + b64("bob"), "LOGIN with initial response"),
                            ("AUTH PLAIN", "PLAIN without initial response")):
            with self.subTest(what):
                c3, _, _ = self.session()
                c3.send((first + "\r\nMAIL FROM:<mallory@example.com>\r\n").encode())
                r = c3.read_reply(5)
                self.assertEqual((r.code, r.enhanced), (503, "5.5.0"), f"{what}: {r}")
                closing = c3.read_reply(5)  # RFC 5321 §4.1.4: a 421 before the close
                self.assertEqual((closing.code, closing.enhanced), (421, "4.5.0"), str(closing))
                self.assertIsNone(c3.expect_closed(5))
                time.sleep(0.2)
                self.assertNotIn("MAIL FROM:<mallory@example.com>", self.up.command_texts())

    def test_mail_auth_parameter_is_accepted_and_not_forwarded(self) -> None:
        # RFC 4954 §5: a server that offered AUTH accepts AUTH= on MAIL. The relay cannot
        # vouch for the identity named there, so the upstream never sees it.
        c, _, _ = self.session()
        r = c.command("MAIL FROM:<mallory@example.com> AUTH=<>")
        self.assertEqual(r.code, 530, "AUTH is still required upstream: " + str(r))
        self.assertEqual(c.command("AUTH PLAIN " + plain_blob("alice", USERS["alice"])).code, 235)
        for param in ("AUTH=<>", "AUTH=alice+40example.com"):
            r = c.command(f"MAIL FROM:<alice@example.com> {param}")
            self.assertEqual(r.code, 250, param + ": " + str(r) + self.diag(self.up, c))
            self.assertEqual(c.command("RSET").code, 250)
        mails = [t for t in self.up.command_texts() if t.upper().startswith("MAIL")]
        self.assertEqual(len(mails), 3, mails)
        self.assertTrue(all("AUTH=" not in m.upper() for m in mails), mails)
        # Without AUTH offered (plain relay, no AUTH upstream) the parameter is unknown.
        up2 = self.upstream()
        _, port2 = self.relay(up2)
        c2 = self.client(port2)
        self.assertEqual(c2.banner().code, 220)
        self.assertEqual(c2.command("EHLO c.example.net").code, 250)
        r = c2.command("MAIL FROM:<a@example.com> AUTH=<>")
        self.assertEqual((r.code, r.enhanced), (555, "5.5.4"), str(r))

    def test_mail_auth_parameter_follows_the_latest_ehlo(self) -> None:
        # RFC 5321 §4.1.4, RFC 4954 §5: what the latest EHLO offers is what holds. Probe
        # round 34: after an EHLO that no longer offered AUTH, "MAIL ... AUTH=<>" still got
        # 250 while "AUTH" itself got 538.
        up = self.upstream(auth_mechanisms=["PLAIN"], auth_require_tls=False,
                           auth_users=dict(USERS))
        svc, port = self.relay(up, "--allow-plaintext-auth")
        c = self.client(port)
        self.assertEqual(c.banner().code, 220)
        self.assertIn("AUTH", capabilities(c.command("EHLO c.example.net")))
        self.assertEqual(c.command("MAIL FROM:<a@example.com> AUTH=<>").code, 250)
        self.assertEqual(c.command("RSET").code, 250)
        self.env.gctl.service_update(svc, "--allow-plaintext-auth=false")

        def offered() -> bool:
            return "AUTH" in capabilities(c.command("EHLO c.example.net"))
        self.assertTrue(wait_until(lambda: not offered(), 5.0, 0.1), "AUTH is still offered")
        r = c.command("MAIL FROM:<a@example.com> AUTH=<>")
        self.assertEqual((r.code, r.enhanced), (555, "5.5.4"), str(r))
        self.assertEqual(c.command("MAIL FROM:<a@example.com>").code, 250)

    def test_plain_without_initial_response(self) -> None:
        c, _, _ = self.session()
        r = c.command("AUTH PLAIN")
        self.assertEqual(r.code, 334, str(r))
        r = c.command(plain_blob("alice", USERS["alice"]))
        self.assertEqual(r.code, 235, str(r) + self.diag(self.up, c))
        self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250)
        # The response is checked before the upstream hears of the exchange (BR-08/BR-11),
        # which then goes there in one line.
        self.assertEqual(auth_lines(self.up), ["AUTH PLAIN " + plain_blob("alice", USERS["alice"])])

    def test_long_response_follows_the_upstreams_334_rfc4954(self) -> None:
        """RFC 4954 §4: an initial response that would make the AUTH line longer than 512
        octets is not sent on it; the gateway sends "AUTH PLAIN", waits for the 334, then
        the response (probe round 31: one 549-octet line, which the upstream refused)."""
        blob = plain_blob("carol", USERS["carol"])
        self.assertGreater(len("AUTH PLAIN " + blob + "\r\n"), 512)
        for initial_response in (False, True):
            with self.subTest(initial_response=initial_response):
                c, _, _ = self.session()
                if initial_response:  # the client's own line is long (AUTH lines: 12288)
                    r = c.command("AUTH PLAIN " + blob)
                else:
                    self.assertEqual(c.command("AUTH PLAIN").code, 334)
                    r = c.command(blob)
                self.assertEqual(r.code, 235, str(r) + self.diag(self.up, c))
                self.assertEqual(c.command("MAIL FROM:<carol@example.com>").code, 250)
                self.assertEqual(auth_lines(self.up)[-2:], ["AUTH PLAIN", blob])
                self.assertEqual([(a.login, a.success) for a in self.up.auth_attempts()][-1],
                                 ("carol", True))
                c.command("QUIT")
                c.close()

    def test_login_is_collected_then_relayed(self) -> None:
        """LOGIN's user name and password are collected with the gateway's own challenges
        and checked; only then does the exchange go to the upstream, answering its
        challenges (probe round 24: a refused response must never reach it)."""
        c, _, _ = self.session()
        r = c.command("AUTH LOGIN")
        self.assertEqual(r.lines, ["334 " + b64("Username:")])
        self.assertEqual(auth_lines(self.up), [], "the upstream heard of it before the password")
        r = c.command(b64("bob"))
        self.assertEqual(r.lines, ["334 " + b64("Password:")])
        r = c.command(b64(USERS["bob"]))
        self.assertEqual(r.code, 235, str(r) + self.diag(self.up, c))
        self.assertEqual(c.command("MAIL FROM:<bob@example.com>").code, 250)
        self.assertEqual(auth_lines(self.up), ["AUTH LOGIN", b64("bob"), b64(USERS["bob"])])
        self.assertEqual([(a.mechanism, a.login, a.success) for a in self.up.auth_attempts()],
                         [("LOGIN", "bob", True)])

    def test_login_empty_password_is_refused_locally_br08(self) -> None:
        """BR-08: "=" (an empty user name or password) never reaches the upstream's
        credential backend; the exchange there is cancelled with "*" (probe round 4)."""
        c, _, _ = self.session()
        self.assertEqual(c.command("AUTH LOGIN " + b64("bob")).code, 334)
        r = c.command("=")
        self.assertEqual((r.code, r.enhanced), (535, "5.7.8"), str(r) + self.diag(self.up, c))
        self.assertEqual(auth_lines(self.up), [], "BR-08: upstream: no AUTH forwarded")
        self.assertTrue(all(not a.success for a in self.up.auth_attempts()))
        self.assert_login_works(c)

    def test_bytes_behind_a_refused_sasl_response_never_run_br23(self) -> None:
        """An AUTH step ends a pipelined group: a MAIL sent behind a refused (bad base64) or
        cancelled response gets 503 and the connection closes; it never runs upstream."""
        for response in (b"!!!!", b"*"):
            with self.subTest(response=response):
                c, _, _ = self.session()
                self.assertEqual(c.command("AUTH LOGIN").code, 334)
                c.send(response + b"\r\nMAIL FROM:<mallory@example.com>\r\n")
                r = c.read_reply(5)
                self.assertEqual((r.code, r.enhanced), (503, "5.5.0"), str(r) + self.diag(self.up, c))
                closing = c.read_reply(5)  # RFC 5321 §4.1.4: a 421 before the close
                self.assertEqual((closing.code, closing.enhanced), (421, "4.5.0"), str(closing))
                self.assertIsNone(c.expect_closed(5))
                time.sleep(0.2)
                self.assertNotIn("MAIL FROM:<mallory@example.com>", self.up.command_texts())

    def test_client_gone_inside_the_exchange_reaches_no_upstream(self) -> None:
        """A client that leaves in the middle of an AUTH exchange: the exchange never
        reached the upstream (the response is collected first), so nothing there can take a
        later line for a credential (probe round 4: a QUIT sent into an open exchange)."""
        c, _, _ = self.session()
        self.assertEqual(c.command("AUTH PLAIN").code, 334)
        c.close()
        self.assertTrue(self.up.wait_closed(5), self.diag(self.up))
        self.assertEqual(auth_lines(self.up), [], self.diag(self.up))
        self.assertEqual(self.up.auth_attempts(), [])

    def test_wrong_password_is_relayed_and_retry_works(self) -> None:
        c, _, _ = self.session()
        r = c.command("AUTH PLAIN " + plain_blob("alice", "wrong"))
        self.assertEqual((r.code, r.enhanced), (535, "5.7.8"), str(r))
        r = c.command("MAIL FROM:<alice@example.com>")
        self.assertEqual(r.code, 530, "upstream requires AUTH: " + str(r))
        self.assert_login_works(c, "alice")

    def test_smtplib_login_both_mechanisms(self) -> None:
        for mechanism in ("PLAIN", "LOGIN"):
            with self.subTest(mechanism=mechanism):
                with smtplib.SMTP(LOOPBACK, self.port, local_hostname="c.example.net",
                                  timeout=30) as s:
                    s.starttls(context=self.pki.client_context())
                    s.ehlo()
                    s.user, s.password = "bob", USERS["bob"]
                    code, _ = s.auth(mechanism, getattr(s, f"auth_{mechanism.lower()}"),
                                     initial_response_ok=mechanism == "PLAIN")
                    self.assertEqual(code, 235)
                    self.assertEqual(s.sendmail("bob@example.com", ["carol@example.org"],
                                                b"Subject: auth\r\n\r\nhello\r\n"), {})
                    s.quit()
        self.assertEqual(len(self.up.messages()), 2)

    # -- field case BR-08: "=" (zero-length response)
    def test_br08_empty_responses_are_refused_locally(self) -> None:
        c, _, _ = self.session()
        r = c.command("AUTH PLAIN =")
        self.assertEqual((r.code, r.enhanced), (501, "5.5.2"), str(r))
        self.assertEqual(auth_lines(self.up), [], "AUTH PLAIN = was forwarded")
        r = c.command("AUTH LOGIN =")
        self.assertEqual((r.code, r.enhanced), (535, "5.7.8"), str(r))
        self.assertEqual(auth_lines(self.up), [], "AUTH LOGIN = was forwarded")
        # Without initial response: the "=" is refused before the upstream hears of the
        # exchange (BR-08 "Upstream: no AUTH forwarded"; probe round 24 saw "AUTH PLAIN"
        # and "*" go upstream).
        r = c.command("AUTH PLAIN")
        self.assertEqual(r.code, 334, str(r))
        r = c.command("=")
        self.assertEqual((r.code, r.enhanced), (501, "5.5.2"), str(r))
        self.assertEqual(c.command("AUTH LOGIN").code, 334)
        r = c.command("=")
        self.assertEqual((r.code, r.enhanced), (535, "5.7.8"), str(r))
        self.assertEqual(auth_lines(self.up), [])
        self.assert_no_credentials_reached_upstream()
        self.assert_login_works(c)

    def test_endless_sasl_response_gets_421(self) -> None:
        # BR-12 kind inside an AUTH exchange: a response line that never ends is cut at the
        # hard limit with 421 (RFC 5321 §3.8), as in command mode, and nothing goes upstream.
        c, _, _ = self.session()
        self.assertEqual(c.command("AUTH PLAIN").code, 334)
        c.send(b"A" * (80 * 1024))
        r = c.read_reply()
        self.assertEqual((r.code, r.enhanced), (421, "4.7.0"), str(r))
        self.assertIsNone(c.expect_closed(), "the connection stayed open")
        self.assertEqual(auth_lines(self.up), [])  # no octet of the exchange
        self.assert_no_credentials_reached_upstream()

    # -- field case BR-09: "*" cancels
    def test_br09_cancel_keeps_the_dialogue_aligned(self) -> None:
        c, _, _ = self.session()
        r = c.command("AUTH LOGIN")
        self.assertEqual(r.code, 334, str(r))
        r = c.command("*")
        self.assertEqual((r.code, r.enhanced), (501, "5.7.0"), str(r))
        r = c.command("AUTH PLAIN")
        self.assertEqual(r.code, 334, str(r))
        r = c.command("*")
        self.assertEqual((r.code, r.enhanced), (501, "5.7.0"), str(r))
        # LOGIN cancelled after the user name too.
        self.assertEqual(c.command("AUTH LOGIN").code, 334)
        self.assertEqual(c.command(b64("alice")).code, 334)
        r = c.command("*")
        self.assertEqual((r.code, r.enhanced), (501, "5.7.0"), str(r))
        # Cancelled exchanges never reached the upstream (they are collected first).
        self.assertEqual(auth_lines(self.up), [])
        self.assert_no_credentials_reached_upstream()
        r = c.command("AUTH PLAIN " + plain_blob("alice", USERS["alice"]))
        self.assertEqual(r.code, 235, "retry after cancel: " + str(r) + self.diag(self.up, c))
        r = c.command("MAIL FROM:<alice@example.com>")
        self.assertEqual(r.code, 250, str(r))
        self.assertEqual(c.command("RCPT TO:<bob@example.org>").code, 250)
        self.assertEqual(c.command("NOOP").code, 250)

    # -- field case BR-11: malformed base64
    def test_br11_malformed_base64_never_reaches_the_upstream(self) -> None:
        c, _, _ = self.session()
        for line in ("AUTH PLAIN AGFsaWNlAHMzY3JldAB",      # 4n+3 characters
                     "AUTH PLAIN AGFs aWNl",                # space inside
                     "AUTH PLAIN AGE=AHMz",                 # "=" in the middle
                     "AUTH PLAIN AGFsaWNl!HMzY3JldA==",     # outside the alphabet
                     "AUTH PLAIN " + "A" * 5000 + "!"):     # long and bad
            with self.subTest(line=line[:40]):
                r = c.command(line)
                self.assertEqual((r.code, r.enhanced), (501, "5.5.2"), str(r))  # BR-11
        self.assertEqual(auth_lines(self.up), [], "malformed initial responses were forwarded")
        r = c.command("AUTH LOGIN")
        self.assertEqual(r.code, 334, str(r))
        r = c.command("YWxp!ZQ==")
        self.assertEqual((r.code, r.enhanced), (501, "5.5.2"), str(r))
        r = c.command("AUTH LOGIN")
        self.assertEqual(r.code, 334, str(r))
        self.assertEqual(c.command(b64("alice")).code, 334)
        r = c.command("cGFz=c3dk")
        self.assertEqual((r.code, r.enhanced), (501, "5.5.2"), str(r))
        self.assertEqual(auth_lines(self.up), [], "BR-11: upstream: nothing")
        # Probe round 23: LOGIN user names with a control character (NUL, CRLF, NEL) were
        # forwarded; local mode refuses them, and so does pass-through now.
        for user in ("ali\x00ce", "alice\r\nRSET", "ali\u0085ce"):
            with self.subTest(user=repr(user)):
                self.assertEqual(c.command("AUTH LOGIN").code, 334)
                r = c.command(b64(user))
                self.assertEqual((r.code, r.enhanced), (501, "5.5.2"), str(r))
        self.assertEqual(auth_lines(self.up), [])
        self.assert_no_credentials_reached_upstream()
        self.assert_login_works(c)


class ServiceCredentialsTests(TlsRelayCase):
    """Scenario 4: the service has --username/--password-file and the upstream offers AUTH:
    the gateway logs in itself (PLAIN, else LOGIN) and does not advertise AUTH."""

    SVC_USER, SVC_PASSWORD = "relay-svc", "Svc-Pa55word-4711"

    def password_file(self) -> Path:
        path = self.env.workdir / "upstream.pw"
        path.write_text(self.SVC_PASSWORD)
        return path

    def credentials_service(self, up: RecordingUpstream, security: str = "starttls") -> int:
        _, port = self.relay(up, "--username", self.SVC_USER, "--password-file",
                             str(self.password_file()), iface="starttls", security=security)
        return port

    def test_gateway_logs_in_itself(self) -> None:
        for mechanisms in (["PLAIN", "LOGIN"], ["LOGIN"]):
            with self.subTest(upstream_offers=mechanisms):
                up = self.upstream(starttls=True, auth_mechanisms=mechanisms,
                                   auth_users={self.SVC_USER: self.SVC_PASSWORD},
                                   auth_required=True)
                port = self.credentials_service(up)
                c, before, after = self.starttls_session(port)
                self.assertNotIn("AUTH", capabilities(before))
                self.assertNotIn("AUTH", capabilities(after))
                r = c.command("AUTH PLAIN " + plain_blob("alice", "s3cret"))
                self.assertEqual((r.code, r.enhanced), (503, "5.5.1"), str(r))
                self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250,
                                 self.diag(up, c))
                self.assertEqual(c.command("RCPT TO:<bob@example.org>").code, 250)
                self.assertEqual(c.command("DATA").code, 354)
                c.send(b"Subject: svc\r\n\r\nhello\r\n.\r\n")
                self.assertEqual(c.read_reply().code, 250)
                attempts = up.auth_attempts()
                self.assertTrue(attempts, self.diag(up))
                self.assertTrue(all((a.login, a.password, a.success, a.tls) ==
                                    (self.SVC_USER, self.SVC_PASSWORD, True, True)
                                    for a in attempts), attempts)
                self.assertEqual(attempts[0].mechanism, mechanisms[0])
                self.assertNotIn("AUTH PLAIN " + plain_blob("alice", "s3cret"),
                                 up.command_texts())

    def test_long_credentials_follow_the_334_rfc4954(self) -> None:
        """A service password long enough that "AUTH PLAIN <response>" would pass 512
        octets: the gateway sends "AUTH PLAIN" and the response after the 334 (RFC 4954 §4;
        probe round 31: every client got 421 at EHLO)."""
        self.SVC_PASSWORD = "T0ken." + "t" * 420
        up = self.upstream(starttls=True, auth_mechanisms=["PLAIN", "LOGIN"],
                           auth_users={self.SVC_USER: self.SVC_PASSWORD}, auth_required=True)
        port = self.credentials_service(up)
        c, _, _ = self.starttls_session(port)
        self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250, self.diag(up, c))
        self.assertEqual(c.command("RCPT TO:<bob@example.org>").code, 250)
        self.assertEqual(c.command("DATA").code, 354)
        c.send(b"Subject: svc\r\n\r\nhello\r\n.\r\n")
        self.assertEqual(c.read_reply().code, 250)
        attempts = up.auth_attempts()
        self.assertTrue(attempts, self.diag(up))
        # One login per upstream connection (the EHLO before and after STARTTLS).
        self.assertEqual({(a.mechanism, a.login, a.password == self.SVC_PASSWORD, a.success)
                          for a in attempts}, {("PLAIN", self.SVC_USER, True, True)})
        self.assertIn("AUTH PLAIN", up.command_texts())
        self.assertTrue(all(len(line) <= 510 for line in up.command_texts()
                            if line.startswith("AUTH")))

    def test_upstream_refusing_the_credentials_gives_4xx(self) -> None:
        up = self.upstream(starttls=True, auth_mechanisms=["PLAIN"],
                           auth_users={self.SVC_USER: "another password"}, auth_required=True)
        _, port = self.relay(up, "--username", self.SVC_USER, "--password-file",
                             str(self.password_file()), security="starttls")
        c = self.client(port)
        c.banner()
        r = c.command("EHLO c.example.net")
        self.assertEqual(r.code // 100, 4, str(r) + self.diag(up, c))
        self.assertEqual(up.messages(), [])
        self.assertEqual([a.success for a in up.auth_attempts()], [False])

    def test_credentials_without_upstream_auth(self) -> None:
        up = self.upstream()  # no AUTH offered: nothing to log in to, mail still flows
        port = self.credentials_service(up, security="none")
        c, _, after = self.starttls_session(port)
        self.assertNotIn("AUTH", capabilities(after))
        self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250)
        self.assertEqual(auth_lines(up), [])


if __name__ == "__main__":
    unittest.main()


class ProtocolTraceTests(TlsRelayCase):
    """DESIGN.md §8: a service's protocol trace logs both legs of its sessions' SMTP
    dialogue in grelayd's log, with every AUTH payload (client and gateway responses, initial
    responses, challenges) and the message content left out; it follows `gctl service update
    --protocol-trace` live, and other services are not traced."""

    SVC_USER, SVC_PASSWORD = "relay-svc", "Svc-Pa55word-0815"

    def setUp(self) -> None:
        super().setUp()
        # This test's log lines start here: an earlier test's session may have had the
        # same client port (the kernel reuses ephemeral ports).
        self.log_start = len(self.env.relay.log_text())

    def trace_lines(self, marker: str) -> list[str]:
        """The grelayd trace lines of the session whose trace holds `marker` (an EHLO name
        unique to the test)."""
        log = self.env.relay.log_text().splitlines()
        sessions = {line.split("session=")[1].split()[0] for line in log
                    if " trace " in line and marker in line and "session=" in line}
        return [line.split(" trace ", 1)[1] for line in log
                if " trace " in line and "session=" in line
                and line.split("session=")[1].split()[0] in sessions]

    def wait_session_end(self, c) -> None:
        """Waits for grelayd's last line of the session of client `c` (its "end" line names
        the client's address and port): every trace line of that session is written then."""
        end = f"client={LOOPBACK}:{c.sock.getsockname()[1]} end messages="
        self.assertTrue(
            wait_until(lambda: end in self.env.relay.log_text()[self.log_start:], 5.0),
            self.env.relay.log_tail())

    def wait_session_end_after_quit(self, c) -> None:
        """QUIT (221), then wait_session_end(c)."""
        self.assertEqual(c.command("QUIT").code, 221)
        self.wait_session_end(c)

    def test_pass_through_dialogue_is_traced_without_credentials_or_content(self) -> None:
        up = self.upstream(auth_mechanisms=["LOGIN", "PLAIN"], auth_require_tls=False,
                           auth_users=dict(USERS), auth_required=True)
        svc, port = self.relay(up, "--protocol-trace", iface="starttls")
        c = self.client(port)
        c.banner()
        self.assertEqual(c.command("EHLO trace-one.example").code, 250)
        self.assertEqual(c.command("STARTTLS").code, 220)
        c.starttls(self.pki.client_context())
        self.assertEqual(c.command("EHLO trace-one.example").code, 250)
        # A line refused for its length: traced as such, never its text.
        self.assertEqual(c.command("NOOP " + "Long-Line-Marker" * 40).code, 500)
        # Trailing blanks after an initial response (RFC 5321 §4.1.1 tolerance; probe round
        # 48: they moved the redaction into the credential); a wrong password here.
        trailing = plain_blob("alice", "Trailing-Blank-Pw")
        self.assertEqual(c.command("AUTH PLAIN " + trailing + " " * 40).code, 535)
        # A failed LOGIN (wrong password), then PLAIN with an initial response.
        self.assertEqual(c.command("AUTH LOGIN").code, 334)
        self.assertEqual(c.command(b64("alice")).code, 334)
        self.assertEqual(c.command(b64("Wrong-Guess-77")).code, 535)
        blob = plain_blob("alice", USERS["alice"])
        self.assertEqual(c.command("AUTH PLAIN " + blob).code, 235, self.diag(up, c))
        self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250, self.diag(up, c))
        self.assertEqual(c.command("RCPT TO:<bob@example.org>").code, 250)
        self.assertEqual(c.command("DATA").code, 354)
        c.send(b"Subject: trace\r\n\r\nBody-Marker-3141\r\n.\r\n")
        self.assertEqual(c.read_reply().code, 250)
        self.wait_session_end_after_quit(c)

        lines = self.trace_lines("trace-one.example")
        text = "\n".join(lines)
        for expected in ("c>g EHLO trace-one.example", "c>g STARTTLS", "g>c 220 ",
                         "c>g [TLS established: TLSv1.",
                         "c>g AUTH LOGIN", "c>g [SASL response redacted]",
                         "c>g AUTH PLAIN [redacted]", "g>u AUTH PLAIN [redacted]",
                         "u>g 235 ", "g>c 535 ",
                         "c>g MAIL FROM:<alice@example.com>",
                         "g>u MAIL FROM:<alice@example.com>", "g>u RCPT TO:<bob@example.org>",
                         "g>u DATA", "u>g 354 ", "c>g [message content, ",
                         "g>u [message content, ", "c>g QUIT", "g>c 221 ",
                         "c>g [line refused: too long]"):
            self.assertIn(expected, text, text)
        self.assertTrue(any(line.startswith("u>g 250") for line in lines), text)
        log = self.env.relay.log_text()
        for secret in (USERS["alice"], blob, b64("alice"), b64("Wrong-Guess-77"),
                       "Wrong-Guess-77", "Body-Marker-3141", "Long-Line-Marker", trailing,
                       trailing[:8], "Trailing-Blank-Pw"):
            self.assertNotIn(secret, log)
        # Every c>g line comes with its reply: the line and its replies are traced under
        # the same setting (probe round 48: a command was traced by one, its replies by
        # the next).
        self.assertEqual(sum(1 for line in lines if line.startswith("c>g QUIT")), 1, text)

        # A session open while the trace is switched off: its next command is not traced.
        c3 = self.client(port)
        c3.banner()
        self.assertEqual(c3.command("EHLO trace-three.example").code, 250)

        # Switched off live: once the node has the change, sessions are not traced.
        self.env.gctl.service_update(svc, "--protocol-trace=false")
        shown = json.loads(self.env.gctl.run("service", "show", svc, output="json").stdout)
        self.assertFalse(shown.get("protocol_trace", False), shown)
        attempt = [0]

        def untraced_session() -> bool:
            attempt[0] += 1
            name = f"trace-off-{attempt[0]}.example"
            c2 = self.client(port)
            c2.banner()
            self.assertEqual(c2.command(f"EHLO {name}").code, 250)
            self.wait_session_end_after_quit(c2)
            return self.trace_lines(name) == []

        self.assertTrue(wait_until(untraced_session, 3.0, 0.1),
                        "sessions still traced after --protocol-trace=false")
        # The upstream wants AUTH first: 530, relayed; either way the line is not traced.
        self.assertEqual(c3.command("MAIL FROM:<after-off@example.com>").code, 530)
        self.wait_session_end_after_quit(c3)
        three = self.trace_lines("trace-three.example")
        self.assertIn("c>g EHLO trace-three.example", "\n".join(three))
        self.assertNotIn("after-off", self.env.relay.log_text())

    def test_gateway_login_with_service_credentials_is_traced_redacted(self) -> None:
        up = self.upstream(starttls=True, auth_mechanisms=["LOGIN"],
                           auth_users={self.SVC_USER: self.SVC_PASSWORD}, auth_required=True)
        pw = self.env.workdir / "trace-upstream.pw"
        pw.write_text(self.SVC_PASSWORD)
        _, port = self.relay(up, "--protocol-trace", "--username", self.SVC_USER,
                             "--password-file", str(pw), iface="starttls", security="starttls")
        c, _, _ = self.starttls_session(port)
        self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250, self.diag(up, c))
        self.wait_session_end_after_quit(c)
        self.assertTrue(up.auth_attempts() and up.auth_attempts()[-1].success, self.diag(up))
        lines = self.trace_lines("c.example.net")
        text = "\n".join(lines)
        for expected in ("g>u STARTTLS", "g>u [TLS established: TLSv1.", "g>u AUTH LOGIN",
                         "u>g 334 [challenge redacted]",
                         "g>u [SASL response redacted]", "u>g 235 "):
            self.assertIn(expected, text, text)
        log = self.env.relay.log_text()
        for secret in (self.SVC_PASSWORD, b64(self.SVC_PASSWORD), b64(self.SVC_USER)):
            self.assertNotIn(secret, log)

    def test_untraced_service_logs_no_dialogue(self) -> None:
        up = self.upstream()
        _, port = self.relay(up)
        c = self.client(port)
        c.banner()
        self.assertEqual(c.command("EHLO untraced.example").code, 250)
        self.wait_session_end_after_quit(c)
        self.assertEqual(self.trace_lines("untraced.example"), [])
        self.assertNotIn(" trace c>g EHLO untraced.example", self.env.relay.log_text())

    def test_bare_lf_line_is_traced_as_refused_and_ends_the_session_for_it(self) -> None:
        """Probe round 49: a line ending in a bare LF got its 421 after the pause, but the
        trace showed no client line and the session ended as a "timeout"."""
        up = self.upstream()
        _, port = self.relay(up, "--protocol-trace")
        c = self.client(port)
        c.banner()
        self.assertEqual(c.command("EHLO bare-lf.example").code, 250)
        c.send(b"NOOP Bare-Lf-Marker\n")
        r = c.read_reply(timeout=10)
        self.assertEqual((r.code, r.enhanced), (421, "4.5.2"), str(r))
        self.wait_session_end(c)
        text = "\n".join(self.trace_lines("bare-lf.example"))
        self.assertIn("c>g [line refused: bare LF]", text, text)
        self.assertNotIn("Bare-Lf-Marker", self.env.relay.log_text())
        self.assertTrue(any("reason=bare LF" in line and " end messages=" in line
                            for line in self.env.relay.log_text().splitlines()),
                        self.env.relay.log_tail())
