"""TLS integration tests (issue 3 "Done when"): the reference's deployment example (client
STARTTLS -> grelayd -> upstream STARTTLS requiring AUTH PLAIN) with swaks, smtplib and a raw
client; implicit TLS inbound and upstream; SNI; client certificates; upstream certificate
failures; field cases BR-05, BR-06 and BR-36. Real gctld/grelayd/gctl, real aiosmtpd
upstreams, certificates made with openssl(1) at run time, all on loopback.

  cd tests/integration && GW_BIN_DIR=../../build/bin /usr/bin/python3 -m unittest -v test_tls
"""

from __future__ import annotations

import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (LOOPBACK, ConnectionClosed, RecordingUpstream, ReplyTimeout,  # noqa: E402
                     banner_ok, free_port, make_workdir, remove_workdir, wait_until)
from tls_helpers import (TlsRelayCase, add_cert, capabilities, fd_count, peer_names,  # noqa: E402
                         plain_blob, swaks_transcript, tls_banner_ok)

SWAKS = shutil.which("swaks") or "/usr/bin/swaks"

# A message in the reference trace's shape, with the lines a careless relay breaks: a leading
# dot, a lone dot, trailing blanks, 8-bit text.
MESSAGE = (b"Message-ID: <4CB85B46.4060205@example.com>\r\n"
           b"Date: Fri, 15 Oct 2010 14:46:46 +0100\r\n"
           b"From: John Doe <john.doe@example.com>\r\n"
           b"MIME-Version: 1.0\r\n"
           b"To: test@example.org\r\n"
           b"Subject: API Gateway Test\r\n"
           b"Content-Type: text/plain; charset=ISO-8859-1; format=flowed\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n"
           b"\r\n"
           b"This mail has been sent via the relay gateway \xe9\r\n"
           b".leading dot\r\n.\r\ntrailing blanks \t \r\n")


def stuff(content: bytes) -> bytes:
    return re.sub(rb"(?m)^\.", b"..", content) + b".\r\n"


def commands_of(up: RecordingUpstream) -> list[str]:
    return [c.upper() for c in up.command_texts()]


def verbs(up: RecordingUpstream) -> set[str]:
    return {c.split(" ")[0].split(":")[0] for c in commands_of(up)}


class ReferenceExampleTests(TlsRelayCase):
    """Client -> grelayd starttls interface -> aiosmtpd upstream with STARTTLS that requires
    AUTH PLAIN (reference trace, end): capability lists, AUTH relayed, byte-exact message."""

    def setUp(self) -> None:
        super().setUp()
        self.up = self.upstream(starttls=True, require_starttls=True, auth_mechanisms=["PLAIN"],
                                auth_users={self.USER: self.PASSWORD}, auth_required=True)
        self.svc, self.port = self.relay(self.up, security="starttls", iface="starttls")

    def check_upstream(self, expected_content: bytes) -> None:
        up = self.up
        self.assertTrue(up.wait_messages(1, 5), "no message upstream" + self.diag(up))
        [msg] = up.messages()
        self.assertEqual(msg.content, expected_content, self.diag(up))
        self.assertEqual(msg.mail_from, "john.doe@example.com")
        self.assertEqual(msg.rcpt_tos, ["test@example.org"])
        # The upstream saw the AUTH, over TLS, with the client's credentials.
        attempts = up.auth_attempts()
        self.assertEqual([(a.mechanism, a.login, a.password, a.success, a.tls) for a in attempts],
                         [("PLAIN", self.USER, self.PASSWORD, True, True)], self.diag(up))
        conn = up.connections()[msg.connection]
        self.assertTrue(conn.tls, self.diag(up))
        self.assertEqual(conn.tls_version, "TLSv1.3")
        for cmd, tls in zip(conn.commands, conn.command_tls):
            verb = cmd.split(b" ")[0].upper()
            self.assertTrue(tls or verb in (b"EHLO", b"STARTTLS"),
                            f"{cmd!r} reached the upstream in plaintext" + self.diag(up))

    def test_raw_dialogue_capabilities_and_byte_exact_message(self) -> None:
        c = self.client(self.port)
        self.assertEqual(c.banner().code, 220)
        before = c.command("EHLO c.example.net")
        self.assertEqual(before.code, 250, self.diag(self.up, c))
        caps = capabilities(before)
        self.assertIn("STARTTLS", caps, str(before))
        self.assertNotIn("AUTH", caps, str(before))
        # AUTH would be offered after TLS: refused in plaintext with 538 (RFC 4954 §4).
        r = c.command("AUTH PLAIN " + plain_blob(self.USER, self.PASSWORD))
        self.assertEqual((r.code, r.enhanced), (538, "5.7.11"), str(r))
        r = c.command("STARTTLS")
        self.assertEqual((r.code, r.enhanced), (220, "2.0.0"), str(r))
        self.assertIn("Ready to start TLS", r.text)
        c.starttls(self.pki.client_context(), "relay.example.test")
        self.assertIn("DNS:relay.example.test", peer_names(c.peer_cert))
        # RFC 3207 §4.2: the session is new; MAIL before EHLO is out of sequence.
        r = c.command("MAIL FROM:<john.doe@example.com>")
        self.assertEqual((r.code, r.enhanced), (503, "5.5.1"), str(r))
        after = c.command("EHLO c.example.net")
        self.assertEqual(after.code, 250, str(after))
        caps = capabilities(after)
        self.assertNotIn("STARTTLS", caps, str(after))
        self.assertEqual(caps.get("AUTH", "").split(), ["PLAIN"], str(after))
        r = c.command("STARTTLS")
        self.assertEqual((r.code, r.enhanced), (503, "5.5.1"), str(r))
        r = c.command("AUTH PLAIN " + plain_blob(self.USER, self.PASSWORD))
        self.assertEqual(r.code, 235, str(r) + self.diag(self.up, c))
        self.assertEqual(c.command("MAIL FROM:<john.doe@example.com>").code, 250)
        self.assertEqual(c.command("RCPT TO:<test@example.org>").code, 250)
        self.assertEqual(c.command("DATA").code, 354)
        c.send(stuff(MESSAGE))
        r = c.read_reply()
        self.assertEqual(r.code, 250, str(r) + self.diag(self.up, c))
        self.assertEqual(c.command("QUIT").code, 221)
        self.check_upstream(MESSAGE)
        # The AUTH line reached the upstream verbatim.
        self.assertIn("AUTH PLAIN " + plain_blob(self.USER, self.PASSWORD), self.up.command_texts())

    def test_smtplib_starttls_and_login(self) -> None:
        with smtplib.SMTP(LOOPBACK, self.port, local_hostname="c.example.net", timeout=30) as s:
            s.ehlo()
            self.assertTrue(s.has_extn("starttls"))
            self.assertFalse(s.has_extn("auth"))
            code, _ = s.starttls(context=self.pki.client_context())
            self.assertEqual(code, 220)
            s.ehlo()
            self.assertFalse(s.has_extn("starttls"))
            self.assertEqual(s.esmtp_features.get("auth", "").split(), ["PLAIN"])
            code, _ = s.login(self.USER, self.PASSWORD)
            self.assertEqual(code, 235)
            refused = s.sendmail("john.doe@example.com", ["test@example.org"], MESSAGE)
            self.assertEqual(refused, {})
            s.quit()
        self.check_upstream(MESSAGE)

    def test_swaks_tls_and_auth(self) -> None:
        data_file = self.env.workdir / f"swaks-{uuid.uuid4().hex}.eml"
        data_file.write_bytes(stuff(MESSAGE))
        cp = subprocess.run([SWAKS, "--server", LOOPBACK, "--port", str(self.port),
                             "--helo", "c.example.net", "--tls", "--tls-verify",
                             "--tls-ca-path", str(self.pki.ca.cert),
                             "--auth", "PLAIN", "--auth-user", self.USER,
                             "--auth-password", self.PASSWORD,
                             "--from", "john.doe@example.com", "--to", "test@example.org",
                             "--no-data-fixup", "--data", f"@{data_file}"],
                            capture_output=True, text=True, errors="replace", timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr + self.diag(self.up))
        plain, tls = swaks_transcript(cp.stdout)
        plain_caps = [line for line in plain if line.startswith("250")]
        tls_caps = [line for line in tls if line.startswith("250") and line[4:].startswith(
            ("AUTH", "STARTTLS"))]
        self.assertTrue(any(line[4:] == "STARTTLS" for line in plain_caps), cp.stdout)
        self.assertFalse(any(line[4:].startswith("AUTH") for line in plain_caps), cp.stdout)
        self.assertEqual([line[4:] for line in tls_caps], ["AUTH PLAIN"], cp.stdout)
        self.assertIn("235", "\n".join(tls))
        self.check_upstream(MESSAGE)


