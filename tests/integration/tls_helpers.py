"""TLS material and clients for the integration tests: a throw-away PKI made with openssl(1)
at run time, TLS contexts for clients and recording upstreams, a byte-exact SMTP client that
can upgrade with STARTTLS or speak implicit TLS, and small process probes.

Python standard library plus the harness only; run with Debian's /usr/bin/python3.
"""

from __future__ import annotations

import atexit
import base64
import dataclasses
import os
import re
import socket
import ssl
import struct
import subprocess
import time
import unittest
from pathlib import Path
from typing import Optional

from harness import (LOOPBACK, Gctl, HarnessError, RecordingUpstream, RelayEnv, Reply,
                     SmtpClient, make_workdir, remove_workdir, wait_until)

OPENSSL = "/usr/bin/openssl"


# ----------------------------------------------------------------------------------------
# Test PKI


@dataclasses.dataclass
class CertFiles:
    """One certificate (PEM) and its private key (PEM, unencrypted)."""

    name: str
    cert: Path
    key: Path

    def key_secrets(self) -> list[str]:
        """Strings that would betray the private key (an EC key) in a log: the private scalar
        in hex (plain and colon-separated, as openssl prints it), the base64 of the key's DER
        that encodes only the scalar, every PEM line that carries part of it, and the whole
        PEM body. Lines that carry only the public key are left out: certificates show it."""
        pem_body = [line.strip() for line in self.key.read_text().splitlines()
                    if line.strip() and not line.startswith("-----")]
        der = base64.b64decode("".join(pem_body))
        text = subprocess.run([OPENSSL, "pkey", "-in", str(self.key), "-noout", "-text"],
                              capture_output=True, text=True, timeout=30).stdout
        hex_lines = []
        if "priv:" in text:
            for line in text.split("priv:", 1)[1].splitlines()[1:]:
                if not line.startswith(" "):
                    break
                hex_lines.append(line.strip().rstrip(":"))
        scalar = bytes.fromhex("".join(hex_lines).replace(":", ""))
        offset = der.find(scalar) if scalar else -1
        if offset < 0:  # not an EC key we can take apart: every line counts
            return pem_body + ["".join(pem_body)]
        secrets = [scalar.hex(), ":".join(f"{b:02x}" for b in scalar), "".join(pem_body)]
        b64_all = base64.b64encode(der).decode()
        first, last = -(-offset // 3) * 4, (offset + len(scalar)) // 3 * 4
        secrets.append(b64_all[first:last])
        for i, line in enumerate(pem_body):  # PEM line i encodes DER bytes [48i, 48i + 48)
            if 48 * i < offset + len(scalar) and offset < 48 * (i + 1):
                secrets.append(line)
        return secrets


class Pki:
    """Everything the TLS tests need, generated into `directory` with openssl(1):

    ca            the test CA (trust anchor of the relay, the clients and the upstreams)
    relay         server certificate of the relay: DNS:localhost, DNS:relay.example.test,
                  IP:127.0.0.1
    other         second relay certificate for SNI: DNS:other.example.test
    upstream      upstream server certificate: DNS:localhost, IP:127.0.0.1
    expired       like upstream, valid only in 2020
    wrong_host    upstream certificate for DNS:wrong.example.test only
    rogue_ca      a CA nobody trusts; rogue: an upstream-like certificate it signed
    client        client certificate (mTLS) from the test CA; rogue_client from rogue_ca
    control       gctld's gRPC server certificate: DNS:localhost, IP:127.0.0.1
    gctl_client, node_client: gRPC client certificates from the test CA
    """

    SERVER_NAMES = ("relay", "other", "upstream", "expired", "wrong_host", "rogue", "control")

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._serial = int(time.time()) % 1000000 * 100

    # -- openssl plumbing
    def _run(self, *args: str) -> None:
        cp = subprocess.run([OPENSSL, *args], cwd=self.dir, capture_output=True, text=True,
                            timeout=30)
        if cp.returncode != 0:
            raise HarnessError(f"openssl {' '.join(args)} failed: {cp.stderr.strip()}")

    def _ca(self, name: str, subject: str) -> CertFiles:
        files = CertFiles(name, self.dir / f"{name}.pem", self.dir / f"{name}.key")
        self._run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-keyout", files.key.name, "-out", files.cert.name, "-days", "3650",
                  "-subj", subject,
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        db = self.dir / f"{name}.db"
        db.mkdir(exist_ok=True)
        (db / "index.txt").write_text("")
        (db / "serial").write_text(f"{self._serial:08X}\n")
        (self.dir / f"{name}.cnf").write_text(
            "[ ca ]\ndefault_ca = this_ca\n"
            "[ this_ca ]\n"
            f"database = {db}/index.txt\nnew_certs_dir = {db}\nserial = {db}/serial\n"
            "default_md = sha256\npolicy = any\nunique_subject = no\ncopy_extensions = none\n"
            "[ any ]\ncommonName = supplied\n")
        return files

    def _leaf(self, name: str, ca: CertFiles, cn: str, sans: list[str], usage: str,
              start: Optional[str] = None, end: Optional[str] = None) -> CertFiles:
        files = CertFiles(name, self.dir / f"{name}.pem", self.dir / f"{name}.key")
        csr = self.dir / f"{name}.csr"
        self._run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-keyout", files.key.name, "-out", csr.name, "-subj", f"/CN={cn}")
        ext = self.dir / f"{name}.ext"
        lines = ["basicConstraints=critical,CA:FALSE",
                 "keyUsage=critical,digitalSignature,keyEncipherment",
                 f"extendedKeyUsage={usage}"]
        if sans:
            lines.append("subjectAltName=" + ",".join(sans))
        ext.write_text("\n".join(lines) + "\n")
        dates = (["-startdate", start, "-enddate", end] if start and end else ["-days", "60"])
        self._run("ca", "-batch", "-notext", "-config", f"{ca.name}.cnf", "-cert", ca.cert.name,
                  "-keyfile", ca.key.name, "-in", csr.name, "-out", files.cert.name,
                  "-extfile", ext.name, *dates)
        return files

    def generate(self) -> "Pki":
        self.ca = self._ca("ca", "/O=Gateway Tests/CN=Gateway Test CA")
        self.rogue_ca = self._ca("rogue_ca", "/O=Nobody/CN=Rogue Test CA")
        server, both = "serverAuth", "serverAuth,clientAuth"
        self.relay = self._leaf("relay", self.ca, "relay.example.test",
                                ["DNS:localhost", "DNS:relay.example.test", "IP:127.0.0.1"],
                                server)
        self.other = self._leaf("other", self.ca, "other.example.test",
                                ["DNS:other.example.test"], server)
        self.upstream = self._leaf("upstream", self.ca, "upstream.example.test",
                                   ["DNS:localhost", "IP:127.0.0.1"], server)
        self.expired = self._leaf("expired", self.ca, "expired.example.test",
                                  ["DNS:localhost", "IP:127.0.0.1"], server,
                                  start="20200101000000Z", end="20201231000000Z")
        self.wrong_host = self._leaf("wrong_host", self.ca, "wrong.example.test",
                                     ["DNS:wrong.example.test"], server)
        self.rogue = self._leaf("rogue", self.rogue_ca, "localhost",
                                ["DNS:localhost", "IP:127.0.0.1"], server)
        self.client = self._leaf("client", self.ca, "client.example.test",
                                 ["DNS:client.example.test"], "clientAuth")
        self.rogue_client = self._leaf("rogue_client", self.rogue_ca, "client.example.test",
                                       ["DNS:client.example.test"], "clientAuth")
        self.control = self._leaf("control", self.ca, "gctld.example.test",
                                  ["DNS:localhost", "IP:127.0.0.1"], both)
        self.gctl_client = self._leaf("gctl_client", self.ca, "gctl", ["DNS:gctl"], both)
        self.node_client = self._leaf("node_client", self.ca, "relay-node",
                                      ["DNS:relay-node"], both)
        return self

    # -- contexts
    def client_context(self, cert: Optional[CertFiles] = None, check_hostname: bool = True,
                       max_version: Optional[ssl.TLSVersion] = None) -> ssl.SSLContext:
        """A client context trusting the test CA (and verifying the host name)."""
        ctx = ssl.create_default_context(cafile=str(self.ca.cert))
        ctx.check_hostname = check_hostname
        if cert is not None:
            ctx.load_cert_chain(str(cert.cert), str(cert.key))
        if max_version is not None:
            ctx.maximum_version = max_version
        return ctx

    def server_context(self, cert: CertFiles,
                       client_ca: Optional[CertFiles] = None) -> ssl.SSLContext:
        """A server context for a recording upstream; client_ca: require client certs."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert.cert), str(cert.key))
        if client_ca is not None:
            ctx.load_verify_locations(cafile=str(client_ca.cert))
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx


def add_cert(gctl: Gctl, name: str, files: CertFiles, with_key: bool = True) -> None:
    """gctl cert add NAME --cert FILE [--key FILE]."""
    args = ["cert", "add", name, "--cert", str(files.cert)]
    if with_key:
        args += ["--key", str(files.key)]
    gctl.run(*args)


def peer_names(cert: dict) -> set[str]:
    """{"DNS:x", "IP:1.2.3.4", "CN:y"} from ssl.SSLSocket.getpeercert()."""
    kinds = {"DNS": "DNS", "IP Address": "IP"}
    names = {f"{kinds.get(kind, kind)}:{value}" for kind, value in cert.get("subjectAltName", ())}
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                names.add(f"CN:{value}")
    return names


# ----------------------------------------------------------------------------------------
# A byte-exact SMTP client that can speak TLS


class TlsSmtpClient(SmtpClient):
    """SmtpClient over TCP that can upgrade with starttls() or start with implicit TLS.

    All reads go through _fill, which also drains what the TLS layer already decrypted.
    """

    def __init__(self, port: int, host: str = LOOPBACK, timeout: float = 5.0,
                 implicit: Optional[ssl.SSLContext] = None,
                 server_hostname: Optional[str] = "localhost"):
        super().__init__(port, host, timeout)
        self.tls = False
        if implicit is not None:
            self._wrap(implicit, server_hostname)

    def _wrap(self, context: ssl.SSLContext, server_hostname: Optional[str]) -> None:
        self.sock.settimeout(self.timeout)
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.tls = True
        self.transcript.append(f"   (TLS {self.sock.version()} {self.sock.cipher()[0]})")

    def starttls(self, context: ssl.SSLContext,
                 server_hostname: Optional[str] = "localhost") -> None:
        """Handshake now (after the server's 220 was read). Fails the test if the server sent
        anything after its 220 in plaintext; raises ssl.SSLError / OSError if it fails."""
        if self.buf:
            raise AssertionError(f"plaintext after the 220 to STARTTLS: {bytes(self.buf)!r}")
        self._wrap(context, server_hostname)

    @property
    def peer_cert(self) -> dict:
        return self.sock.getpeercert()

    def _fill(self, deadline: float) -> bool:
        if not isinstance(self.sock, ssl.SSLSocket):
            return super()._fill(deadline)
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0 and not self.sock.pending():
            return False
        # A blocking recv with the remaining time: TLS records that carry no application
        # data (TLS 1.3 session tickets) make select() report readable without any data.
        self.sock.settimeout(max(remaining, 0.001))
        try:
            chunk = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return False
        except (ssl.SSLError, OSError) as e:
            self.transcript.append(f"   (recv failed: {e})")
            chunk = b""
        finally:
            try:
                self.sock.settimeout(self.timeout)
            except OSError:
                pass
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def reset(self) -> None:
        """Closes with a TCP RST (SO_LINGER 0)."""
        try:
            raw = self.sock
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.close()
        except OSError:
            pass


def tls_banner_ok(port: int, context: ssl.SSLContext, server_hostname: str = "localhost",
                  timeout: float = 1.0) -> bool:
    """True if an implicit-TLS port completes a handshake and sends a 220 banner."""
    try:
        with TlsSmtpClient(port, timeout=timeout, implicit=context,
                           server_hostname=server_hostname) as c:
            ok = c.banner().code == 220
            c.send(b"QUIT\r\n")
            return ok
    except (AssertionError, OSError, ssl.SSLError):
        return False


# ----------------------------------------------------------------------------------------
# Process probes and secrets


def fd_count(pid: int) -> int:
    """Open file descriptors of a process (Linux /proc)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def secret_forms(secret: str) -> list[str]:
    """A secret and its base64 forms as they could leak from SMTP AUTH."""
    raw = secret.encode()
    return [secret, base64.b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("=")]


def plain_blob(user: str, password: str) -> str:
    """AUTH PLAIN initial response (RFC 4616): base64("\\0user\\0password")."""
    return base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# ----------------------------------------------------------------------------------------
# Shared PKI and a test case base with one relay per class


_SHARED: dict = {}


def shared_pki() -> Pki:
    """One PKI per test process (generated on first use, removed at exit)."""
    if "pki" not in _SHARED:
        workdir = make_workdir("pki")
        atexit.register(remove_workdir, workdir)
        _SHARED["pki"] = Pki(workdir).generate()
    return _SHARED["pki"]


def capabilities(reply: Reply) -> dict[str, str]:
    """EHLO reply lines after the first, as {KEYWORD: rest}."""
    caps = {}
    for text in reply.texts[1:]:
        keyword, _, rest = text.partition(" ")
        caps[keyword.upper()] = rest
    return caps


def swaks_transcript(output: str) -> tuple[list[str], list[str]]:
    """swaks output -> (server lines before TLS "<-", server lines inside TLS "<~")."""
    plain = [line[4:] for line in output.splitlines() if line.startswith("<-  ")]
    tls = [line[4:] for line in output.splitlines() if line.startswith("<~  ")]
    return plain, tls


class TlsRelayCase(unittest.TestCase):
    """One gctld + grelayd per test class with the test certificates registered:
    test-ca (trust anchor), relay and other (server certificates with keys), client-cert
    (client certificate with key). Each test adds its own upstreams, services, interfaces."""

    CA, RELAY, OTHER, CLIENT = "test-ca", "relay", "other", "client-cert"
    USER, PASSWORD = "alice", "s3cret-alice"

    env: Optional[RelayEnv] = None
    pki: Pki

    @classmethod
    def setUpClass(cls) -> None:
        cls.pki = shared_pki()
        cls.env = RelayEnv(cls.__name__.lower(), node_id=f"relay-{cls.__name__.lower()}")
        try:
            cls.env.start()
            gctl = cls.env.gctl
            add_cert(gctl, cls.CA, cls.pki.ca, with_key=False)
            add_cert(gctl, cls.RELAY, cls.pki.relay)
            add_cert(gctl, cls.OTHER, cls.pki.other)
            add_cert(gctl, cls.CLIENT, cls.pki.client)
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
        self._clients: list[SmtpClient] = []

    def tearDown(self) -> None:
        for c in self._clients:
            c.close()
        for name in self._services:
            self.env.drop_service(name)
        for up in self._upstreams:
            self.env.stop_upstream(up)
        self.assertTrue(self.env.relay.alive(),
                        f"grelayd died (rc={self.env.relay.returncode()}):\n"
                        f"{self.env.relay.log_tail()}")

    # -- building blocks
    def upstream(self, starttls: bool = False, implicit: bool = False,
                 cert: Optional[CertFiles] = None, client_ca: Optional[CertFiles] = None,
                 **config) -> RecordingUpstream:
        """A recording upstream; starttls/implicit: TLS with `cert` (default: upstream)."""
        cert = cert or self.pki.upstream
        if starttls:
            config["starttls_context"] = self.pki.server_context(cert, client_ca)
        if implicit:
            config["implicit_tls_context"] = self.pki.server_context(cert, client_ca)
        up = self.env.upstream(None, **config)
        self._upstreams.append(up)
        return up

    def service(self, up: RecordingUpstream, *extra: str, security: str = "none",
                trusted: tuple = ("test-ca",), **options) -> str:
        """gctl service add towards `up`; ssl/starttls get --trusted-ca for each `trusted`."""
        self.env._counter += 1
        name = f"{type(self).__name__.lower()[:12]}{self.env._counter}"
        flags = ["--security", security]
        if security != "none":
            for ca in trusted:
                flags += ["--trusted-ca", ca]
        self.env.gctl.service_add(name, LOOPBACK, up.port, *flags, *extra,
                                  hostname=RelayEnv.RELAY_HOSTNAME, **options)
        self._services.append(name)
        return name

    def interface(self, service: str, type_: str = "tcp", cert: Optional[str] = "relay",
                  extra: tuple = ()) -> int:
        """gctl interface add (ssl/starttls with --cert); waits until it greets; the port."""
        flags = list(extra)
        if type_ != "tcp" and cert:
            flags = ["--cert", cert] + flags
        ready = None
        if type_ == "ssl":
            probe = self.pki.client_context(self.pki.client, check_hostname=False)
            ready = lambda port: tls_banner_ok(port, probe)  # noqa: E731
        return self.env.interface(service, type_=type_, extra=tuple(flags), ready=ready)[1]

    def relay(self, up: RecordingUpstream, *extra: str, iface: str = "tcp",
              iface_extra: tuple = (), security: str = "none", **options) -> tuple[str, int]:
        name = self.service(up, *extra, security=security, **options)
        return name, self.interface(name, iface, extra=iface_extra)

    def client(self, port: int, implicit: bool = False, server_hostname: Optional[str] =
               "localhost", context: Optional[ssl.SSLContext] = None,
               timeout: float = 5.0) -> TlsSmtpClient:
        ctx = context or self.pki.client_context()
        c = TlsSmtpClient(port, timeout=timeout, implicit=ctx if implicit else None,
                          server_hostname=server_hostname)
        self._clients.append(c)
        return c

    def starttls_session(self, port: int) -> tuple[TlsSmtpClient, Reply, Reply]:
        """Banner, EHLO, STARTTLS, handshake, EHLO: (client, EHLO before, EHLO after)."""
        c = self.client(port)
        self.assertEqual(c.banner().code, 220)
        before = c.command("EHLO c.example.net")
        self.assertEqual(before.code, 250, str(before))
        r = c.command("STARTTLS")
        self.assertEqual(r.code, 220, str(r))
        c.starttls(self.pki.client_context())
        after = c.command("EHLO c.example.net")
        self.assertEqual(after.code, 250, str(after))
        return c, before, after

    def wait_log(self, pattern: str, timeout: float = 3.0) -> Optional[str]:
        """The first grelayd log line matching the regex (case-insensitive), or None."""
        rx = re.compile(pattern, re.IGNORECASE)
        found: list[str] = []

        def probe() -> bool:
            found[:] = [line for line in self.env.relay.log_text().splitlines()
                        if rx.search(line)]
            return bool(found)

        wait_until(probe, timeout, 0.05)
        return found[0] if found else None

    def diag(self, up: Optional[RecordingUpstream] = None, c: Optional[SmtpClient] = None) -> str:
        parts = []
        if c is not None:
            parts.append("--- client transcript:\n" + "\n".join(c.transcript[-40:]))
        if up is not None:
            parts.append("--- upstream:\n" + up.describe())
        parts.append(self.env.diagnostics())
        return "\n" + "\n".join(parts)
