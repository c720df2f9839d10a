"""Control-plane TLS and secrets (issue 3 "Done when"): gctl talks to a TLS-only gctld with
client certificates; relay nodes without a valid client certificate never get their
configuration; gctld refuses a non-loopback listener without TLS unless --insecure; and a
full run with known secrets (upstream password, AUTH passwords, private keys) leaves none of
them, nor their base64 forms, in any log or gctl output.

  cd tests/integration && GW_BIN_DIR=../../build/bin /usr/bin/python3 -m unittest -v \\
      test_control_tls
"""

from __future__ import annotations

import json
import smtplib
import sys
import time
import unittest
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (LOOPBACK, Gctl, Gctld, Grelayd, HarnessError, RecordingUpstream,  # noqa
                     banner_ok, free_port, make_workdir, port_refuses, remove_workdir,
                     wait_until)
from tls_helpers import (CertFiles, TlsSmtpClient, add_cert, b64, capabilities,  # noqa: E402
                         plain_blob, shared_pki)

HOSTNAME = "relay.example.com"


def tls_flags(ca: CertFiles, cert: Optional[CertFiles] = None) -> list[str]:
    flags = ["--tls-ca", str(ca.cert)]
    if cert is not None:
        flags += ["--tls-cert", str(cert.cert), "--tls-key", str(cert.key)]
    return flags


