"""AUTH with policies (issue 4, DESIGN.md §4, reference "SMTP authentication"): one test per
row of the reference's eight-row AUTH matrix (is AUTH advertised, is the client's AUTH
proxied, does the gateway log in to the upstream), then local AUTH against the
authentication repository: authorization-identity rules, control characters, and the field
cases BR-08, BR-09 and BR-11, asserted through the replies and the audit trail (malformed
responses never produce a decision). Real gctld/grelayd/gctl, aiosmtpd upstreams that record
every credential check, raw-socket clients, smtplib and swaks.

  cd tests/integration && GW_BIN_DIR=../../build/bin /usr/bin/python3 -m unittest -v \\
      test_auth_matrix
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import LOOPBACK, wait_until  # noqa: E402
from policy_helpers import (PolicyCase, b64, capabilities, decision_id,  # noqa: E402
                            plain_blob)

SWAKS = shutil.which("swaks") or "/usr/bin/swaks"

ALICE, ALICE_PW = "alice", "Alice-Repo-Pw-31"
BOB, BOB_PW = "bob", "Bob-Repo-Pw-57"
WRONG_PW = "Wr0ng-Guess-x7"
SVC_USER, SVC_PW = "relay-svc", "Svc-Upstream-Pw-77"

POLICIES = """\
policies:
  - name: check-user
    filters:
      - type: attribute_authentication
  - name: check-user-authz
    filters:
      - type: attribute_authentication
        allow_authorization_id: true