class InboundTlsTests(TlsRelayCase):
    """Implicit TLS and STARTTLS towards clients; SNI; client certificates; BR-05, BR-06,
    BR-36 (a, b, c, d, f)."""

    def deliver_smtp_ssl(self, port: int, up: RecordingUpstream,
                         context: ssl.SSLContext | None = None) -> None:
        with smtplib.SMTP_SSL(LOOPBACK, port, local_hostname="c.example.net", timeout=30,
                              context=context or self.pki.client_context()) as s:
            s.ehlo()
            self.assertFalse(s.has_extn("starttls"), "STARTTLS advertised inside TLS")
            self.assertEqual(s.sendmail("alice@example.com", ["bob@example.org"], MESSAGE), {})
            s.quit()
        self.assertTrue(up.wait_messages(1, 5), self.diag(up))
        self.assertEqual(up.messages()[-1].content, MESSAGE)

    def test_implicit_tls_smtplib(self) -> None:
        up = self.upstream()
        _, port = self.relay(up, iface="ssl")
        self.deliver_smtp_ssl(port, up)

    def test_implicit_tls_swaks(self) -> None:
        up = self.upstream()
        _, port = self.relay(up, iface="ssl")
        cp = subprocess.run([SWAKS, "--server", LOOPBACK, "--port", str(port),
                             "--helo", "c.example.net", "--tls-on-connect", "--tls-verify",
                             "--tls-ca-path", str(self.pki.ca.cert),
                             "--from", "alice@example.com", "--to", "bob@example.org",
                             "--header", "Subject: implicit tls", "--body", "over TLS"],
                            capture_output=True, text=True, errors="replace", timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr + self.diag(up))
        plain, tls = swaks_transcript(cp.stdout)
        self.assertEqual(plain, [], "server spoke plaintext on an ssl interface:\n" + cp.stdout)
        self.assertTrue(tls and tls[0].startswith("220"), cp.stdout)
        self.assertFalse(any("STARTTLS" in line for line in tls), cp.stdout)
        self.assertTrue(up.wait_messages(1, 5), self.diag(up))
        self.assertIn(b"over TLS", up.messages()[0].content)

    def test_sni_chooses_the_certificate(self) -> None:
        up = self.upstream()
        _, port = self.relay(up, iface="ssl",
                             iface_extra=("--sni-cert", f"other.example.test={self.OTHER}"))
        seen = {}
        for name in ("relay.example.test", "other.example.test", "OTHER.Example.Test", None):
            ctx = self.pki.client_context(check_hostname=name is not None)
            with self.subTest(server_name=name):
                c = self.client(port, implicit=True, server_hostname=name, context=ctx)
                self.assertEqual(c.banner().code, 220)
                seen[name] = peer_names(c.peer_cert)
                c.command("QUIT")
        self.assertIn("DNS:relay.example.test", seen["relay.example.test"])
        self.assertNotIn("DNS:other.example.test", seen["relay.example.test"])
        self.assertEqual(seen["other.example.test"],
                         {"DNS:other.example.test", "CN:other.example.test"})
        self.assertEqual(seen["OTHER.Example.Test"], seen["other.example.test"])
        self.assertIn("DNS:relay.example.test", seen[None], "no SNI: the default --cert")
        # The same choice on a STARTTLS interface.
        svc, _ = self.relay(up)
        sport = self.interface(svc, "starttls",
                               extra=("--sni-cert", f"other.example.test={self.OTHER}"))
        c = self.client(sport)
        c.banner()
        c.command("EHLO c.example.net")
        self.assertEqual(c.command("STARTTLS").code, 220)
        c.starttls(self.pki.client_context(), "other.example.test")
        self.assertIn("DNS:other.example.test", peer_names(c.peer_cert))
        self.assertEqual(c.command("EHLO c.example.net").code, 250)

    def test_required_client_certificate(self) -> None:
        up = self.upstream()
        _, port = self.relay(up, iface="ssl", iface_extra=("--client-ca", self.CA))
        # Accepted with a certificate from the right CA: a whole message goes through.
        self.deliver_smtp_ssl(port, up, self.pki.client_context(self.pki.client))
        # Refused without a certificate, and with one from an unknown CA: no banner.
        for label, cert in (("none", None), ("unknown CA", self.pki.rogue_client)):
            with self.subTest(client_cert=label):
                got = None
                try:
                    c = self.client(port, implicit=True,
                                    context=self.pki.client_context(cert))
                    got = c.banner()
                except (ssl.SSLError, OSError, ConnectionClosed, ReplyTimeout):
                    pass
                self.assertIsNone(got, f"session opened without a valid client certificate: "
                                       f"{got}")
        self.assertEqual(len(up.messages()), 1)
        self.assertTrue(self.env.relay.alive())

    def test_session_resumption_with_required_client_certificate(self) -> None:
        """A client that reconnects offering its TLS session (TLS 1.2 id/ticket, TLS 1.3
        PSK) to an interface that requires client certificates is served, resumed or with a
        full handshake, never aborted with internal_error (RFC 8446 §4.6.1, RFC 5077 §3.1;
        probe round 10: no session id context was set)."""
        up = self.upstream()
        _, port = self.relay(up, iface="ssl", iface_extra=("--client-ca", self.CA))
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=version.name):
                ctx = self.pki.client_context(self.pki.client, max_version=version)
                ctx.minimum_version = version
                session = None
                for attempt in range(2):
                    raw = socket.create_connection((LOOPBACK, port), 5)
                    with ctx.wrap_socket(raw, server_hostname="localhost",
                                         session=session) as s:
                        s.settimeout(5)
                        self.assertTrue(s.recv(1000).startswith(b"220"), f"attempt {attempt}")
                        s.sendall(b"NOOP\r\n")
                        self.assertTrue(s.recv(1000).startswith(b"250"), f"attempt {attempt}")
                        session = s.session
                        s.sendall(b"QUIT\r\n")
                        s.recv(1000)
                self.assertIsNotNone(session)

    def test_starttls_interface_with_client_ca_requires_tls_first(self) -> None:
        """A starttls interface that requires client certificates requires TLS: a client
        that skips STARTTLS would skip the certificate check (probe round 45: it relayed a
        message). Before TLS only EHLO/HELO, STARTTLS, NOOP, RSET and QUIT; the rest gets
        530 5.7.0 (RFC 3207 §4), and nothing goes upstream."""
        up = self.upstream()
        svc, _ = self.relay(up)
        port = self.interface(svc, "starttls", extra=("--client-ca", self.CA))
        c = self.client(port)
        c.banner()
        ehlo = c.command("EHLO c.example.net")
        self.assertIn("STARTTLS", capabilities(ehlo), str(ehlo))
        self.assertNotIn("AUTH", capabilities(ehlo), str(ehlo))
        for line in ("MAIL FROM:<alice@example.com>", "RCPT TO:<bob@example.org>", "DATA",
                     "AUTH PLAIN AGFsaWNlAHNlY3JldA=="):
            r = c.command(line)
            self.assertEqual((r.code, r.enhanced), (530, "5.7.0"), line + ": " + str(r))
        self.assertFalse({"MAIL", "RCPT", "DATA", "AUTH"} & verbs(up), self.diag(up))
        self.assertEqual(c.command("STARTTLS").code, 220)
        c.starttls(self.pki.client_context(self.pki.client))
        self.assertEqual(c.command("EHLO c.example.net").code, 250)
        self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250)
        self.assertEqual(c.command("RCPT TO:<bob@example.org>").code, 250)
        self.assertEqual(c.command("DATA").code, 354)
        self.assertEqual(c.command(b"Subject: x\r\n\r\nx\r\n.").code, 250)
        self.assertEqual(len(up.messages()), 1)

    def test_no_session_is_resumed_under_another_server_name(self) -> None:
        """A TLS session made for one SNI name is never resumed under another: the client
        would keep the first name's certificate (RFC 6066 §3; probe round 45). The relay
        resumes no session at all; a client offering one gets a full handshake."""
        up = self.upstream()
        _, port = self.relay(up, iface="ssl",
                             iface_extra=("--sni-cert", f"other.example.test={self.OTHER}"))
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=version.name):
                ctx = self.pki.client_context(max_version=version)
                ctx.minimum_version = version
                raw = socket.create_connection((LOOPBACK, port), 5)
                with ctx.wrap_socket(raw, server_hostname="relay.example.test") as s:
                    s.settimeout(5)
                    self.assertTrue(s.recv(1000).startswith(b"220"))
                    s.sendall(b"NOOP\r\n")
                    self.assertTrue(s.recv(1000).startswith(b"250"))
                    session = s.session
                    s.sendall(b"QUIT\r\n")
                    s.recv(1000)
                raw = socket.create_connection((LOOPBACK, port), 5)
                with ctx.wrap_socket(raw, server_hostname="other.example.test",
                                     session=session) as s:
                    s.settimeout(5)
                    self.assertTrue(s.recv(1000).startswith(b"220"))
                    self.assertFalse(s.session_reused)
                    self.assertIn("DNS:other.example.test", peer_names(s.getpeercert()))

    def test_a_pinned_certificate_is_a_trust_anchor(self) -> None:
        """A trust anchor need not be a self-signed root (RFC 5280 §6.1.1): --client-ca
        naming a client's own certificate, and --trusted-ca naming the upstream's, trust
        exactly that certificate (probe round 45: "unable to get issuer certificate")."""
        add_cert(self.env.gctl, "pinned-client", self.pki.client, with_key=False)
        add_cert(self.env.gctl, "pinned-upstream", self.pki.upstream, with_key=False)
        up = self.upstream(implicit=True)
        _, port = self.relay(up, iface="ssl", iface_extra=("--client-ca", "pinned-client"),
                             security="ssl", trusted=("pinned-upstream",))
        self.deliver_smtp_ssl(port, up, self.pki.client_context(self.pki.client))
        # Another certificate of the same CA is not the pinned one.
        with self.assertRaises((ssl.SSLError, OSError, ConnectionClosed, ReplyTimeout)):
            c = self.client(port, implicit=True,
                            context=self.pki.client_context(self.pki.gctl_client))
            c.banner()
            c.command("NOOP")

    def test_a_pinned_certificate_that_can_sign_is_no_ca(self) -> None:
        """A pinned client certificate whose key usage allows keyCertSign but which is no CA
        (no basicConstraints cA) vouches for itself only, not for what its key signs (RFC
        5280 §4.2.1.9; probe round 46: a certificate it signed was let in)."""
        work = make_workdir("pin-signer")
        try:
            cnf = work / "min.cnf"
            cnf.write_text("[req]\ndistinguished_name = dn\n[dn]\n")
            ext = work / "leaf.ext"
            ext.write_text("keyUsage = critical, digitalSignature\n"
                           "extendedKeyUsage = clientAuth\n")

            def openssl(*args: str) -> None:
                subprocess.run(["/usr/bin/openssl", *args], cwd=work, check=True,
                               capture_output=True, timeout=30)
            ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
            openssl("req", "-x509", *ec, "-keyout", "pin.key", "-out", "pin.pem", "-days", "30",
                    "-subj", "/CN=pinned signer", "-config", str(cnf),
                    "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
                    "-addext", "extendedKeyUsage=clientAuth")
            openssl("req", "-new", *ec, "-keyout", "by.key", "-out", "by.csr",
                    "-subj", "/CN=signed by the pin", "-config", str(cnf))
            openssl("x509", "-req", "-in", "by.csr", "-CA", "pin.pem", "-CAkey", "pin.key",
                    "-CAcreateserial", "-out", "by.pem", "-days", "30", "-extfile", str(ext))
            self.env.gctl.run("cert", "add", "pinned-signer", "--cert", str(work / "pin.pem"))
            up = self.upstream()
            svc, _ = self.relay(up)

            def context_with(cert: str, key: str) -> ssl.SSLContext:
                ctx = self.pki.client_context(check_hostname=False)
                ctx.load_cert_chain(str(work / cert), str(work / key))
                return ctx
            pinned = context_with("pin.pem", "pin.key")
            port = self.env.interface(
                svc, type_="ssl", extra=("--cert", self.RELAY, "--client-ca", "pinned-signer"),
                ready=lambda p: tls_banner_ok(p, pinned))[1]

            def banner_with(ctx: ssl.SSLContext) -> bool:
                try:
                    c = self.client(port, implicit=True, context=ctx)
                    return c.banner().code == 220
                except (ssl.SSLError, OSError, ConnectionClosed, ReplyTimeout):
                    return False
            self.assertTrue(banner_with(pinned), "the pinned certificate itself")
            self.assertFalse(banner_with(context_with("by.pem", "by.key")),
                             "a certificate the pin signed")
        finally:
            remove_workdir(work)

    def test_certificate_rotation_keeps_the_sessions(self) -> None:
        """Rotating a certificate (gctl apply names another one: the interface is recreated
        on the same endpoint) keeps the listener and its sessions: a session in the middle
        of a transaction finishes it, new handshakes get the new certificate (probe round
        45: every session got 421 4.3.2 at its next command)."""
        up = self.upstream()
        port = free_port()
        name = f"rotate{port}"
        work = make_workdir("rotate")
        try:
            def apply(cert: str) -> None:
                path = work / f"{cert}.yaml"
                path.write_text(
                    f"services:\n  - name: {name}\n    host: {LOOPBACK}\n"
                    f"    port: {up.port}\n    hostname: relay.example.test\n"
                    f"    interfaces:\n      - type: ssl\n        bind: {LOOPBACK}\n"
                    f"        port: {port}\n        cert: {cert}\n")
                self.env.gctl.run("apply", "-f", str(path))

            apply(self.RELAY)
            ctx = self.pki.client_context(check_hostname=False)
            self.assertTrue(wait_until(lambda: tls_banner_ok(port, ctx), 5.0), "no listener")
            c = self.client(port, implicit=True, context=ctx)
            self.assertEqual(c.banner().code, 220)
            self.assertIn("DNS:relay.example.test", peer_names(c.peer_cert))
            self.assertEqual(c.command("EHLO c.example.net").code, 250)
            self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250)
            before = self.env.gctl.run("interface", "list", name, output="json").stdout
            drained_before = self.env.relay.log_text().count("interface closed")
            apply(self.OTHER)

            def rotated() -> bool:
                n = self.client(port, implicit=True, context=ctx)
                try:
                    n.banner()
                    return "DNS:other.example.test" in peer_names(n.peer_cert)
                finally:
                    n.close()
            self.assertTrue(wait_until(rotated, 5.0, 0.1), "new handshakes keep the old cert")
            self.assertNotEqual(self.env.gctl.run("interface", "list", name,
                                                  output="json").stdout, before)
            # The session that started before the rotation goes on.
            self.assertEqual(c.command("RCPT TO:<bob@example.org>").code, 250)
            self.assertEqual(c.command("DATA").code, 354)
            self.assertEqual(c.command(b"Subject: rotated\r\n\r\nx\r\n.").code, 250)
            self.assertEqual(c.command("QUIT").code, 221)
            self.assertEqual(len(up.messages()), 1)
            self.assertEqual(self.env.relay.log_text().count("interface closed"), drained_before)
        finally:
            self.env.gctl.run("service", "delete", name, check=False)
            remove_workdir(work)

    def test_plaintext_session_kept_by_a_rotation_starts_tls_with_the_new_settings(self) -> None:
        """A session still in plaintext when a starttls interface's certificate rotates does
        its STARTTLS with the new certificate; a change of the client CAs is no rotation:
        such sessions are drained (probe round 46: STARTTLS used the old certificate and
        skipped the newly required client certificate)."""
        up = self.upstream()
        port = free_port()
        name = f"rotplain{port}"
        work = make_workdir("rotate-plain")
        try:
            def apply(cert: str, client_ca: str = "") -> None:
                path = work / "site.yaml"
                path.write_text(
                    f"services:\n  - name: {name}\n    host: {LOOPBACK}\n"
                    f"    port: {up.port}\n    hostname: relay.example.test\n"
                    f"    interfaces:\n      - type: starttls\n        bind: {LOOPBACK}\n"
                    f"        port: {port}\n        cert: {cert}\n"
                    + (f"        client_ca: {client_ca}\n" if client_ca else ""))
                self.env.gctl.run("apply", "-f", str(path))

            apply(self.RELAY)
            self.assertTrue(wait_until(lambda: banner_ok(port), 5.0), "no listener")
            c = self.client(port)
            c.banner()
            self.assertEqual(c.command("EHLO c.example.net").code, 250)
            apply(self.OTHER)

            def rotated() -> bool:
                n = self.client(port)
                try:
                    n.banner()
                    n.command("EHLO c.example.net")
                    n.command("STARTTLS")
                    n.starttls(self.pki.client_context(check_hostname=False))
                    return "DNS:other.example.test" in peer_names(n.peer_cert)
                finally:
                    n.close()
            self.assertTrue(wait_until(rotated, 5.0, 0.1), "new sessions keep the old cert")
            self.assertEqual(c.command("NOOP").code, 250)  # kept
            self.assertEqual(c.command("STARTTLS").code, 220)
            c.starttls(self.pki.client_context(check_hostname=False))
            self.assertIn("DNS:other.example.test", peer_names(c.peer_cert))
            self.assertEqual(c.command("EHLO c.example.net").code, 250)
            # A plaintext session when client certificates become required: drained.
            p2 = self.client(port)
            p2.banner()
            self.assertEqual(p2.command("EHLO c.example.net").code, 250)
            apply(self.OTHER, self.CA)
            self.assertTrue(wait_until(lambda: "interface closed" in self.env.relay.log_text()
                                       and name in self.env.relay.log_text(), 5.0, 0.1))
            r = p2.command("MAIL FROM:<alice@example.com>")
            self.assertEqual((r.code, r.enhanced), (421, "4.3.2"), str(r))
            self.assertFalse({"MAIL"} & verbs(up), self.diag(up))
        finally:
            self.env.gctl.run("service", "delete", name, check=False)
            remove_workdir(work)

    def test_tls_min_version(self) -> None:
        up = self.upstream()
        _, port = self.relay(up, iface="ssl", iface_extra=("--tls-min-version", "1.3"))
        with self.assertRaises((ssl.SSLError, OSError)):
            c = self.client(port, implicit=True, context=self.pki.client_context(
                max_version=ssl.TLSVersion.TLSv1_2))
            c.banner()
        c = self.client(port, implicit=True)
        self.assertEqual(c.banner().code, 220)
        self.assertEqual(c.sock.version(), "TLSv1.3")

    # -- field case BR-36 (f): STARTTLS on an interface without TLS
    def test_br36f_starttls_on_tcp_interface(self) -> None:
        up = self.upstream()
        _, port = self.relay(up)
        c = self.client(port)
        c.banner()
        r = c.command("STARTTLS")
        self.assertEqual((r.code, r.enhanced), (454, "4.7.0"), str(r))
        ehlo = c.command("EHLO c.example.net")
        self.assertNotIn("STARTTLS", capabilities(ehlo))
        r = c.command("STARTTLS")
        self.assertEqual((r.code, r.enhanced), (454, "4.7.0"), str(r))
        self.assertEqual(c.command("NOOP").code, 250)
        self.assertNotIn("STARTTLS", verbs(up))

    # -- field case BR-05: plaintext pipelined after STARTTLS is discarded
    def test_br05_plaintext_after_starttls_is_discarded(self) -> None:
        up = self.upstream()
        _, port = self.relay(up, iface="starttls")
        for injected in (b"RSET\r\n", b"MAIL FROM:<mallory@example.net>\r\n"
                                      b"RCPT TO:<victim@example.org>\r\n"):
            with self.subTest(injected=injected):
                c = self.client(port)
                c.banner()
                ehlo = c.command("EHLO c.example.net")
                self.assertIn("STARTTLS", capabilities(ehlo))
                c.send(b"STARTTLS\r\n" + injected)  # one write
                r = c.read_reply()
                self.assertEqual(r.code, 220, str(r))
                c.starttls(self.pki.client_context())  # fails if anything followed the 220
                self.assertIsNone(c.expect_silence(0.4),
                                  "a reply to the injected plaintext arrived inside TLS")
                r = c.command("MAIL FROM:<alice@example.com>")
                self.assertEqual((r.code, r.enhanced), (503, "5.5.1"), str(r))
                self.assertEqual(c.command("EHLO c.example.net").code, 250)
                self.assertEqual(c.command("QUIT").code, 221)
        self.assertFalse({"RSET", "MAIL", "RCPT"} & verbs(up), self.diag(up))

    # -- field case BR-06: STARTTLS + AUTH + MAIL in one write on a --require-tls service
    def test_br06_injection_cannot_bypass_require_tls(self) -> None:
        up = self.upstream(auth_mechanisms=["PLAIN", "LOGIN"], auth_require_tls=False,
                           auth_users={"alice": "s3cret", "bob": "b0b-pass"})
        _, port = self.relay(up, "--require-tls", iface="starttls")
        c = self.client(port)
        c.banner()
        ehlo = c.command("EHLO c.example.net")
        self.assertIn("STARTTLS", capabilities(ehlo))
        self.assertNotIn("AUTH", capabilities(ehlo))
        r = c.command("MAIL FROM:<alice@example.com>")
        self.assertEqual((r.code, r.enhanced), (530, "5.7.0"), str(r))
        r = c.command("AUTH PLAIN AGFsaWNlAHMzY3JldA==")
        self.assertEqual((r.code, r.enhanced), (530, "5.7.0"), str(r))
        c.send(b"STARTTLS\r\nAUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n"
               b"MAIL FROM:<alice@example.com>\r\n")
        r = c.read_reply()
        self.assertEqual(r.code, 220, str(r))
        c.starttls(self.pki.client_context())
        self.assertIsNone(c.expect_silence(0.4), "the injected commands were answered")
        r = c.command("MAIL FROM:<alice@example.com>")
        self.assertEqual((r.code, r.enhanced), (503, "5.5.1"), str(r) + self.diag(up, c))
        time.sleep(0.2)
        self.assertFalse({"AUTH", "MAIL", "RCPT"} & verbs(up), self.diag(up))
        self.assertEqual(up.auth_attempts(), [])
        # A fresh session: EHLO offers AUTH now, a real login works, nothing was remembered.
        after = c.command("EHLO c.example.net")
        self.assertIn("AUTH", capabilities(after), str(after))
        r = c.command("AUTH PLAIN " + plain_blob("bob", "b0b-pass"))
        self.assertEqual(r.code, 235, str(r) + self.diag(up, c))
        self.assertEqual(c.command("MAIL FROM:<bob@example.com>").code, 250)
        self.assertEqual([(a.login, a.success) for a in up.auth_attempts()], [("bob", True)])
        self.assertEqual([cmd for cmd in commands_of(up) if cmd.startswith("MAIL")],
                         ["MAIL FROM:<BOB@EXAMPLE.COM>"])

    # -- field case BR-36: hostile or failed handshakes
    def assert_relay_serves(self, port: int, up: RecordingUpstream, implicit: bool) -> None:
        """The process is alive and a normal session on `port` still works."""
        self.assertTrue(self.env.relay.alive(), self.diag())
        c = self.client(port, implicit=implicit)
        self.assertEqual(c.banner().code, 220)
        if not implicit:
            c.command("EHLO c.example.net")
            self.assertEqual(c.command("STARTTLS").code, 220)
            c.starttls(self.pki.client_context())
        self.assertEqual(c.command("EHLO c.example.net").code, 250, self.diag(up, c))
        self.assertEqual(c.command("QUIT").code, 221)

    def assert_closed_without_smtp(self, c) -> None:
        """The relay closes; whatever it sent (a TLS alert at most) holds no SMTP reply."""
        deadline = time.monotonic() + 5
        while not c.eof and time.monotonic() < deadline:
            c._fill(deadline)
        self.assertTrue(c.eof, f"connection still open: {bytes(c.buf)!r}")
        self.assertIsNone(re.search(rb"(?m)^[2-5]\d\d[ -]", bytes(c.buf)),
                          f"SMTP reply after a failed handshake: {bytes(c.buf)!r}")

    def test_br36a_plaintext_instead_of_client_hello(self) -> None:
        up = self.upstream()
        _, port = self.relay(up, iface="starttls")
        c = self.client(port)
        c.banner()
        c.command("EHLO c.example.net")
        self.assertEqual(c.command("STARTTLS").code, 220)
        c.send(b"GET / HTTP/1.1\r\nHost: relay.example.test\r\n\r\n")
        self.assert_closed_without_smtp(c)
        self.assertFalse({"MAIL", "RCPT", "DATA", "GET"} & verbs(up), self.diag(up))
        self.assert_relay_serves(port, up, implicit=False)

    def test_br36b_sni_with_backslash_is_refused(self) -> None:
        up = self.upstream()
        svc, sport = self.relay(up, iface="starttls")
        iport = self.interface(svc, "ssl")
        bad = "mail.example.com\\"
        ctx = self.pki.client_context(check_hostname=False)
        # STARTTLS interface: 220, then a ClientHello naming "mail.example.com\".
        c = self.client(sport)
        c.banner()
        c.command("EHLO c.example.net")
        self.assertEqual(c.command("STARTTLS").code, 220)
        with self.assertRaises((ssl.SSLError, OSError, ConnectionClosed)):
            c.starttls(ctx, bad)
            c.command("EHLO c.example.net")  # TLS 1.3 may report the alert here
        # Implicit TLS interface: the same ClientHello.
        with self.assertRaises((ssl.SSLError, OSError, ConnectionClosed)):
            c2 = self.client(iport, implicit=True, server_hostname=bad, context=ctx)
            c2.banner()
        self.assertIsNotNone(self.wait_log(r"handshake failed"),
                             "no log line for the refused handshake" + self.diag())
        self.assertFalse({"MAIL", "RCPT", "DATA"} & verbs(up))
        self.assert_relay_serves(sport, up, implicit=False)
        self.assert_relay_serves(iport, up, implicit=True)

    def test_br36c_plaintext_on_ssl_interface(self) -> None:
        up = self.upstream()
        _, port = self.relay(up, iface="ssl")
        c = self.client(port)
        c.send(b"EHLO c.example.net\r\n")
        self.assert_closed_without_smtp(c)
        self.assertEqual(up.connection_count(), 0, "an upstream session was started")
        # The session's last line names the service and the cause, as for every session
        # (probe round 42: only "TLS handshake failed", without the service).
        self.assertIsNotNone(
            self.wait_log(r"session=\S+ service=\S+ client=\S+ end messages=0 "
                          r"reason=tls handshake failed"),
            "no end line for the failed implicit-TLS session" + self.diag())
        self.assert_relay_serves(port, up, implicit=True)

    def test_a_session_in_its_handshake_ends_when_its_interface_goes(self) -> None:
        """Probe round 43: a client that connected to an ssl interface and never sent its
        ClientHello was not drained when the interface was deleted (nor on SIGTERM, where
        it held the stop for --drain-timeout): it stayed until the 60 s idle timeout. In a
        handshake nothing is under way and no 421 can be sent in clear: it closes now."""
        up = self.upstream()
        svc = self.service(up)
        iface_id, port = self.env.interface(svc, type_="ssl", extra=("--cert", self.RELAY),
                                            ready=lambda p: self.relay_accepts(p))
        silent = self.client(port)  # TCP only: no ClientHello
        time.sleep(0.3)
        self.env.gctl.interface_delete(iface_id)
        started = time.monotonic()
        self.assert_closed_without_smtp(silent)
        self.assertLess(time.monotonic() - started, 3.0, "closed by the idle timeout, not the drain")
        self.assertIsNotNone(self.wait_log(r"reason=tls handshake failed"), self.diag())

    def test_session_cap_on_ssl_interface_sends_no_plaintext(self) -> None:
        """Over max_sessions an implicit-TLS interface closes the extra connection without a
        byte: a plaintext 421 would reach a TLS client as a broken record (RFC 8314 §3.3),
        and a handshake only to say 421 spends what an overload lacks (probe round 8)."""
        up = self.upstream()
        _, port = self.relay(up, iface="ssl", max_sessions=2)
        first, second = self.client(port, implicit=True), self.client(port, implicit=True)
        self.assertEqual(first.banner().code, 220)
        self.assertEqual(second.banner().code, 220)
        extra = self.client(port)
        self.assert_closed_without_smtp(extra)
        first.close()
        self.assertTrue(wait_until(lambda: self.relay_accepts(port), timeout=5),
                        "no session slot came free after a client left")

    def relay_accepts(self, port: int) -> bool:
        try:
            c = self.client(port, implicit=True)
            return c.banner().code == 220
        except (OSError, ssl.SSLError, ConnectionClosed, ReplyTimeout):
            return False

    def forget_clients(self, keep: int) -> None:
        """Closes and forgets the clients opened after the first `keep` ones."""
        for c in self._clients[keep:]:
            c.close()
        del self._clients[keep:]

    def test_br36d_handshake_and_reset_cycles_release_everything(self) -> None:
        up = self.upstream()
        _, port = self.relay(up, iface="ssl")
        pid = self.env.relay.pid
        self.assert_relay_serves(port, up, implicit=True)  # warm up lazily created fds
        self.assertTrue(up.wait_closed(3))
        time.sleep(0.2)
        baseline = fd_count(pid)
        ctx = self.pki.client_context()
        failures = []
        for i in range(200):
            try:
                c = self.client(port, implicit=True, context=ctx)
                if i % 2:
                    c.banner()  # the server finished its side of the handshake too
                c.reset()
            except (ssl.SSLError, OSError, AssertionError) as e:
                failures.append(f"cycle {i}: {e}")
            self.forget_clients(keep=1)
        self.assertEqual(failures, [], "handshakes failed:\n" + "\n".join(failures[:5]))
        settled = wait_until(lambda: fd_count(pid) <= baseline, 5, 0.05)
        self.assertTrue(settled, f"grelayd fds grew from {baseline} to {fd_count(pid)} after "
                                 f"200 handshake+RST cycles")
        self.assert_relay_serves(port, up, implicit=True)
        self.assertEqual(up.connection_count(), 2, "the RST sessions reached the upstream"
                         + self.diag(up))
        self.assertTrue(self.env.relay.alive())
        # The same on a STARTTLS interface: 220, handshake, RST.
        _, sport = self.relay(up, iface="starttls")
        base2 = fd_count(pid)
        for i in range(50):
            c = self.client(sport)
            c.banner()
            c.send(b"STARTTLS\r\n")
            self.assertEqual(c.read_reply().code, 220)
            c.starttls(ctx)
            c.reset()
            self.forget_clients(keep=2)
        self.assertTrue(wait_until(lambda: fd_count(pid) <= base2, 5, 0.05),
                        f"grelayd fds grew from {base2} to {fd_count(pid)}")
        self.assert_relay_serves(sport, up, implicit=False)


