"""Self-tests of the TLS test tooling (no gateway binaries needed): the openssl-made PKI has
the names and dates the TLS tests rely on, the recording upstream speaks STARTTLS, implicit
TLS and AUTH and records what it saw, and the TLS raw client reads replies across records.

  cd tests/integration && /usr/bin/python3 -m unittest -v test_tls_harness
"""

from __future__ import annotations

import smtplib
import ssl
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import RecordingUpstream, remove_workdir  # noqa: E402
from tls_helpers import Pki, TlsSmtpClient, peer_names, plain_blob  # noqa: E402

PKI: Pki
WORKDIR: Path


def setUpModule() -> None:
    global PKI, WORKDIR
    WORKDIR = Path(tempfile.mkdtemp(prefix="gw-tlsharness-"))
    PKI = Pki(WORKDIR / "pki").generate()


def tearDownModule() -> None:
    remove_workdir(WORKDIR)


class PkiTest(unittest.TestCase):

    def handshake(self, cert, server_hostname: str) -> dict:
        """Implicit-TLS upstream with `cert`; a client trusting the test CA connects."""
        with RecordingUpstream(implicit_tls_context=PKI.server_context(cert)) as up:
            with TlsSmtpClient(up.port, implicit=PKI.client_context(),
                               server_hostname=server_hostname) as c:
                self.assertEqual(c.banner().code, 220)
                return c.peer_cert

    def test_names_and_dates(self) -> None:
        self.assertEqual(peer_names(self.handshake(PKI.relay, "relay.example.test")),
                         {"DNS:localhost", "DNS:relay.example.test", "IP:127.0.0.1",
                          "CN:relay.example.test"})
        self.assertIn("IP:127.0.0.1", peer_names(self.handshake(PKI.upstream, "127.0.0.1")))
        for cert, name, reason in ((PKI.expired, "localhost", "expired"),
                                   (PKI.wrong_host, "localhost", "mismatch"),
                                   (PKI.rogue, "localhost", "issuer")):
            with self.subTest(cert=cert.name):
                with self.assertRaises(ssl.SSLCertVerificationError) as ctx:
                    self.handshake(cert, name)
                self.assertIn(reason, str(ctx.exception))


class KeySecretsTest(unittest.TestCase):

    def test_private_parts_only(self) -> None:
        for files in (PKI.relay, PKI.client):
            secrets = files.key_secrets()
            self.assertEqual(len(secrets[0]), 64, "hex of a P-256 private scalar")
            self.assertIn(secrets[0][:8], secrets[1].replace(":", ""))
            cert_pem = files.cert.read_text().replace("\n", "")
            self.assertEqual([s for s in secrets if s in cert_pem], [],
                             "public key material counted as secret")
            self.assertTrue(all(s in files.key.read_text().replace("\n", "")
                                for s in secrets[2:]))


class TlsUpstreamTest(unittest.TestCase):

    def test_starttls_auth_plain_is_recorded_with_tls(self) -> None:
        cfg = dict(starttls_context=PKI.server_context(PKI.upstream), require_starttls=True,
                   auth_mechanisms=["PLAIN"], auth_users={"alice": "s3cret"},
                   auth_required=True)
        with RecordingUpstream(**cfg) as up:
            with smtplib.SMTP("127.0.0.1", up.port, local_hostname="c.example.net") as s:
                s.ehlo()
                self.assertTrue(s.has_extn("starttls"))
                self.assertFalse(s.has_extn("auth"))
                self.assertEqual(s.mail("a@example.com")[0], 530)  # require_starttls
                s.starttls(context=PKI.client_context())
                s.ehlo()
                self.assertFalse(s.has_extn("starttls"))
                self.assertEqual(s.esmtp_features["auth"].split(), ["PLAIN"])
                self.assertEqual(s.mail("a@example.com")[0], 530)  # auth_required
                s.rset()
                self.assertEqual(s.login("alice", "s3cret")[0], 235)
                s.sendmail("a@example.com", ["b@example.org"], b"Subject: t\r\n\r\nbody\r\n")
                s.quit()
            self.assertTrue(up.wait_messages(1, 3))
            [conn] = up.connections()
            self.assertTrue(conn.tls)
            self.assertEqual(conn.commands[0].upper().split()[0], b"EHLO")
            self.assertFalse(conn.command_tls[0])
            auth = [i for i, c in enumerate(conn.commands) if c.upper().startswith(b"AUTH")]
            self.assertEqual(len(auth), 1)
            self.assertTrue(conn.command_tls[auth[0]])
            self.assertEqual(conn.commands[auth[0]],
                             b"AUTH PLAIN " + plain_blob("alice", "s3cret").encode())
            [attempt] = up.auth_attempts()
            self.assertEqual((attempt.mechanism, attempt.login, attempt.password,
                              attempt.success, attempt.tls),
                             ("PLAIN", "alice", "s3cret", True, True))
            self.assertEqual(up.server_names(), [None])  # smtplib sends no SNI for an IP

    def test_login_challenges_and_cancel_are_recorded(self) -> None:
        with RecordingUpstream(auth_mechanisms=["LOGIN", "PLAIN"], auth_require_tls=False,
                               auth_users={"bob": "pw"}) as up:
            with TlsSmtpClient(up.port) as c:
                c.banner()
                caps = c.command("EHLO c.example.net")
                self.assertIn("AUTH LOGIN PLAIN", caps.texts)
                self.assertEqual(c.command("AUTH LOGIN").code, 334)
                self.assertEqual(c.command("*").code, 501)
                self.assertEqual(c.command("AUTH LOGIN").code, 334)
                self.assertEqual(c.command("Ym9i").code, 334)
                self.assertEqual(c.command("cHc=").code, 235)
            self.assertTrue(up.wait_closed(2))
            self.assertEqual(up.command_texts()[1:],
                             ["AUTH LOGIN", "*", "AUTH LOGIN", "Ym9i", "cHc="])
            self.assertEqual([(a.login, a.success) for a in up.auth_attempts()], [("bob", True)])

    def test_implicit_tls_and_client_certificate(self) -> None:
        ctx = PKI.server_context(PKI.upstream, client_ca=PKI.ca)
        with RecordingUpstream(implicit_tls_context=ctx) as up:
            with smtplib.SMTP_SSL("127.0.0.1", up.port, local_hostname="c.example.net",
                                  context=PKI.client_context(PKI.client)) as s:
                self.assertEqual(s.noop()[0], 250)
                s.ehlo()
                self.assertFalse(s.has_extn("starttls"))
            self.assertTrue(up.wait_closed(2))
            [conn] = up.connections()
            self.assertTrue(conn.tls and all(conn.command_tls))
            self.assertIn(("commonName", "client.example.test"),
                          [rdn[0] for rdn in conn.peer_cert["subject"]])
            self.assertEqual(up.server_names(), [None])  # an IP literal sends no SNI

    def test_starttls_injection_option(self) -> None:
        with RecordingUpstream(starttls_context=PKI.server_context(PKI.upstream),
                               starttls_inject=b"250 injected\r\n") as up:
            with TlsSmtpClient(up.port) as c:
                c.banner()
                c.command("EHLO c.example.net")
                self.assertEqual(c.command("STARTTLS").code, 220)
                self.assertEqual(c.read_reply().lines, ["250 injected"])


if __name__ == "__main__":
    unittest.main()