class ControlPlaneTlsTests(unittest.TestCase):
    """One TLS-only gctld (server certificate + required client certificates)."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.pki = shared_pki()
        cls.workdir = make_workdir("cptls")
        cls.processes: list = []
        cls.upstreams: list[RecordingUpstream] = []
        pki = cls.pki
        cls.gctld = Gctld(cls.workdir, extra_args=["--tls-cert", str(pki.control.cert),
                                                   "--tls-key", str(pki.control.key),
                                                   "--tls-ca", str(pki.ca.cert)])
        try:
            cls.gctld.start()
        except BaseException:
            remove_workdir(cls.workdir)
            raise
        cls.gctl = Gctl(cls.gctld.address, tls_flags(pki.ca, pki.gctl_client))

    @classmethod
    def tearDownClass(cls) -> None:
        for up in cls.upstreams:
            up.stop()
        for p in cls.processes:
            p.stop()
        cls.gctld.stop()
        remove_workdir(cls.workdir)

    def relay_node(self, node_id: str, instance: str, flags: list[str]) -> Optional[Grelayd]:
        node = Grelayd(self.workdir, self.gctld.address, node_id=node_id, instance=instance,
                       hostname=HOSTNAME, extra_args=flags)
        self.processes.append(node)
        try:
            node.start()
        except HarnessError:
            pass  # exiting is one way to be refused
        return node

    def node_ids(self) -> str:
        return self.gctl.run("node", "list", output="json").stdout

    def test_gctl_with_client_certificate(self) -> None:
        cp = self.gctl.run("service", "list")
        self.assertEqual(cp.returncode, 0)
        self.gctl.run("service", "add", "cp-ok", "--host", LOOPBACK, "--port", "2525")
        shown = self.gctl.run("service", "show", "cp-ok", output="json").stdout
        self.assertEqual(json.loads(shown).get("host"), LOOPBACK, shown)

    def test_gctl_without_valid_client_certificate_is_refused(self) -> None:
        pki = self.pki
        # Each refusal names its cause: gRPC says only "not connected", so gctl repeats the
        # handshake with OpenSSL (cli/tls_diagnosis.h; probe round 39).
        variants = {
            "plaintext": ([], "the server speaks TLS: give --tls-ca"),
            "no client certificate": (tls_flags(pki.ca), "it may want a client certificate (--tls-cert"),
            "client certificate from an unknown CA": (tls_flags(pki.ca, pki.rogue_client),
                                                      "it may not trust --tls-cert"),
            "server not trusted": (tls_flags(pki.rogue_ca, pki.gctl_client),
                                   "gctld's certificate is not trusted by --tls-ca ("),
        }
        for label, (flags, cause) in variants.items():
            with self.subTest(label):
                self.assert_refused_with_cause(self.gctld.address, flags, label, cause)

    def assert_refused_with_cause(self, address: str, flags: list[str], label: str,
                                  cause: str) -> None:
        started = time.monotonic()
        cp = Gctl(address, flags).run("service", "list", check=False, timeout=30)
        self.assertEqual(cp.returncode, 1, f"{label}: {cp.stdout} {cp.stderr}")
        lines = cp.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, cp.stderr)
        self.assertTrue(lines[0].startswith(
            f"gctl: error: cannot reach control plane at {address}: "), cp.stderr)
        self.assertIn(cause, lines[0], label)
        self.assertLess(time.monotonic() - started, 20, "gctl hung")

    def test_gctl_names_a_plaintext_server_and_a_certificate_for_another_host(self) -> None:
        pki = self.pki
        plain = Gctld(self.workdir, db_path=self.workdir / "plain.db", name="gctld-plain")
        wrong_name = Gctld(self.workdir, db_path=self.workdir / "wrong.db", name="gctld-wrong",
                           extra_args=[
            "--tls-cert", str(pki.wrong_host.cert), "--tls-key", str(pki.wrong_host.key),
            "--tls-ca", str(pki.ca.cert)])
        for daemon in (plain, wrong_name):
            self.processes.append(daemon)
            daemon.start()
        self.assert_refused_with_cause(plain.address, tls_flags(pki.ca, pki.gctl_client),
                                       "plaintext gctld", "the server does not speak TLS")
        self.assert_refused_with_cause(wrong_name.address, tls_flags(pki.ca, pki.gctl_client),
                                       "certificate for wrong.example.test",
                                       "gctld's certificate does not name 127.0.0.1")
        port = wrong_name.address.rsplit(":", 1)[1]
        unreachable = Gctl(f"127.0.0.1:{free_port()}", tls_flags(pki.ca, pki.gctl_client))
        cp = unreachable.run("service", "list", check=False, timeout=30)
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertRegex(cp.stderr.strip(),
                         r"^gctl: error: cannot reach control plane at 127\.0\.0\.1:\d+$",
                         f"nothing to add when TCP is refused too (gctld on {port})")

    def test_relay_node_with_valid_certificate_serves(self) -> None:
        pki = self.pki
        up = RecordingUpstream().start()
        self.upstreams.append(up)
        node = self.relay_node("node-good", "secure", tls_flags(pki.ca, pki.node_client))
        self.gctl.run("service", "add", "cp-secure", "--host", LOOPBACK, "--port",
                      str(up.port), "--instance", "secure", "--hostname", HOSTNAME)
        port = free_port()
        self.gctl.interface_add("cp-secure", port)
        self.assertTrue(wait_until(lambda: banner_ok(port), 10, 0.05),
                        "the node with a valid certificate did not open its interface:\n"
                        + node.log_tail())
        with smtplib.SMTP(LOOPBACK, port, local_hostname="c.example.net", timeout=30) as s:
            self.assertEqual(s.sendmail("a@example.com", ["b@example.org"],
                                        b"Subject: mtls\r\n\r\nok\r\n"), {})
            s.quit()
        self.assertTrue(up.wait_messages(1, 5))
        self.assertIn("node-good", self.node_ids())

    def test_relay_node_without_valid_certificate_is_refused(self) -> None:
        pki = self.pki
        variants = {
            "node-plain": [],
            "node-nocert": tls_flags(pki.ca),
            "node-rogue": tls_flags(pki.ca, pki.rogue_client),
            "node-distrust": tls_flags(pki.rogue_ca, pki.node_client),
        }
        up = RecordingUpstream().start()
        self.upstreams.append(up)
        self.gctl.run("service", "add", "cp-untrusted", "--host", LOOPBACK, "--port",
                      str(up.port), "--instance", "untrusted", "--hostname", HOSTNAME)
        port = free_port()
        self.gctl.interface_add("cp-untrusted", port)
        nodes = {name: self.relay_node(name, "untrusted", flags)
                 for name, flags in variants.items()}
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            self.assertTrue(port_refuses(port),
                            "a node without a valid client certificate opened its interface:\n"
                            + "\n".join(f"--- {n}:\n{p.log_tail(5)}" for n, p in nodes.items()))
            time.sleep(0.2)
        listed = self.node_ids()
        for name, node in nodes.items():
            with self.subTest(name):
                self.assertNotIn(name, listed)
                self.assertNotIn("grelayd listening on", node.log_text())
        self.assertEqual(up.connection_count(), 0)

    def test_gctld_refuses_non_loopback_without_tls(self) -> None:
        workdir = make_workdir("cpopen")
        try:
            open_cp = Gctld(workdir, listen_host="0.0.0.0", name="gctld-open")
            with self.assertRaises(HarnessError, msg="gctld listened on 0.0.0.0 without TLS"):
                open_cp.start(timeout=5)
            self.assertNotEqual(open_cp.returncode(), 0)
            insecure = Gctld(workdir, listen_host="0.0.0.0", name="gctld-insecure",
                             extra_args=["--insecure"])
            insecure.start()
            self.assertTrue(insecure.alive())
            insecure.stop()
            pki = self.pki
            with_tls = Gctld(workdir, listen_host="0.0.0.0", name="gctld-tls",
                             extra_args=["--tls-cert", str(pki.control.cert),
                                         "--tls-key", str(pki.control.key)])
            with_tls.start()
            cp = Gctl(with_tls.address, tls_flags(pki.ca)).run("service", "list", check=False)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            with_tls.stop()
        finally:
            remove_workdir(workdir)


class SecretsTest(unittest.TestCase):
    """A full run with known secrets, then every log and every gctl output is searched."""

    UPSTREAM_USER = "svc-user"
    UPSTREAM_PASSWORD = "Upstr3am-Secret-7d1e9a"
    AUTH_USER = "alice"
    AUTH_PASSWORD = "Cl1ent-Auth-Secret-52bf0c"
    WRONG_PASSWORD = "Wr0ng-Guess-Secret-a41c77"

    def setUp(self) -> None:
        self.pki = shared_pki()
        self.workdir = make_workdir("secrets")
        self.upstreams: list[RecordingUpstream] = []
        self.processes: list = []

    def tearDown(self) -> None:
        for up in self.upstreams:
            up.stop()
        for p in self.processes:
            p.stop()
        remove_workdir(self.workdir)

    def upstream(self, **config) -> RecordingUpstream:
        up = RecordingUpstream(**config).start()
        self.upstreams.append(up)
        return up

    def secrets(self) -> dict[str, str]:
        found = {
            "upstream password": self.UPSTREAM_PASSWORD,
            "upstream password base64": b64(self.UPSTREAM_PASSWORD),
            "upstream PLAIN blob": plain_blob(self.UPSTREAM_USER, self.UPSTREAM_PASSWORD),
            "AUTH password": self.AUTH_PASSWORD,
            "AUTH password base64": b64(self.AUTH_PASSWORD),
            "AUTH PLAIN blob": plain_blob(self.AUTH_USER, self.AUTH_PASSWORD),
            "wrong password": self.WRONG_PASSWORD,
            "wrong password base64": b64(self.WRONG_PASSWORD),
            "wrong PLAIN blob": plain_blob(self.AUTH_USER, self.WRONG_PASSWORD),
        }
        for files in (self.pki.relay, self.pki.client, self.pki.control, self.pki.node_client):
            for i, text in enumerate(files.key_secrets()):
                found[f"{files.name} private key part {i}"] = text
        return found

    def test_no_secret_in_logs_or_gctl_output(self) -> None:
        pki, wd = self.pki, self.workdir
        gctld = Gctld(wd, log_level="trace", extra_args=[
            "--tls-cert", str(pki.control.cert), "--tls-key", str(pki.control.key),
            "--tls-ca", str(pki.ca.cert)])
        self.processes.append(gctld)
        gctld.start()
        gctl = Gctl(gctld.address, tls_flags(pki.ca, pki.gctl_client))
        relay = Grelayd(wd, gctld.address, node_id="node-secrets", log_level="trace",
                        hostname=HOSTNAME, extra_args=tls_flags(pki.ca, pki.node_client))
        self.processes.append(relay)
        relay.start()
        add_cert(gctl, "test-ca", pki.ca, with_key=False)
        add_cert(gctl, "relay", pki.relay)
        add_cert(gctl, "client-cert", pki.client)
        pw_file = wd / "upstream.pw"
        pw_file.write_text(self.UPSTREAM_PASSWORD)

        users = {self.UPSTREAM_USER: self.UPSTREAM_PASSWORD}
        ports = {}
        # Scenario 4 over STARTTLS with a client certificate, PLAIN and LOGIN upstreams.
        for name, mechanisms in (("sec-plain", ["PLAIN"]), ("sec-login", ["LOGIN"])):
            up = self.upstream(starttls_context=pki.server_context(pki.upstream, pki.ca),
                               auth_mechanisms=mechanisms, auth_users=users,
                               auth_required=True)
            gctl.run("service", "add", name, "--host", LOOPBACK, "--port", str(up.port),
                     "--hostname", HOSTNAME, "--security", "starttls", "--trusted-ca",
                     "test-ca", "--client-cert", "client-cert", "--username",
                     self.UPSTREAM_USER, "--password-file", str(pw_file))
            ports[name] = (up, self.add_interface(gctl, name))
        # Pass-through of the client's AUTH.
        up = self.upstream(auth_mechanisms=["PLAIN", "LOGIN"], auth_require_tls=False,
                           auth_users={self.AUTH_USER: self.AUTH_PASSWORD}, auth_required=True)
        gctl.run("service", "add", "sec-pass", "--host", LOOPBACK, "--port", str(up.port),
                 "--hostname", HOSTNAME)
        ports["sec-pass"] = (up, self.add_interface(gctl, "sec-pass"))

        for name in ("sec-plain", "sec-login"):
            up, port = ports[name]
            with smtplib.SMTP(LOOPBACK, port, local_hostname="c.example.net", timeout=30) as s:
                s.starttls(context=pki.client_context())
                self.assertEqual(s.sendmail("a@example.com", ["b@example.org"],
                                            b"Subject: s\r\n\r\nx\r\n"), {})
                s.quit()
            self.assertTrue(up.wait_messages(1, 5), name)
            self.assertTrue(all(a.success for a in up.auth_attempts()), name)
        up, port = ports["sec-pass"]
        with TlsSmtpClient(port) as c:
            c.banner()
            c.command("EHLO c.example.net")
            self.assertEqual(c.command("STARTTLS").code, 220)
            c.starttls(pki.client_context())
            self.assertIn("AUTH", capabilities(c.command("EHLO c.example.net")))
            r = c.command("AUTH PLAIN " + plain_blob(self.AUTH_USER, self.WRONG_PASSWORD))
            self.assertEqual(r.code, 535, str(r))
            self.assertEqual(c.command("AUTH LOGIN").code, 334)
            self.assertEqual(c.command(b64(self.AUTH_USER)).code, 334)
            self.assertEqual(c.command(b64(self.WRONG_PASSWORD)).code, 535)
            self.assertEqual(c.command("AUTH PLAIN").code, 334)
            r = c.command(plain_blob(self.AUTH_USER, self.AUTH_PASSWORD))
            self.assertEqual(r.code, 235, str(r))
            self.assertEqual(c.command("QUIT").code, 221)
        with smtplib.SMTP(LOOPBACK, port, local_hostname="c.example.net", timeout=30) as s:
            s.starttls(context=pki.client_context())
            s.login(self.AUTH_USER, self.AUTH_PASSWORD)
            s.sendmail("a@example.com", ["b@example.org"], b"Subject: s\r\n\r\nx\r\n")
            s.quit()
        self.assertEqual(len(up.messages()), 1)

        # Everything an operator would look at.
        for fmt in ("table", "json", "yaml"):
            gctl.run("service", "list", output=fmt)
            gctl.run("cert", "list", output=fmt)
            gctl.run("interface", "list", output=fmt)
            gctl.run("node", "list", output=fmt)
            for name in ports:
                gctl.run("service", "show", name, output=fmt)
            for cert in ("relay", "client-cert", "test-ca"):
                gctl.run("cert", "show", cert, output=fmt)
        shown = gctl.run("cert", "show", "relay", output="json").stdout
        self.assertIn("relay.example.test", shown, "cert show lacks the SANs")
        svc = json.loads(gctl.run("service", "show", "sec-plain", output="json").stdout)
        self.assertEqual(svc.get("username"), self.UPSTREAM_USER)
        self.assertTrue(svc.get("has_password"), svc)

        relay.stop()
        gctld.stop()
        texts = {str(p.relative_to(wd)): p.read_text(errors="replace")
                 for p in sorted(wd.rglob("*.log"))}
        self.assertTrue(texts, "no process logs captured")
        self.assertTrue(any("session=" in t for t in texts.values()), "grelayd logged no session")
        texts.update({f"gctl output {i}": out for i, out in enumerate(gctl.outputs)})
        leaks = [f"{what} in {where}" for what, secret in self.secrets().items()
                 for where, text in texts.items() if secret in text]
        self.assertEqual(leaks, [], "secrets leaked")
        # Upstream credentials are encrypted at rest (DESIGN.md §7): not in the database.
        for db in wd.glob("gctld.db*"):
            self.assertNotIn(self.UPSTREAM_PASSWORD.encode(), db.read_bytes(), db.name)

    def add_interface(self, gctl: Gctl, service: str) -> int:
        port = free_port()
        gctl.interface_add(service, port, "starttls", LOOPBACK, "--cert", "relay")
        if not wait_until(lambda: banner_ok(port), 10, 0.05):
            raise HarnessError(f"interface of {service} on {port} does not greet")
        return port


if __name__ == "__main__":
    unittest.main()