def send_records(c, *records: bytes) -> None:
    """Sends each element as its own TLS record (one SSL write each), all in one TCP
    segment (TCP_CORK): the second record is read from the socket with the first one but
    not yet decrypted when the gateway decides whether anything followed the command."""
    c.transcript.append(f"C: (TLS records) {[r[:60] for r in records]!r}")
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    for record in records:
        c.sock.sendall(record)
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)


class TlsRecordPipeliningTests(TlsRelayCase):
    """BR-23 over TLS: bytes pipelined in a later TLS record of the same segment count as
    pipelined, like bytes in the same record (field probe, round 3)."""

    def session(self, iface: str):
        up = self.upstream()
        _, port = self.relay(up, iface=iface)
        if iface == "ssl":
            c = self.client(port, implicit=True)
            self.assertEqual(c.banner().code, 220)
        else:
            c, _, _ = self.starttls_session(port)
        return up, c

    def assert_refused_and_closed(self, c, up: RecordingUpstream, verb: str) -> None:
        r = c.read_reply(5)
        self.assertEqual((r.code, r.enhanced), (503, "5.5.0"), str(r) + self.diag(up, c))
        closing = c.read_reply(5)  # RFC 5321 §4.1.4: a 421 before the close
        self.assertEqual((closing.code, closing.enhanced), (421, "4.5.0"), str(closing))
        self.assertIsNone(c.expect_closed(5), "more than the 503 and the 421 before the close")
        time.sleep(0.2)
        self.assertNotIn(verb, verbs(up), self.diag(up, c))

    def test_body_in_a_second_record_before_354_is_never_content(self) -> None:
        for iface in ("ssl", "starttls"):
            with self.subTest(iface=iface):
                up, c = self.session(iface)
                if iface == "ssl":
                    self.assertEqual(c.command("EHLO c.example.net").code, 250)
                self.assertEqual(c.command("MAIL FROM:<alice@example.com>").code, 250)
                self.assertEqual(c.command("RCPT TO:<bob@example.org>").code, 250)
                send_records(c, b"DATA\r\n", b"Subject: stuffed\r\n\r\nbody\r\n.\r\n")
                r = c.read_reply(5)
                self.assertEqual((r.code, r.enhanced), (503, "5.5.0"), str(r) + self.diag(up, c))
                closing = c.read_reply(5)  # RFC 5321 §4.1.4: a 421 before the close
                self.assertEqual((closing.code, closing.enhanced), (421, "4.5.0"), str(closing))
                self.assertIsNone(c.expect_closed(5))
                time.sleep(0.2)
                self.assertEqual(up.messages(), [], self.diag(up, c))

    def test_mail_in_a_second_record_after_ehlo(self) -> None:
        up, c = self.session("ssl")
        send_records(c, b"EHLO c.example.net\r\n", b"MAIL FROM:<alice@example.com>\r\n")
        self.assert_refused_and_closed(c, up, "MAIL")

    def test_rcpt_in_a_second_record_after_helo_mail(self) -> None:
        up, c = self.session("ssl")
        self.assertEqual(c.command("HELO c.example.net").code, 250)
        send_records(c, b"MAIL FROM:<alice@example.com>\r\n", b"RCPT TO:<bob@example.org>\r\n")
        self.assert_refused_and_closed(c, up, "RCPT")


    def test_second_record_behind_a_local_reply_after_helo(self) -> None:
        """Commands the gateway answers without waiting too (probe round 4): after HELO (no
        PIPELINING) any second command in a later record is refused, never run."""
        for first in (b"NOOP", b"VRFY bob", b"HELP", b"RSET", b"MAIL FROM:<bad"):
            with self.subTest(first=first):
                up, c = self.session("ssl")
                self.assertEqual(c.command("HELO c.example.net").code, 250)
                send_records(c, first + b"\r\n", b"MAIL FROM:<mallory@example.com>\r\n")
                r = c.read_reply(5)
                self.assertEqual((r.code, r.enhanced), (503, "5.5.0"), str(r) + self.diag(up, c))
                closing = c.read_reply(5)  # RFC 5321 §4.1.4: a 421 before the close
                self.assertEqual((closing.code, closing.enhanced), (421, "4.5.0"), str(closing))
                self.assertIsNone(c.expect_closed(5))
                time.sleep(0.2)
                self.assertNotIn("MAIL FROM:<mallory@example.com>", up.command_texts())


