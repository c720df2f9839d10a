"""The admin token (DESIGN.md §8 "admin token for gctl"; README "Admin token"): a real gctld
started with --admin-token-file, real gctl runs with and without --token-file /
$GCTL_TOKEN_FILE, and a real grelayd that relays mail and asks for decisions without it.

  cd tests/integration && GW_BIN_DIR=../../build/bin /usr/bin/python3 -m unittest -v test_admin_token
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (LOOPBACK, RelayEnv, SmtpClient, binary, free_port,  # noqa: E402
                     make_workdir, remove_workdir, wait_until)
from policy_helpers import parse_audit  # noqa: E402

TOKEN = "tok-3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e"
MESSAGE = b"From: a@example.com\r\nTo: b@example.net\r\nSubject: token\r\n\r\nbody\r\n"


class AdminToken(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.dir = make_workdir("token")
        cls.token_file = cls.dir / "admin.token"
        cls.token_file.write_text(TOKEN + "\n")
        os.chmod(cls.token_file, 0o600)
        cls.wrong_file = cls.dir / "wrong.token"
        cls.wrong_file.write_text("not-the-token-0123456789\n")
        cls.env = RelayEnv("token", node_id="relay-token",
                           gctld_args=["--admin-token-file", str(cls.token_file)])
        try:
            cls.env.start()
            cls.env.gctl.global_args = ["--token-file", str(cls.token_file)]
        except BaseException:
            cls.env.stop()
            remove_workdir(cls.dir)
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        cls.env.stop()
        remove_workdir(cls.dir)

    def gctl(self, *args: str, env_token: str | None = None) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GCTL_")}
        if env_token is not None:
            env["GCTL_TOKEN_FILE"] = env_token
        return subprocess.run([binary("gctl"), "--server", self.env.gctld.address, *args],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=20, env=env)

    def test_gctl_needs_the_token(self) -> None:
        cp = self.gctl("service", "list")
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertIn("admin token required", cp.stderr)
        cp = self.gctl("--token-file", str(self.wrong_file), "service", "list")
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertIn("admin token refused", cp.stderr)
        cp = self.gctl("--token-file", str(self.wrong_file), "audit", "--follow")
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertIn("admin token refused", cp.stderr)
        self.assertEqual(self.gctl("--token-file", str(self.token_file), "service", "list")
                         .returncode, 0)
        cp = self.gctl("service", "list", env_token=str(self.token_file))
        self.assertEqual(cp.returncode, 0, cp.stderr)
        # A token file that cannot be used is gctl's own error, before any call.
        empty = self.dir / "empty.token"
        empty.write_text("\n")
        cp = self.gctl("--token-file", str(empty), "service", "list")
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertIn("is empty", cp.stderr)
        # Nothing of either token in gctld's log.
        log = self.env.gctld.log_text()
        self.assertIn("refused: no admin token", log)
        self.assertIn("refused: wrong admin token", log)
        self.assertNotIn(TOKEN, log)
        self.assertNotIn("not-the-token", log)

    def test_nodes_relay_and_decide_without_it(self) -> None:
        up = self.env.upstream()
        name, port = self.env.service(up)
        policy = self.dir / "policy.yaml"
        policy.write_text("policies:\n  - name: deny-org\n    filters:\n"
                          "      - {type: match, attribute: smtp.mail.from, "
                          "wildcard: \"*@example.org\", negate: true}\n")
        gctl = self.env.gctl
        gctl.run("apply", "-f", str(policy))
        gctl.run("handler", "add", name, "--command", "mail", "--policy", "deny-org")

        def refused_org() -> bool:
            with SmtpClient(port) as c:
                c.banner()
                c.command("EHLO client.example")
                return c.command("MAIL FROM:<x@example.org>").code == 550
        self.assertTrue(wait_until(refused_org, 5.0, 0.1), self.env.diagnostics())
        with SmtpClient(port) as c:
            self.assertEqual(c.banner().code, 220)
            self.assertEqual(c.command("EHLO client.example").code, 250)
            self.assertEqual(c.command("MAIL FROM:<a@example.com>").code, 250)
            self.assertEqual(c.command("RCPT TO:<b@example.net>").code, 250)
            self.assertEqual(c.command("DATA").code, 354)
            c.send(MESSAGE + b".\r\n")
            self.assertEqual(c.read_reply().code, 250)
            self.assertEqual(c.command("QUIT").code, 221)
        self.assertTrue(up.wait_messages(1))
        self.assertEqual(up.messages()[0].content, MESSAGE)
        # The node's decisions are audited, and gctl with the token reads them.
        def audited() -> list[tuple[str, str]]:
            cp = gctl.run("audit", "--service", name, "--command", "mail", output="json")
            return sorted((r.verdict, r.attributes.get("smtp.mail.from", ""))
                          for r in parse_audit(cp.stdout))
        self.assertTrue(wait_until(lambda: ("continue", "a@example.com") in audited(), 5.0, 0.2),
                        audited())
        self.assertIn(("reject", "x@example.org"), audited())


class DaemonUsageErrors(unittest.TestCase):
    def test_usage_errors_exit_2_and_help_exits_0(self) -> None:
        """gctld and grelayd exit 2 on a usage error, as gctl does (probe round 40: grelayd
        exited 105/106, CLI11's own codes), and 0 for --help."""
        # A node id or instance gctld would refuse: grelayd retried its registration
        # forever (probe round 42).
        for argv in ([binary("grelayd"), "--threads", "0"], [binary("grelayd"), "--bogus"],
                     [binary("gctld"), "--bogus"],
                     [binary("grelayd"), "--node-id", "bad\nid"],
                     [binary("grelayd"), "--node-id", "n1", "--instance", "x y"],
                     [binary("grelayd"), "--node-id", "n" * 65]):
            cp = subprocess.run(argv, capture_output=True, text=True, timeout=20)
            self.assertEqual(cp.returncode, 2, f"{argv}: {cp.stderr}")
            self.assertTrue(cp.stderr.strip(), argv)
        for name in ("grelayd", "gctld"):
            cp = subprocess.run([binary(name), "--help"], capture_output=True, text=True,
                                timeout=20)
            self.assertEqual(cp.returncode, 0, cp.stderr)

    def test_grelayd_refuses_a_banner_name_or_tls_files_it_cannot_use(self) -> None:
        """--hostname is the Domain of the 220 banner and the EHLO reply (RFC 5321
        §4.1.1.1): a space or CR/LF went out as is. A --tls-ca that holds no certificate
        was retried as "Deadline Exceeded" forever. Both exit 2 with the reason (probe
        round 45)."""
        for bad in ("bad host name", "evil\r\n250 injected", "a..b"):
            cp = subprocess.run([binary("grelayd"), "--node-id", "n1", "--hostname", bad],
                                capture_output=True, text=True, timeout=20)
            self.assertEqual(cp.returncode, 2, f"{bad!r}: {cp.stderr}")
            self.assertIn("--hostname", cp.stderr)
            self.assertNotIn("\r", cp.stderr)
        work = make_workdir("node-tls-files")
        try:
            not_pem = work / "ca.pem"
            not_pem.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            cp = subprocess.run([binary("grelayd"), "--node-id", "n1",
                                 "--control-plane", f"{LOOPBACK}:{free_port()}",
                                 "--tls-ca", str(not_pem)],
                                capture_output=True, text=True, timeout=20)
            self.assertEqual(cp.returncode, 2, cp.stderr)
            self.assertIn(f"--tls-ca {not_pem} holds no PEM certificate", cp.stderr)
            self.assertNotIn("AAAA", cp.stderr)
        finally:
            remove_workdir(work)

    def test_sighup_is_logged_and_ignored(self) -> None:
        """Closing the terminal that started a daemon must not end it without a word (probe
        round 40: SIGHUP's default action killed both)."""
        env = RelayEnv("sighup").start()
        try:
            for process in (env.gctld, env.relay):
                os.kill(process.pid, signal.SIGHUP)
            time.sleep(0.5)
            for process in (env.gctld, env.relay):
                self.assertTrue(process.alive(), process.log_tail())
                self.assertIn("SIGHUP ignored", process.log_text())
            self.assertEqual(env.gctl.run("node", "list").returncode, 0)
        finally:
            env.stop()


class TokenFileChecks(unittest.TestCase):
    def test_gctld_refuses_a_token_it_cannot_use(self) -> None:
        work = make_workdir("token-bad")
        try:
            for content, reason in ((b"short\n", "shorter than 16"),
                                    (b"0123456789abcdef 0123\n", "visible ASCII")):
                path = work / "t"
                path.write_bytes(content)
                cp = subprocess.run(
                    [binary("gctld"), "--listen", f"{LOOPBACK}:{free_port()}",
                     "--db", str(work / "gw.db"), "--admin-token-file", str(path)],
                    capture_output=True, text=True, timeout=20)
                self.assertEqual(cp.returncode, 2, cp.stderr)
                self.assertIn(reason, cp.stderr)
                self.assertNotIn("0123456789abcdef", cp.stderr)
        finally:
            remove_workdir(work)


if __name__ == "__main__":
    unittest.main()