"""

# The reference's matrix: (row, H auth handler, C service credentials, S upstream offers AUTH,
# gateway advertises AUTH, client AUTH proxied, gateway authenticates to the upstream).
MATRIX = [
    (1, False, False, False, False, False, False),
    (2, False, False, True, True, True, False),
    (3, False, True, False, False, False, False),
    (4, False, True, True, False, False, True),
    (5, True, False, False, True, False, False),
    (6, True, False, True, True, False, False),
    (7, True, True, False, True, False, False),
    (8, True, True, True, True, False, True),
]


class AuthMatrixTests(PolicyCase):
    """Each row: an upstream with (S) or without AUTH PLAIN that records every login, a
    service with --allow-plaintext-auth (so plain TCP is enough), with (C) or without
    --username/--password-file, with (H) or without an auth handler whose policy checks the
    repository (alice). The upstream knows alice too, so a wrongly proxied login would show."""

    POLICIES = POLICIES
    USERS = {ALICE: ALICE_PW}

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.svc_password_file = cls.env.workdir / "upstream.pw"
        cls.svc_password_file.write_text(SVC_PW + "\n")

    def test_matrix_matches_design_formulas(self) -> None:
        for n, h, c, s, adv, proxy, gw in MATRIX:
            self.assertEqual(adv, h or (not c and s), n)
            self.assertEqual(proxy, not h and not c and s, n)
            self.assertEqual(gw, c and s, n)

    def check_row(self, n: int, h: bool, c_: bool, s: bool, adv: bool, proxy: bool,
                  gw: bool) -> None:
        up_config: dict = {}
        if s:
            up_config = dict(auth_mechanisms=["PLAIN"], auth_require_tls=False,
                             auth_users={ALICE: ALICE_PW, SVC_USER: SVC_PW},
                             auth_required=proxy or gw)
        up = self.upstream(**up_config)
        flags = ["--allow-plaintext-auth"]
        if c_:
            flags += ["--username", SVC_USER, "--password-file", str(self.svc_password_file)]
        svc, port = self.service(up, *flags, handlers=[("auth", "check-user")] if h else [])
        label = f"row {n} (H={h} C={c_} S={s})"

        c, ehlo = self.session(port)
        self.assertEqual(ehlo.code, 250, label + str(ehlo) + self.diag(up, c))
        caps = capabilities(ehlo)
        self.assertEqual("AUTH" in caps, adv, f"{label}: AUTH advertised? {ehlo}")
        if adv:
            want = {"PLAIN", "LOGIN"} if h else {"PLAIN"}  # local: PLAIN LOGIN; proxy: upstream's
            self.assertEqual(set(caps["AUTH"].split()), want, f"{label}: {ehlo}")

        def svc_logins():
            return [a for a in up.auth_attempts() if a.login == SVC_USER]

        if gw:  # the gateway logs in when it connects upstream, i.e. at EHLO
            self.assertTrue(wait_until(lambda: bool(svc_logins()), 3.0),
                            f"{label}: the gateway did not log in upstream" + self.diag(up, c))
            self.assertTrue(all((a.password, a.success) == (SVC_PW, True)
                                for a in svc_logins()), svc_logins())

        good = plain_blob(ALICE, ALICE_PW)
        bad = plain_blob(ALICE, WRONG_PW)
        if not adv:
            r = c.command("AUTH PLAIN " + good)
            self.assertEqual((r.code, r.enhanced), (503, "5.5.1"), f"{label}: {r}")
        elif proxy:
            r = c.command("AUTH PLAIN " + bad)
            self.assertEqual((r.code, r.enhanced), (535, "5.7.8"), f"{label}: {r}")
            r = c.command("AUTH PLAIN " + good)
            self.assertEqual(r.code, 235, f"{label}: {r}" + self.diag(up, c))
        else:
            r = c.command("AUTH PLAIN " + bad)
            self.assertEqual((r.code, r.enhanced), (535, "5.7.8"), f"{label}: {r}")
            reject_id = decision_id(r)
            self.assertIsNotNone(reject_id, f"{label}: no decision id in {r}")
            r = c.command("AUTH PLAIN " + good)
            self.assertEqual((r.code, r.enhanced), (235, "2.7.0"),
                             f"{label}: {r}" + self.diag(up, c))

        # Mail flows (the upstream requires AUTH in the proxy and gateway-login rows).
        r = c.command("MAIL FROM:<alice@example.com>")
        self.assertEqual(r.code, 250, f"{label}: {r}" + self.diag(up, c))
        self.assertEqual(c.command("RCPT TO:<bob@example.net>").code, 250)
        self.assertEqual(c.command("DATA").code, 354)
        c.send(f"Subject: row {n}\r\n\r\nhello\r\n.\r\n".encode())
        r = c.read_reply()
        self.assertEqual(r.code, 250, f"{label}: {r}" + self.diag(up, c))
        c.command("QUIT")
        self.assertTrue(up.wait_messages(1), self.diag(up))

        client_logins = [(a.password, a.success) for a in up.auth_attempts() if a.login == ALICE]
        client_lines = [t for t in up.command_texts() if good in t or bad in t]
        if proxy:
            self.assertEqual(client_logins, [(WRONG_PW, False), (ALICE_PW, True)],
                             f"{label}: client AUTH not proxied" + self.diag(up))
        else:
            self.assertEqual(client_logins, [], f"{label}: client AUTH reached the upstream")
            self.assertEqual(client_lines, [], f"{label}: client AUTH reached the upstream")
        if not gw:
            self.assertEqual(svc_logins(), [], f"{label}: the gateway logged in upstream")

        if h:
            self.check_local_auth_audit(svc, reject_id, label)
            self.check_other_clients(port, up, label)
        if h and gw:
            # Row 8: the upstream session is logged in as the service, so MAIL needs a
            # client AUTH first, also after a failed one (RFC 4954 §6; probe round 35).
            c, ehlo = self.session(port)
            self.assertEqual(ehlo.code, 250, label + str(ehlo) + self.diag(up, c))
            r = c.command("MAIL FROM:<anyone@example.com>")
            self.assertEqual((r.code, r.enhanced), (530, "5.7.0"), f"{label}: {r}")
            r = c.command("AUTH PLAIN " + plain_blob(ALICE, WRONG_PW))
            self.assertEqual(r.code, 535, f"{label}: {r}")
            r = c.command("MAIL FROM:<anyone@example.com>")
            self.assertEqual((r.code, r.enhanced), (530, "5.7.0"), f"{label}: {r}")
            c.command("QUIT")
            self.assertNotIn("anyone@example.com", " ".join(up.command_texts()),
                             f"{label}: an unauthenticated MAIL reached the upstream")

    def check_local_auth_audit(self, svc: str, reject_id: str, label: str) -> None:
        records = self.service_audit(svc, "auth", count=2)
        self.assertEqual([r.verdict for r in records], ["reject", "continue"],
                         f"{label}: audit {[r.raw for r in records]}")
        self.assertEqual(records[0].decision_id, reject_id)
        self.assertEqual((records[0].code, records[0].enhanced), (535, "5.7.8"))
        for rec in records:
            self.assertEqual(rec.command, "auth")
            self.assertEqual(rec.policy, "check-user")
            self.assertEqual(rec.attributes.get("authentication.subject.id"), ALICE, rec.raw)
            self.assertNotIn("authentication.subject.password", rec.attributes, rec.raw)
            text = repr(rec.raw)
            self.assertNotIn(ALICE_PW, text)
            self.assertNotIn(WRONG_PW, text)

    def check_other_clients(self, port: int, up, label: str) -> None:
        """smtplib with LOGIN (challenges) and swaks with PLAIN against the local AUTH."""
        before = len(up.messages())
        with self.smtp(port) as s:
            s.ehlo()
            s.user, s.password = ALICE, ALICE_PW
            code, text = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
            self.assertEqual(code, 235, f"{label}: smtplib LOGIN {text!r}")
            self.assertEqual(s.sendmail("alice@example.com", ["bob@example.net"],
                                        b"Subject: smtplib\r\n\r\nhi\r\n"), {})
            s.quit()
        cp = subprocess.run([SWAKS, "--server", LOOPBACK, "--port", str(port), "--helo",
                             "c.example.net", "--from", "alice@example.com", "--to",
                             "bob@example.net", "--auth", "PLAIN", "--auth-user", ALICE,
                             "--auth-password", ALICE_PW, "--timeout", "20"],
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(cp.returncode, 0, f"{label}: swaks\n{cp.stdout[-2000:]}")
        self.assertIn("<-  235", cp.stdout)
        self.assertTrue(up.wait_messages(before + 2), self.diag(up))
        self.assertEqual([a for a in up.auth_attempts() if a.login == ALICE], [],
                         f"{label}: a local login reached the upstream")


def _row_test(row: tuple):
    def test(self: AuthMatrixTests) -> None:
        self.check_row(*row)
    n, h, c, s = row[:4]
    test.__doc__ = f"reference AUTH scenario {n}: H={h} C={c} S={s}"
    return test


for _row in MATRIX:
    _n, _h, _c, _s = _row[:4]
    setattr(AuthMatrixTests,
            f"test_row{_n}_{'H' if _h else 'noH'}_{'C' if _c else 'noC'}_{'S' if _s else 'noS'}",
            _row_test(_row))


class LocalAuthTests(PolicyCase):
    """Local AUTH (an auth handler, upstream without AUTH): identity rules and the field
    cases. Each test has its own service, so its audit records are its own."""

    POLICIES = POLICIES
    USERS = {ALICE: ALICE_PW, BOB: BOB_PW}

    def local_service(self, policy: str = "check-user", *flags: str, **options):
        up = self.upstream()
        svc, port = self.service(up, "--allow-plaintext-auth", *flags,
                                 handlers=[("auth", policy)], **options)
        return up, svc, port

    def fresh(self, port: int):
        c, ehlo = self.session(port)
        self.assertEqual(ehlo.code, 250, str(ehlo))
        self.assertEqual(set(capabilities(ehlo).get("AUTH", "").split()), {"PLAIN", "LOGIN"},
                         str(ehlo))
        return c

    def assert_only_valid_decisions(self, svc: str, expected: list[str]) -> None:
        """The service's AUTH records are exactly `expected` verdicts (oldest first). Called
        after a final valid login, whose record is written after any earlier one."""
        records = self.service_audit(svc, "auth", count=len(expected))
        self.assertEqual([r.verdict for r in records], expected,
                         f"AUTH decisions {[ (r.verdict, r.text) for r in records]}")

    def test_empty_authentication_identity_is_refused(self) -> None:
        up, svc, port = self.local_service()
        c = self.fresh(port)
        for blob, what in ((plain_blob("", ALICE_PW), "empty authcid"),
                           (plain_blob("", ALICE_PW, authzid=ALICE), "authzid, empty authcid"),
                           (plain_blob(ALICE, ""), "empty password")):
            with self.subTest(what):
                r = c.command("AUTH PLAIN " + blob)
                self.assertEqual((r.code, r.enhanced), (501, "5.5.2"), f"{what}: {r}")
        r = c.command("AUTH PLAIN " + plain_blob(ALICE, ALICE_PW))
        self.assertEqual(r.code, 235, str(r) + self.diag(up, c))
        self.assert_only_valid_decisions(svc, ["continue"])
        # LOGIN with an empty user name never authenticates (PROTOCOL.md: 535 5.7.8).
        c2 = self.fresh(port)
        r = c2.command("AUTH LOGIN")
        self.assertEqual(r.code, 334, str(r))
        r = c2.command("=")
        if r.code == 334:
            r = c2.command(b64(ALICE_PW))
        self.assertIn(r.code, (501, 535), str(r))

    def test_authorization_identity_rules(self) -> None:
        up, svc, port = self.local_service("check-user")
        # authzid equal to the user: that is the user itself.
        c = self.fresh(port)
        r = c.command("AUTH PLAIN " + plain_blob(ALICE, ALICE_PW, authzid=ALICE))
        self.assertEqual(r.code, 235, "authzid == authcid: " + str(r) + self.diag(up, c))
        # Acting as bob with alice's credentials: refused by the policy.
        c = self.fresh(port)
        r = c.command("AUTH PLAIN " + plain_blob(ALICE, ALICE_PW, authzid=BOB))
        self.assertEqual((r.code, r.enhanced), (535, "5.7.8"), "authzid != authcid: " + str(r))
        reject_id = decision_id(r)
        self.assertIsNotNone(reject_id, str(r))
        self.assertEqual(c.command("MAIL FROM:<bob@example.com>").code, 250,
                         "unauthenticated session goes on (no auth required upstream)")
        records = self.service_audit(svc, "auth", count=2)
        self.assertEqual([r.verdict for r in records], ["continue", "reject"],
                         [x.raw for x in records])
        self.assertEqual(records[1].decision_id, reject_id)
        self.assertEqual(records[1].attributes.get("authentication.subject.id"), ALICE)
        self.assertNotIn("authentication.subject.password", records[1].attributes)
        # With allow_authorization_id: true the same login is accepted, a wrong password not.
        up2, svc2, port2 = self.local_service("check-user-authz")
        c = self.fresh(port2)
        r = c.command("AUTH PLAIN " + plain_blob(ALICE, WRONG_PW, authzid=BOB))
        self.assertEqual((r.code, r.enhanced), (535, "5.7.8"), str(r))
        r = c.command("AUTH PLAIN " + plain_blob(ALICE, ALICE_PW, authzid=BOB))
        self.assertEqual(r.code, 235, "allow_authorization_id: " + str(r) + self.diag(up2, c))
        records = self.service_audit(svc2, "auth", count=2)
        self.assertEqual([r.verdict for r in records], ["reject", "continue"])
        self.assertEqual(records[1].attributes.get("authentication.authorization.id"), BOB,
                         records[1].raw)

    def test_control_characters_in_identities_are_refused(self) -> None:
        up, svc, port = self.local_service()
        c = self.fresh(port)
        for blob, what in ((plain_blob("al\x01ice", ALICE_PW), "SOH in authcid"),
                           (plain_blob("alice\x7f", ALICE_PW), "DEL in authcid"),
                           (plain_blob("ali\r\nce", ALICE_PW), "CRLF in authcid"),
                           (plain_blob(ALICE, ALICE_PW, authzid="b\x07ob"), "BEL in authzid")):
            with self.subTest(what):
                r = c.command("AUTH PLAIN " + blob)
                self.assertEqual((r.code, r.enhanced), (501, "5.5.2"), f"{what}: {r}")
        # LOGIN: a user name with a TAB (refused at the user name or after the password).
        r = c.command("AUTH LOGIN")
        self.assertEqual(r.code, 334, str(r))
        r = c.command(b64("al\tice"))
        if r.code == 334:
            r = c.command(b64(ALICE_PW))
        self.assertEqual((r.code, r.enhanced), (501, "5.5.2"), "TAB in LOGIN user: " + str(r))
        r = c.command("AUTH PLAIN " + plain_blob(ALICE, ALICE_PW))
        self.assertEqual(r.code, 235, str(r) + self.diag(up, c))
        self.assert_only_valid_decisions(svc, ["continue"])

    def test_credentials_that_are_not_utf8_are_refused(self) -> None:
        """RFC 4616 §2: PLAIN's three fields are UTF-8. Octets that are not (a Latin-1
        password, 0xFF in an identity) are a malformed response (501 5.5.2), never a
        decision: before probe round 12 they reached the decision request, gctld could not
        parse it and dropped the node's shared decision stream (454 4.7.0 for the client and
        for every other session's decision in flight)."""
        up, svc, port = self.local_service()
        latin1 = base64.b64encode
        c = self.fresh(port)
        for blob, what in ((latin1(b"\0alice\0P\xe4ss"), "Latin-1 password"),
                           (latin1(b"\0" + ALICE.encode() + b"\0" + ALICE_PW.encode() + b"\xff"),
                            "0xFF after the right password"),
                           (latin1(b"\xff\0" + ALICE.encode() + b"\0" + ALICE_PW.encode()),
                            "0xFF authzid"),
                           (latin1(b"\0al\xe9ce\0" + ALICE_PW.encode()), "Latin-1 identity"),
                           (latin1(b"\0alice\0\xed\xa0\x80"), "UTF-16 surrogate")):
            with self.subTest(what):
                r = c.command("AUTH PLAIN " + blob.decode())
                self.assertEqual((r.code, r.enhanced), (501, "5.5.2"), f"{what}: {r}")
        # LOGIN: the user name and the password alike.
        for user, password, what in ((ALICE.encode(), b"P\xe4ss", "LOGIN Latin-1 password"),
                                     (b"al\xe9ce", ALICE_PW.encode(), "LOGIN Latin-1 user")):
            with self.subTest(what):
                self.assertEqual(c.command("AUTH LOGIN").code, 334)
                r = c.command(latin1(user).decode())
                if r.code == 334:
                    r = c.command(latin1(password).decode())
                self.assertEqual((r.code, r.enhanced), (501, "5.5.2"), f"{what}: {r}")
        r = c.command("AUTH PLAIN " + plain_blob(ALICE, ALICE_PW))
        self.assertEqual(r.code, 235, str(r) + self.diag(up, c))
        self.assert_only_valid_decisions(svc, ["continue"])
        log = self.env.relay.log_text()
        self.assertNotIn("decision stream ended", log, "the decision stream broke")
        self.assertNotIn("invalid UTF-8", log)

    def test_plain_with_initial_response_may_be_pipelined(self) -> None:
        """RFC 4954 §4, local AUTH: commands pipelined behind AUTH PLAIN with an initial
        response run after its reply; behind AUTH LOGIN or a bare AUTH PLAIN they get 503
        and the connection closes (BR-23, probe round 12)."""
        up, svc, port = self.local_service()
        c = self.fresh(port)
        c.send(("AUTH PLAIN " + plain_blob(ALICE, ALICE_PW) +
                "\r\nMAIL FROM:<alice@example.com>\r\n").encode())
        r = c.read_reply(5)
        self.assertEqual(r.code, 235, str(r) + self.diag(up, c))
        self.assertEqual(c.read_reply(5).code, 250, self.diag(up, c))
        c2 = self.fresh(port)
        c2.send(("AUTH PLAIN " + plain_blob(ALICE, WRONG_PW) +
                 "\r\nMAIL FROM:<alice@example.com>\r\n").encode())
        r = c2.read_reply(5)
        self.assertEqual((r.code, r.enhanced), (535, "5.7.8"), str(r))
        self.assertEqual(c2.read_reply(5).code, 250, "MAIL runs after the failed AUTH")
        for first, what in (("AUTH LOGIN " + b64(ALICE), "LOGIN with initial response"),
                            ("AUTH PLAIN", "PLAIN without initial response")):
            with self.subTest(what):
                c3 = self.fresh(port)
                c3.send((first + "\r\nMAIL FROM:<mallory@example.com>\r\n").encode())
                r = c3.read_reply(5)
                self.assertEqual((r.code, r.enhanced), (503, "5.5.0"), f"{what}: {r}")
                closing = c3.read_reply(5)  # RFC 5321 §4.1.4: a 421 before the close
                self.assertEqual((closing.code, closing.enhanced), (421, "4.5.0"), str(closing))
                self.assertIsNone(c3.expect_closed(5))
        self.assert_only_valid_decisions(svc, ["continue", "reject"])

    def test_br08_empty_responses(self) -> None:
        up, svc, port = self.local_service()
        c = self.fresh(port)
        r = c.command("AUTH PLAIN =")
        self.assertEqual((r.code, r.enhanced), (501, "5.5.2"), "AUTH PLAIN =: " + str(r))
        r = c.command("AUTH PLAIN")
        self.assertEqual(r.code, 334, "PLAIN without initial response: " + str(r))
        r = c.command("=")
        self.assertEqual((r.code, r.enhanced), (501, "5.5.2"), "'=' to PLAIN: " + str(r))
        r = c.command("AUTH PLAIN " + plain_blob(ALICE, ALICE_PW))
        self.assertEqual(r.code, 235, "retry after BR-08: " + str(r) + self.diag(up, c))
        self.assert_only_valid_decisions(svc, ["continue"])  # none for the PLAIN "="
        # LOGIN with "=" (an empty user name) as initial response: never 235.
        c2 = self.fresh(port)
        r = c2.command("AUTH LOGIN =")
        if r.code == 334:  # empty user name taken; the password step still cannot succeed
            r = c2.command(b64(ALICE_PW))
        self.assertIn(r.code, (501, 535), "AUTH LOGIN =: " + str(r))
        r = c2.command("AUTH PLAIN " + plain_blob(ALICE, ALICE_PW))
        self.assertEqual(r.code, 235, "retry after AUTH LOGIN =: " + str(r))

    def test_br09_cancel_then_retry(self) -> None:
        # max_errors 2: three cancels would close the session if they were counted.
        up, svc, port = self.local_service("check-user", max_errors=2)
        c = self.fresh(port)
        r = c.command("AUTH LOGIN")
        self.assertEqual(r.lines, ["334 VXNlcm5hbWU6"], str(r))
        r = c.command("*")
        self.assertEqual((r.code, r.enhanced), (501, "5.7.0"), str(r))
        r = c.command("AUTH PLAIN")
        self.assertEqual(r.code, 334, str(r))
        r = c.command("*")
        self.assertEqual((r.code, r.enhanced), (501, "5.7.0"), str(r))
        self.assertEqual(c.command("AUTH LOGIN").code, 334)
        self.assertEqual(c.command(b64(ALICE)).lines, ["334 UGFzc3dvcmQ6"])
        r = c.command("*")
        self.assertEqual((r.code, r.enhanced), (501, "5.7.0"), str(r))
        r = c.command("AUTH PLAIN " + plain_blob(ALICE, ALICE_PW))
        self.assertEqual(r.code, 235, "retry after cancel: " + str(r) + self.diag(up, c))
        self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250)
        self.assert_only_valid_decisions(svc, ["continue"])

    def test_br11_malformed_base64(self) -> None:
        up, svc, port = self.local_service()
        c = self.fresh(port)
        for line, enhanced in (("AUTH PLAIN AGFsaWNlAHMzY3JldAB", ("5.5.2",)),   # 4n+3
                               ("AUTH PLAIN AGE=AHMz", ("5.5.2",)),             # '=' inside
                               ("AUTH PLAIN AGFsaWNl!HMzY3JldA==", ("5.5.2",)), # alphabet
                               ("AUTH PLAIN AGFsaWNlAHMzY3JldA=", ("5.5.2",)),  # bad padding
                               ("AUTH PLAIN AGFs aWNl", ("5.5.2",))):           # space inside
            with self.subTest(line=line):
                r = c.command(line)
                self.assertEqual(r.code, 501, f"{line}: {r}")
                self.assertIn(r.enhanced, enhanced, f"{line}: {r}")
        r = c.command("AUTH LOGIN")
        self.assertEqual(r.code, 334, str(r))
        r = c.command("YWxp!ZQ==")
        self.assertEqual((r.code, r.enhanced), (501, "5.5.2"), "bad user name: " + str(r))
        self.assertEqual(c.command("AUTH LOGIN").code, 334)
        self.assertEqual(c.command(b64(ALICE)).code, 334)
        r = c.command("cGFz=c3dk")
        self.assertEqual((r.code, r.enhanced), (501, "5.5.2"), "bad password: " + str(r))
        r = c.command("AUTH PLAIN")
        self.assertEqual(r.code, 334, str(r))
        r = c.command("AGFsaWNl AHMz")
        self.assertEqual((r.code, r.enhanced), (501, "5.5.2"), "space in response: " + str(r))
        r = c.command("AUTH PLAIN " + plain_blob(ALICE, ALICE_PW))
        self.assertEqual(r.code, 235, "valid login after BR-11: " + str(r) + self.diag(up, c))
        self.assert_only_valid_decisions(svc, ["continue"])

    def test_repository_changes_take_effect(self) -> None:
        up, svc, port = self.local_service()
        carol_pw, carol_new = "Carol-First-Pw-1", "Carol-Second-Pw-2"
        self.add_user("carol", carol_pw)

        def login(password: str) -> int:
            c = self.fresh(port)
            code = c.command("AUTH PLAIN " + plain_blob("carol", password)).code
            c.command("QUIT")
            return code

        self.assertEqual(login(carol_pw), 235)
        self.gctl("user", "passwd", "carol", "--password-stdin", stdin=carol_new + "\n",
                  check=True)
        self.assertTrue(wait_until(lambda: login(carol_new) == 235, 3.0, 0.2),
                        "new password not accepted")
        self.assertEqual(login(carol_pw), 535, "old password still accepted")
        self.gctl("user", "delete", "carol", check=True)
        self.assertTrue(wait_until(lambda: login(carol_new) == 535, 3.0, 0.2),
                        "deleted user still accepted")


if __name__ == "__main__":
    unittest.main()