class TlsRecordsWithoutDataTests(TlsRelayCase):
    """TLS records that carry no SMTP octets are no pipelining, and sessions end with a
    close_notify; suites without encryption or server authentication are never used (probe
    round 38)."""

    def s_client(self, port: int, writes: list[tuple[float, bytes]]) -> str:
        """openssl s_client (TLS 1.3, implicit TLS) fed `writes` (pause in s, then the
        octets); its interactive "K" line sends a KeyUpdate (RFC 8446 §4.6.3), and a line
        starting with "Q" or "R" would end it or renegotiate (hence "quit", "rcpt"). What
        s_client printed, less its certificate and session dumps: the SMTP replies and its
        own notes (KEYUPDATE, DONE)."""
        p = subprocess.Popen(["openssl", "s_client", "-connect", f"{LOOPBACK}:{port}",
                              "-tls1_3", "-crlf", "-CAfile", str(self.pki.ca.cert),
                              "-servername", "localhost", "-verify_return_error"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        try:
            try:
                for pause, octets in writes:
                    time.sleep(pause)
                    p.stdin.write(octets)
                    p.stdin.flush()
            except BrokenPipeError:
                pass  # s_client ended early: its output says why
            out, _ = p.communicate(timeout=15)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        text = out.decode("utf-8", "replace")
        return "\n".join(line for line in text.splitlines()
                         if re.match(r"\d{3}[ -]|[A-Z]{4,}$|.*error", line))

    def test_key_update_during_an_upstream_wait_is_no_pipelining(self) -> None:
        # The upstream answers EHLO after 1.5 s; the KeyUpdate arrives while the gateway
        # waits for it. Before: 503 5.5.0, 421 and the connection closed.
        up = self.upstream(delay_ehlo=1.5)
        _, port = self.relay(up, iface="ssl")
        out = self.s_client(port, [(1.0, b"EHLO c.example.net\n"), (0.3, b"K\n"),
                                   (2.5, b"MAIL FROM:<alice@example.com>\n"),
                                   (0.5, b"quit\n"), (0.5, b"")])
        self.assertIn("KEYUPDATE", out, out)
        self.assertNotIn("503 ", out, out + self.diag(up))
        self.assertRegex(out, r"250[ -]PIPELINING", out)
        self.assertIn("250 2.1.0", out, out + self.diag(up))
        self.assertIn("221 ", out, out)
        self.assertIn("MAIL FROM:<alice@example.com>", up.command_texts(), self.diag(up))

    def test_key_update_between_transactions_keeps_the_upstream(self) -> None:
        """A KeyUpdate the client sends while idle changes nothing; a session ticket or
        KeyUpdate from a TLS upstream is no reply either (the upstream leg decrypts what
        it holds before each command: no 'octets the upstream sent unasked')."""
        up = self.upstream(implicit=True)
        _, port = self.relay(up, security="ssl", iface="ssl")
        out = self.s_client(port, [(1.0, b"EHLO c.example.net\n"), (0.5, b"K\n"),
                                   (0.5, b"MAIL FROM:<alice@example.com>\n"),
                                   (0.5, b"rcpt TO:<bob@example.org>\n"),
                                   (0.5, b"quit\n"), (0.5, b"")])
        self.assertNotIn("503 ", out, out + self.diag(up))
        self.assertNotIn("451 ", out, out + self.diag(up))
        self.assertIn("250 2.1.5", out, out + self.diag(up))
        self.assertIsNone(self.wait_log("unasked", 0.3), self.diag(up))

    def assert_close_notify(self, sock: ssl.SSLSocket, expected_code: bytes) -> None:
        received = b""
        while True:
            try:
                chunk = sock.recv(4096)
            except ssl.SSLEOFError as e:  # the FIN without a close_notify
                self.fail(f"no close_notify before the FIN ({e}); got {received!r}")
            if not chunk:
                break
            received += chunk
        self.assertIn(expected_code, received)

    def test_close_notify_after_quit_and_after_a_refusal(self) -> None:
        up = self.upstream()
        _, port = self.relay(up, iface="ssl")
        for ending, code in ((b"QUIT\r\n", b"221 "),
                             (b"HELO c.example.net\r\nNOOP\r\nNOOP\r\n", b"421 ")):
            with self.subTest(code=code):
                raw = socket.create_connection((LOOPBACK, port), timeout=5)
                ctx = self.pki.client_context()
                # Python sets it by default: a FIN without close_notify would pass for one.
                ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
                sock = ctx.wrap_socket(raw, server_hostname="localhost",
                                       suppress_ragged_eofs=False)
                try:
                    self.assertTrue(sock.recv(4096).startswith(b"220 "))
                    # The second: HELO and two commands before its reply get 503 and
                    # 421 (BR-23). The first: QUIT alone, after the banner.
                    sock.sendall(ending)
                    self.assert_close_notify(sock, code)
                finally:
                    sock.close()

    def test_null_and_anonymous_suites_are_never_used(self) -> None:
        up = self.upstream()
        name = self.service(up)
        for clear in ("eNULL:@SECLEVEL=0", "aNULL:@SECLEVEL=0"):
            cp = self.env.gctl.run("interface", "add", name, "--type", "ssl", "--port", "1",
                                   "--bind", LOOPBACK, "--cert", "relay", "--ciphers", clear,
                                   check=False)
            self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
            self.assertIn("selects no cipher with encryption", cp.stderr)
        # A list that also has them is taken, and grelayd leaves them out.
        port = self.interface(name, "ssl", extra=("--ciphers", "ALL:@SECLEVEL=0",
                                                  "--tls-min-version", "1.2"))
        for clear in ("eNULL:@SECLEVEL=0", "aNULL:@SECLEVEL=0"):
            with self.subTest(client=clear):
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                ctx.maximum_version = ssl.TLSVersion.TLSv1_2
                ctx.set_ciphers(clear)
                raw = socket.create_connection((LOOPBACK, port), timeout=5)
                with self.assertRaises(ssl.SSLError):
                    with ctx.wrap_socket(raw) as sock:
                        self.fail(f"handshake with {sock.cipher()}")
                raw.close()
        c = self.client(port, implicit=True)
        self.assertEqual(c.banner().code, 220)


class RenegotiatingUpstream:
    """openssl s_server (TLS 1.2, implicit TLS) driven as an SMTP upstream: it answers each
    command line it prints, and 100 ms after its 250 to the end of data asks to renegotiate
    (its interactive "R": a HelloRequest, which the gateway refuses with an alert). Takes
    two connections, one after the other."""

    def __init__(self, cert, key) -> None:
        self.port = free_port()
        self.printed: list[str] = []
        self.connections = 0
        self.messages = 0
        self.proc = subprocess.Popen(
            ["openssl", "s_server", "-accept", f"{LOOPBACK}:{self.port}", "-cert", str(cert),
             "-key", str(key), "-tls1_2", "-crlf", "-naccept", "2"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _say(self, line: str) -> None:
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def _serve(self) -> None:
        in_data = False
        try:
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self.printed.append(line)
                verb = line[:4].upper()
                if line.startswith("CIPHER is"):  # a new connection, handshake done
                    self.connections += 1
                    in_data = False
                    self._say("220 up.example ESMTP")
                elif in_data:
                    if line == ".":
                        in_data = False
                        self.messages += 1
                        self._say("250 2.0.0 queued")
                        time.sleep(0.1)
                        self._say("R")
                elif verb in ("EHLO", "HELO"):
                    self._say("250 up.example")
                elif verb in ("MAIL", "RCPT", "RSET"):
                    self._say("250 2.1.0 ok")
                elif verb == "DATA":
                    in_data = True
                    self._say("354 go ahead")
                elif verb == "QUIT":
                    self._say("221 2.0.0 bye")
        except (OSError, ValueError):
            pass

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.thread.join(5)


class UpstreamTlsTests(TlsRelayCase):
    """Implicit TLS and STARTTLS towards the upstream: verification of chain, name and
    dates, no plaintext fallback, SNI and client certificates. Clients speak plain tcp."""

    def deliver(self, port: int, up: RecordingUpstream) -> None:
        with smtplib.SMTP(LOOPBACK, port, local_hostname="c.example.net", timeout=30) as s:
            self.assertEqual(s.sendmail("alice@example.com", ["bob@example.org"], MESSAGE), {})
            s.quit()
        self.assertTrue(up.wait_messages(1, 5), self.diag(up))
        self.assertEqual(up.messages()[-1].content, MESSAGE)

    def test_renegotiation_request_while_idle_means_a_fresh_connection(self) -> None:
        """A TLS 1.2 upstream that asks to renegotiate while idle gets the gateway's refusal
        (an alert), after which an OpenSSL server drops the connection: the next
        transaction goes to a fresh connection, not to a 451 (probe round 39). Here the
        refusal goes out before the next MAIL; when the HelloRequest is first read by the
        check before MAIL, the alert that check writes marks the connection stale
        (Transport::peer_spoke_or_left)."""
        up = RenegotiatingUpstream(self.pki.upstream.cert, self.pki.upstream.key)
        self.addCleanup(up.stop)
        self.assertTrue(wait_until(lambda: any("ACCEPT" in l for l in up.printed), 5, 0.05))
        _, port = self.relay(up, security="ssl")
        with smtplib.SMTP(LOOPBACK, port, local_hostname="c.example.net", timeout=30) as s:
            self.assertEqual(s.sendmail("alice@example.com", ["bob@example.org"],
                                        b"Subject: one\r\n\r\nfirst\r\n"), {})
            time.sleep(0.6)  # the HelloRequest arrives, and is refused
            self.assertEqual(s.sendmail("alice@example.com", ["bob@example.org"],
                                        b"Subject: two\r\n\r\nsecond\r\n"), {},
                             "\n".join(up.printed[-30:]))
            s.quit()
        self.assertEqual((up.connections, up.messages), (2, 2), "\n".join(up.printed[-30:]))

    def test_implicit_tls_upstream(self) -> None:
        up = self.upstream(implicit=True)
        _, port = self.relay(up, security="ssl")
        self.deliver(port, up)
        [conn] = up.connections()
        self.assertTrue(conn.tls and all(conn.command_tls), self.diag(up))
        self.assertEqual(conn.tls_version, "TLSv1.3")

    def test_starttls_upstream(self) -> None:
        up = self.upstream(starttls=True, require_starttls=True)
        _, port = self.relay(up, security="starttls")
        self.deliver(port, up)
        [conn] = up.connections()
        plain = [c.split(b" ")[0].upper() for c, tls in zip(conn.commands, conn.command_tls)
                 if not tls]
        self.assertEqual(plain, [b"EHLO", b"STARTTLS"], self.diag(up))
        self.assertTrue(conn.tls)
        encrypted = [c.split(b" ")[0].upper() for c, tls in zip(conn.commands, conn.command_tls)
                     if tls]
        self.assertEqual(encrypted[0], b"EHLO", "no fresh EHLO after TLS" + self.diag(up))

    def expect_upstream_refused(self, up: RecordingUpstream, security: str, cause: str,
                                *extra: str, trusted: tuple = ("test-ca",)) -> None:
        """EHLO gets 421 4.x.x and the connection closes; grelayd logs the cause; the
        upstream never got a transaction."""
        svc, port = self.relay(up, *extra, security=security, trusted=trusted)
        c = self.client(port)
        self.assertEqual(c.banner().code, 220)
        r = c.command("EHLO c.example.net")
        self.assertEqual(r.code // 100, 4, str(r) + self.diag(up, c))
        self.assertEqual(r.code, 421, str(r))
        self.assertEqual((r.enhanced or "")[:2], "4.", str(r))
        self.assertIsNone(c.expect_closed(3), "421 did not close the connection")
        self.assertFalse({"MAIL", "RCPT", "DATA", "AUTH"} & verbs(up), self.diag(up))
        for conn in up.connections():
            upper = [cmd.upper() for cmd in conn.commands]
            if b"STARTTLS" in upper:
                after = conn.commands[upper.index(b"STARTTLS") + 1:]
                self.assertEqual(after, [], "commands after a failed STARTTLS" + self.diag(up))
        # Last, so that a missing cause fails only this: the log line names the cause.
        line = self.wait_log(rf"service={re.escape(svc)}\b.*({cause})")
        self.assertIsNotNone(line, f"no grelayd log line for service {svc} naming /{cause}/"
                             + self.diag(up))

    def test_unknown_ca(self) -> None:
        cause = r"unable to get local issuer|unknown ca|self.signed|issuer"
        for security in ("starttls", "ssl"):
            with self.subTest(security=security):
                up = self.upstream(starttls=security == "starttls", implicit=security == "ssl",
                                   cert=self.pki.rogue)
                self.expect_upstream_refused(up, security, cause)
                self.assertGreaterEqual(up.tls_handshakes(), 1)

    def test_wrong_host_name(self) -> None:
        cause = r"host ?name|mismatch|does not match|wrong name|not valid for"
        for security in ("starttls", "ssl"):
            with self.subTest(security=security, name="service host"):
                up = self.upstream(starttls=security == "starttls", implicit=security == "ssl",
                                   cert=self.pki.wrong_host)
                self.expect_upstream_refused(up, security, cause)
        with self.subTest(name="--tls-server-name"):
            up = self.upstream(starttls=True)  # certificate for localhost / 127.0.0.1
            self.expect_upstream_refused(up, "starttls", cause,
                                         "--tls-server-name", "mail.example.test")
            self.assertEqual(up.server_names(), ["mail.example.test"])

    def test_expired_certificate(self) -> None:
        for security in ("starttls", "ssl"):
            with self.subTest(security=security):
                up = self.upstream(starttls=security == "starttls", implicit=security == "ssl",
                                   cert=self.pki.expired)
                self.expect_upstream_refused(up, security, r"expired")

    def test_upstream_without_starttls(self) -> None:
        up = self.upstream()  # plain, no STARTTLS offered
        self.expect_upstream_refused(up, "starttls", r"starttls")
        sent = commands_of(up)
        self.assertTrue(sent and all(c.startswith(("EHLO ", "QUIT")) for c in sent),
                        f"plaintext beyond EHLO: {sent}")

    def test_plaintext_injected_after_upstream_220(self) -> None:
        up = self.upstream(starttls=True, starttls_inject=b"250-injected\r\n250 OK\r\n")
        self.expect_upstream_refused(up, "starttls", r"inject|after the starttls 220|octets after")

    def test_no_verify_hostname_still_verifies_the_chain(self) -> None:
        up = self.upstream(starttls=True, cert=self.pki.wrong_host)
        _, port = self.relay(up, "--no-verify-hostname", security="starttls")
        self.deliver(port, up)
        up2 = self.upstream(starttls=True, cert=self.pki.rogue)
        self.expect_upstream_refused(up2, "starttls", r"issuer|unknown ca|self.signed",
                                     "--no-verify-hostname")

    def test_tls_server_name_is_sent_and_checked(self) -> None:
        up = self.upstream(implicit=True)
        _, port = self.relay(up, "--tls-server-name", "localhost", security="ssl")
        self.deliver(port, up)
        self.assertEqual(up.server_names(), ["localhost"])
        up2 = self.upstream(implicit=True)
        _, port2 = self.relay(up2, security="ssl")  # host 127.0.0.1: no SNI for an IP
        self.deliver(port2, up2)
        self.assertEqual(up2.server_names(), [None])

    def test_client_certificate_towards_upstream(self) -> None:
        up = self.upstream(implicit=True, client_ca=self.pki.ca)
        _, port = self.relay(up, "--client-cert", self.CLIENT, security="ssl")
        self.deliver(port, up)
        [conn] = up.connections()
        self.assertIn((("commonName", "client.example.test"),), conn.peer_cert["subject"])
        up2 = self.upstream(implicit=True, client_ca=self.pki.ca)
        svc, port2 = self.relay(up2, security="ssl")  # no --client-cert
        c = self.client(port2)
        c.banner()
        r = c.command("EHLO c.example.net")
        self.assertEqual(r.code // 100, 4, str(r))
        self.assertEqual(up2.messages(), [])

    def test_system_bundle_does_not_trust_the_test_ca(self) -> None:
        up = self.upstream(starttls=True)
        self.expect_upstream_refused(up, "starttls", r"issuer|unknown ca|self.signed",
                                     trusted=("system",))


if __name__ == "__main__":
    unittest.main()
