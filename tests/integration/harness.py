"""Integration test harness: real gctld / grelayd / gctl processes, a recording aiosmtpd
upstream and a raw-socket SMTP client, all on loopback with ports picked at run time.

Python standard library plus python3-aiosmtpd only; run it with Debian's /usr/bin/python3.
The binaries come from $GW_BIN_DIR (default: <repo>/build/bin). Set GW_KEEP_TMP=1 to keep
the per-run temporary directories (databases, process logs) for inspection.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import fnmatch
import json
import logging
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Optional

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

logging.getLogger("mail.log").setLevel(logging.CRITICAL)  # aiosmtpd's per-session chatter

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"


class HarnessError(RuntimeError):
    """The test environment could not be set up (missing binary, process died, ...)."""


# ----------------------------------------------------------------------------------------
# Small utilities


def bin_dir() -> Path:
    """Directory holding gctld, grelayd and gctl ($GW_BIN_DIR, default <repo>/build/bin)."""
    return Path(os.environ.get("GW_BIN_DIR", str(REPO_ROOT / "build" / "bin")))


def binary(name: str) -> str:
    """Absolute path of one of our binaries; HarnessError if it is not built."""
    path = bin_dir() / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise HarnessError(
            f"{name} not found at {path} (build it: ninja -C build {name}, or set GW_BIN_DIR)")
    return str(path)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, then release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Polls predicate until it is true or timeout seconds passed; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def keep_tmp() -> bool:
    return os.environ.get("GW_KEEP_TMP", "") not in ("", "0")


def make_workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"gw-{prefix}-"))


def remove_workdir(path: Optional[Path]) -> None:
    if path is not None and not keep_tmp():
        shutil.rmtree(path, ignore_errors=True)


def banner_ok(port: int, timeout: float = 1.0) -> bool:
    """True if 127.0.0.1:port accepts a connection and sends a 220 banner within timeout."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as s:
            s.settimeout(timeout)
            data = b""
            deadline = time.monotonic() + timeout
            while b"\n" not in data and time.monotonic() < deadline:
                chunk = s.recv(512)
                if not chunk:
                    break
                data += chunk
            ok = data.startswith(b"220")
            if ok:
                try:
                    s.sendall(b"QUIT\r\n")
                    s.recv(512)
                except OSError:
                    pass
            return ok
    except OSError:
        return False


def port_refuses(port: int) -> bool:
    """True if a connection to 127.0.0.1:port is refused (nothing listens there)."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


# ----------------------------------------------------------------------------------------
# Managed processes


class ManagedProcess:
    """One child process with its combined stdout/stderr in a log file.

    stop() sends SIGTERM to this process only (by pid), waits, then SIGKILL. Processes still
    running when the interpreter exits are stopped by an atexit hook.
    """

    _running: "list[ManagedProcess]" = []

    def __init__(self, name: str, argv: list[str], workdir: Path):
        self.name = name
        self.argv = argv
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.proc: Optional[subprocess.Popen] = None
        self._log = None

    def start(self) -> None:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=str(self.workdir))
        ManagedProcess._running.append(self)

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def returncode(self) -> Optional[int]:
        return None if self.proc is None else self.proc.poll()

    def stop(self, timeout: float = 5.0) -> Optional[int]:
        """Terminates (then kills) the process; returns its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    # grelayd lets busy sessions finish (--drain-timeout); a second signal
                    # stops it at once, so teardown never waits for a slow upstream.
                    self.proc.wait(timeout=min(1.0, timeout))
                except subprocess.TimeoutExpired:
                    self.proc.send_signal(signal.SIGTERM)
                    self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        if self._log:
            self._log.close()
            self._log = None
        if self in ManagedProcess._running:
            ManagedProcess._running.remove(self)
        return self.proc.returncode

    @classmethod
    def stop_all(cls) -> None:
        for process in list(cls._running):
            process.stop()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_text().splitlines()
        return "\n".join(text[-lines:])


atexit.register(ManagedProcess.stop_all)


class Gctld(ManagedProcess):
    """The control plane, on 127.0.0.1 (port 0 by default, read back from --port-file)."""

    def __init__(self, workdir: Path, db_path: Optional[Path] = None, port: int = 0,
                 log_level: str = "info", name: str = "gctld",
                 extra_args: Optional[list[str]] = None, listen_host: str = LOOPBACK):
        """extra_args: more flags (e.g. --tls-cert/--tls-key/--tls-ca); listen_host: the
        address in --listen (the port file and `address` still use 127.0.0.1)."""
        self.db_path = db_path or (workdir / "gctld.db")
        self.port_file = workdir / f"{name}.port"
        self.port = port
        self.extra_args = list(extra_args or [])
        super().__init__(name, [binary("gctld"), "--listen", f"{listen_host}:{port}",
                                "--db", str(self.db_path), "--port-file", str(self.port_file),
                                "--log-level", log_level, *self.extra_args], workdir)

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        if self.port_file.exists():
            self.port_file.unlink()
        super().start()

        def port_written() -> bool:
            if not self.alive():
                return True
            try:
                text = self.port_file.read_text()
            except OSError:
                return False
            return text.endswith("\n") and text.strip().isdigit()

        if not wait_until(port_written, timeout) or not self.alive():
            rc = self.stop()
            raise HarnessError(f"gctld did not start (rc={rc}); log:\n{self.log_tail()}")
        written = int(self.port_file.read_text().strip())
        if self.port not in (0, written):
            raise HarnessError(f"gctld wrote port {written}, asked for {self.port}")
        self.port = written


class Grelayd(ManagedProcess):
    """A relay node following the control plane at `control_plane` (HOST:PORT)."""

    LISTEN_RE = re.compile(r"grelayd listening on (\S+):(\d+) service=(\S+)")

    def __init__(self, workdir: Path, control_plane: str, node_id: str = "relay-1",
                 instance: str = "default", threads: int = 1, log_level: str = "info",
                 hostname: Optional[str] = None, extra_args: Optional[list[str]] = None):
        argv = [binary("grelayd"), "--control-plane", control_plane, "--node-id", node_id,
                "--instance", instance, "--threads", str(threads), "--log-level", log_level]
        if hostname:
            argv += ["--hostname", hostname]
        argv += list(extra_args or [])  # e.g. --tls-ca/--tls-cert/--tls-key
        super().__init__(f"grelayd-{node_id}", argv, workdir)

    def start(self, settle: float = 0.2) -> None:
        super().start()
        time.sleep(settle)
        if not self.alive():
            raise HarnessError(f"grelayd exited at start (rc={self.returncode()}); log:\n"
                               f"{self.log_tail()}")


class Gctl:
    """Runs gctl against one control plane. Raises HarnessError on a non-zero exit if check."""

    def __init__(self, server: str, global_args: Optional[list[str]] = None):
        """global_args: flags placed before the noun, e.g. --tls-ca/--tls-cert/--tls-key."""
        self.server = server
        self.global_args = list(global_args or [])
        self.outputs: list[str] = []  # every stdout and stderr, for the secrets test

    def run(self, *args: str, output: Optional[str] = None, check: bool = True,
            timeout: float = 20.0) -> subprocess.CompletedProcess:
        argv = [binary("gctl"), "--server", self.server, *self.global_args]
        if output:
            argv += ["-o", output]
        argv += list(args)
        cp = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=timeout)
        self.outputs += [cp.stdout, cp.stderr]
        if check and cp.returncode != 0:
            raise HarnessError(f"gctl {' '.join(args)} failed (rc={cp.returncode}): "
                               f"{cp.stderr.strip()} {cp.stdout.strip()}")
        return cp

    @staticmethod
    def flags(**options) -> list[str]:
        """idle_timeout=1000 -> ['--idle-timeout', '1000']; True -> bare flag; None skipped."""
        out: list[str] = []
        for key, value in options.items():
            if value is None or value is False:
                continue
            flag = "--" + key.replace("_", "-")
            out += [flag] if value is True else [flag, str(value)]
        return out

    def service_add(self, name: str, host: str, port: int, *extra: str, **options) -> None:
        self.run("service", "add", name, "--host", host, "--port", str(port), *extra,
                 *self.flags(**options))

    def service_update(self, name: str, *extra: str, **options) -> None:
        self.run("service", "update", name, *extra, *self.flags(**options))

    def service_delete(self, name: str, check: bool = True) -> None:
        self.run("service", "delete", name, check=check)

    def interface_add(self, service: str, port: int, type_: str = "tcp",
                      bind: str = LOOPBACK, *extra: str) -> int:
        """Adds an interface and returns its id (read from -o json, else the printed id).
        extra: more flags, e.g. "--cert", "relay" for ssl/starttls interfaces."""
        cp = self.run("interface", "add", service, "--type", type_, "--port", str(port),
                      "--bind", bind, *extra, output="json")
        found = parse_id(cp.stdout)
        if found is None:
            raise HarnessError(f"cannot read the interface id from gctl output: {cp.stdout!r}")
        return found

    def interface_delete(self, interface_id: int, check: bool = True) -> None:
        self.run("interface", "delete", str(interface_id), check=check)


def parse_id(text: str) -> Optional[int]:
    """The "id" of a gctl -o json answer (protobuf JSON prints int64 as a string)."""
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None

    def find(node) -> Optional[int]:
        if isinstance(node, dict):
            if "id" in node and str(node["id"]).isdigit():
                return int(node["id"])
            for value in node.values():
                got = find(value)
                if got is not None:
                    return got
        if isinstance(node, list):
            for value in node:
                got = find(value)
                if got is not None:
                    return got
        return None

    got = find(doc) if doc is not None else None
    if got is not None:
        return got
    m = re.search(r'"?\bid"?\s*[:=]\s*"?(\d+)', text, re.IGNORECASE) or \
        re.search(r"^\s*(\d+)\s*$", text, re.MULTILINE)
    return int(m.group(1)) if m else None


# ----------------------------------------------------------------------------------------
# Recording upstream SMTP server (aiosmtpd)


@dataclasses.dataclass
class UpstreamConfig:
    """How the recording upstream behaves. Delays are in seconds."""

    # EHLO capabilities. size None: no SIZE line; 0: "SIZE 0" (no fixed limit, RFC 1870).
    size: Optional[int] = 33554432
    eightbitmime: bool = True
    smtputf8: bool = True
    enhancedstatuscodes: bool = True
    pipelining: bool = True
    extra_caps: list[str] = dataclasses.field(default_factory=list)  # e.g. CHUNKING, DSN
    # Enforced limits: message size (default: the advertised SIZE, else 128 MiB) and text line
    # length in octets incl. CRLF (plus one for a stuffed dot, like aiosmtpd).
    max_size: Optional[int] = None
    line_limit: int = 1001
    # Replies. None means the normal behaviour. Multi-line replies: lines joined by "\r\n".
    banner: Optional[str] = None            # non-220: 554 waits for QUIT (2 s), others close
    ehlo_reply: Optional[str] = None        # e.g. "502 5.5.1 EHLO not supported"
    mail_reply: Optional[str] = None
    rset_reply: Optional[str] = None        # instead of 250, the transaction kept (a faulty MTA)
    data_reply: Optional[str] = None        # instead of 354; 421 closes the connection
    final_reply: Optional[str] = None       # after end-of-data; stored only if 2xx
    reject_rcpt: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (glob, reply)
    reject_mail: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    # Faults.
    down: bool = False                      # bound, not listening: connections are refused
    silent: bool = False                    # accepts, never says anything
    drop_mid_data: Optional[int] = None     # close after this many DATA octets
    mid_data_reply: Optional[str] = None    # with drop_mid_data: sent just before that close
    mid_data_stall: bool = False            # with drop_mid_data: stop reading, stay open
    drop_before_final: bool = False         # read the whole message, close without reply
    close_after_final: bool = False         # close (FIN, no 421) right after the final reply
    delay_banner: float = 0.0
    delay_ehlo: float = 0.0
    delay_mail: float = 0.0
    delay_rcpt: float = 0.0
    delay_data: float = 0.0                 # before the 354
    delay_final: float = 0.0                # before the reply to end-of-data
    # A slow reader: a pause before each DATA line is read, with an 8 KiB receive buffer,
    # so that the relay's octets (the terminator too) wait in its send queue.
    slow_data_line: float = 0.0
    # TLS. starttls_context: offer STARTTLS (RFC 3207) with this server context;
    # implicit_tls_context: TLS from the first byte (RFC 8314). require_starttls: 530 for
    # anything but EHLO/NOOP/QUIT/STARTTLS before TLS. starttls_inject: octets pushed in the
    # same write as the 220 to STARTTLS (a plaintext injection towards the relay).
    starttls_context: Optional[ssl.SSLContext] = None
    implicit_tls_context: Optional[ssl.SSLContext] = None
    require_starttls: bool = False
    starttls_inject: Optional[bytes] = None
    # AUTH (RFC 4954). auth_mechanisms None: the legacy behaviour (no AUTH advertised unless
    # extra_caps says so). Otherwise "AUTH <mechanisms>" is advertised (only PLAIN and LOGIN
    # are implemented) once the session is encrypted, or always without auth_require_tls;
    # auth_users are the accepted user -> password pairs; auth_required: MAIL before a
    # successful AUTH gets 530 5.7.0.
    auth_mechanisms: Optional[list[str]] = None
    auth_users: dict[str, str] = dataclasses.field(default_factory=dict)
    auth_required: bool = False
    auth_require_tls: bool = True

    def enforced_size(self) -> int:
        if self.max_size is not None:
            return self.max_size
        return self.size if self.size else 128 * 1024 * 1024


@dataclasses.dataclass
class StoredMessage:
    """One message the upstream accepted (2xx after end-of-data)."""

    mail_from: str
    mail_options: list[str]
    rcpt_tos: list[str]
    rcpt_options: list[list[str]]
    content: bytes      # DATA after dot-unstuffing, without the terminating ".\r\n"
    data_raw: bytes     # DATA octets as received, terminator included
    connection: int


@dataclasses.dataclass
class UpstreamConnection:
    """Everything one upstream connection received."""

    index: int
    peer: tuple
    raw: bytearray = dataclasses.field(default_factory=bytearray)
    commands: list[bytes] = dataclasses.field(default_factory=list)  # lines without CRLF
    greeting: Optional[str] = None      # "EHLO arg" / "HELO arg" (the last one)
    closed: bool = False
    command_tls: list[bool] = dataclasses.field(default_factory=list)  # per command: encrypted?
    tls: bool = False                   # the connection is (now) encrypted
    tls_version: Optional[str] = None   # e.g. "TLSv1.3"
    peer_cert: Optional[dict] = None    # the client certificate the relay presented, if any


@dataclasses.dataclass
class AuthAttempt:
    """One credential check of the recording upstream (a complete, decodable AUTH)."""

    connection: int
    mechanism: str
    login: str
    password: str
    success: bool
    tls: bool


def split_path(rest: str) -> tuple[Optional[str], list[str]]:
    """'<a b@x> P=1 Q' -> ('a b@x', ['P=1', 'Q']); understands quoted local parts."""
    rest = rest.strip()
    if not rest.startswith("<"):
        parts = rest.split()
        return (parts[0], parts[1:]) if parts else (None, [])
    i, quoted = 1, False
    while i < len(rest):
        ch = rest[i]
        if ch == "\\" and quoted:
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == ">" and not quoted:
            return rest[1:i], rest[i + 1:].split()
        i += 1
    return None, []


class _NullHandler:
    pass


class _RecordingReader:
    """Wraps the StreamReader aiosmtpd uses, recording every command line it reads."""

    def __init__(self, reader: asyncio.StreamReader, proto: "_RecordingSMTP"):
        object.__setattr__(self, "_inner", reader)
        object.__setattr__(self, "_proto", proto)

    async def readline(self) -> bytes:
        line = await self._inner.readline()  # SASL responses (aiosmtpd's challenge_auth)
        self._proto._record_command(line)
        return line

    def __setattr__(self, name, value) -> None:
        setattr(self._inner, name, value)  # aiosmtpd retargets _transport after STARTTLS

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        line = await self._inner.readuntil(separator)
        if separator == b"\n":
            self._proto._record_command(line)
        return line

    def __getattr__(self, name):
        return getattr(self._inner, name)


class _RecordingSMTP(SMTP):
    """aiosmtpd session that records bytes and commands and follows an UpstreamConfig."""

    def __init__(self, upstream: "RecordingUpstream"):
        self._up = upstream
        self._cfg = upstream.config
        self._conn: Optional[UpstreamConnection] = None
        self._reading_data = False
        self.line_length_limit = self._cfg.line_limit
        tls_options: dict = {}
        if self._cfg.starttls_context is not None:
            tls_options.update(tls_context=self._cfg.starttls_context,
                               require_starttls=self._cfg.require_starttls)
        if self._cfg.auth_mechanisms is not None:
            tls_options.update(
                auth_require_tls=False,  # enforced by smtp_AUTH below (implicit TLS counts)
                auth_exclude_mechanism=[m for m in ("PLAIN", "LOGIN")
                                        if m not in self._cfg.auth_mechanisms],
                authenticator=self._check_credentials)
        super().__init__(_NullHandler(), data_size_limit=self._cfg.enforced_size(),
                         enable_SMTPUTF8=True, decode_data=False, hostname="upstream.test",
                         ident="recording upstream", timeout=120, loop=upstream.loop,
                         **tls_options)

    # -- recording
    def connection_made(self, transport) -> None:
        # Called again with the TLS transport after STARTTLS: same connection, now encrypted.
        if self._conn is None:
            self._conn = self._up._open_connection(transport.get_extra_info("peername"))
        self._up._transports.add(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            with self._up.lock:
                self._conn.tls = True
                self._conn.tls_version = ssl_object.version()
                self._conn.peer_cert = ssl_object.getpeercert() or None
        super().connection_made(transport)

    def _encrypted(self) -> bool:
        return self._conn is not None and self._conn.tls

    def data_received(self, data: bytes) -> None:
        with self._up.lock:
            self._conn.raw += data
        super().data_received(data)

    def connection_lost(self, exc) -> None:
        with self._up.lock:
            self._conn.closed = True
        self._up._transports.discard(self.transport)
        super().connection_lost(exc)

    def _client_connected_cb(self, reader, writer) -> None:
        super()._client_connected_cb(_RecordingReader(reader, self), writer)

    def _record_command(self, line: bytes) -> None:
        with self._up.lock:
            self._conn.commands.append(line.rstrip(b"\r\n"))
            self._conn.command_tls.append(self._conn.tls)

    def _check_credentials(self, server, session, envelope, mechanism,
                           auth_data) -> AuthResult:
        login = password = ""
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "surrogateescape")
            password = auth_data.password.decode("utf-8", "surrogateescape")
        ok = bool(login) and self._cfg.auth_users.get(login) == password
        self._up._record_auth(AuthAttempt(connection=self._conn.index, mechanism=mechanism,
                                          login=login, password=password, success=ok,
                                          tls=self._encrypted()))
        return AuthResult(success=ok, handled=False)

    async def _reply(self, text: str) -> None:
        if text.endswith(("\n", "\r")):
            # Ends in a line break of its own (a bare LF or CR): sent as is, no CRLF added,
            # the connection staying open (a reply whose line end never comes).
            self.transport.write(text.encode("utf-8", "surrogateescape"))
            return
        await self.push(text)
        if text.startswith("421"):
            self._drop()

    def _drop(self) -> None:
        """Closes the connection and ends this session's handler (nothing more is read)."""
        self.transport.close()
        raise asyncio.CancelledError()

    # -- session
    async def _handle_client(self):
        cfg = self._cfg
        if cfg.silent:
            await asyncio.sleep(3600)
            return
        if cfg.delay_banner:
            await asyncio.sleep(cfg.delay_banner)
        if cfg.banner is not None and not cfg.banner.startswith("220"):
            await self.push(cfg.banner)
            if cfg.banner.startswith("554"):
                # RFC 5321 §3.1: a server greeting with 554 waits for the client's QUIT and
                # answers other commands with 503 (recorded like any command), 2 s at most.
                try:
                    while True:
                        line = await asyncio.wait_for(self._reader.readuntil(b"\n"), 2.0)
                        if line[:4].upper() == b"QUIT":
                            await self.push("221 2.0.0 Bye")
                            break
                        await self.push("503 5.5.1 Bad sequence of commands")
                except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    pass
            self.transport.close()
            return
        await super()._handle_client()

    async def smtp_EHLO(self, hostname: str):
        cfg = self._cfg
        with self._up.lock:
            self._conn.greeting = f"EHLO {hostname or ''}".strip()
        if cfg.delay_ehlo:
            await asyncio.sleep(cfg.delay_ehlo)
        if cfg.ehlo_reply:
            return await self._reply(cfg.ehlo_reply)
        if not hostname:
            return await self.push("501 5.5.4 Syntax: EHLO hostname")
        self._set_rset_state()
        self.session.extended_smtp = True
        self.session.host_name = hostname
        caps = []
        if cfg.size is not None:
            caps.append(f"SIZE {cfg.size}")
        if cfg.eightbitmime:
            caps.append("8BITMIME")
        if cfg.smtputf8:
            caps.append("SMTPUTF8")
        if cfg.pipelining:
            caps.append("PIPELINING")
        if cfg.enhancedstatuscodes:
            caps.append("ENHANCEDSTATUSCODES")
        if cfg.starttls_context is not None and not self._encrypted():
            caps.append("STARTTLS")
        if cfg.auth_mechanisms and (self._encrypted() or not cfg.auth_require_tls):
            caps.append("AUTH " + " ".join(cfg.auth_mechanisms))
        caps += cfg.extra_caps
        lines = [f"upstream.test Hello {hostname}"] + caps
        out = [f"250-{line}" for line in lines[:-1]] + [f"250 {lines[-1]}"]
        await self.push("\r\n".join(out))

    async def smtp_HELO(self, hostname: str):
        with self._up.lock:
            self._conn.greeting = f"HELO {hostname or ''}".strip()
        if not hostname:
            return await self.push("501 5.5.4 Syntax: HELO hostname")
        self._set_rset_state()
        self.session.extended_smtp = False
        self.session.host_name = hostname
        await self.push("250 upstream.test")

    async def smtp_STARTTLS(self, arg: Optional[str]):
        if self._cfg.starttls_inject is not None and not arg and self.tls_context:
            # The 220 and the injected octets in one write, then no TLS at all.
            self.transport.write(b"220 Ready to start TLS\r\n" + self._cfg.starttls_inject)
            return
        await super().smtp_STARTTLS(arg)

    async def smtp_AUTH(self, arg: Optional[str]):
        cfg = self._cfg
        if cfg.auth_mechanisms is not None:
            if not cfg.auth_mechanisms:
                return await self.push("502 5.5.1 AUTH not available")
            if cfg.auth_require_tls and not self._encrypted():
                return await self.push("538 5.7.11 Encryption required for requested "
                                       "authentication mechanism")
        await super().smtp_AUTH(arg)

    async def smtp_RSET(self, arg: Optional[str]):
        if self._cfg.rset_reply:
            return await self._reply(self._cfg.rset_reply)
        return await super().smtp_RSET(arg)

    async def smtp_MAIL(self, arg: Optional[str]):
        cfg = self._cfg
        if not self.session.host_name:
            return await self.push("503 5.5.1 Error: send HELO first")
        if self.envelope.mail_from is not None:
            return await self.push("503 5.5.1 Error: nested MAIL command")
        if not arg or not arg.upper().startswith("FROM:"):
            return await self.push("501 5.5.4 Syntax: MAIL FROM:<address>")
        address, params = split_path(arg[5:])
        if address is None:
            return await self.push("501 5.1.7 Bad sender address syntax")
        if cfg.auth_required and not self.session.authenticated:
            return await self.push("530 5.7.0 Authentication required")
        if cfg.delay_mail:
            await asyncio.sleep(cfg.delay_mail)
        if cfg.mail_reply:
            return await self._reply(cfg.mail_reply)
        for pattern, reply in cfg.reject_mail:
            if fnmatch.fnmatchcase(address.lower(), pattern.lower()):
                return await self._reply(reply)
        for p in params:
            key, _, value = p.partition("=")
            if key.upper() == "SIZE" and value.isdigit() and int(value) > cfg.enforced_size():
                return await self.push("552 5.3.4 Message size exceeds fixed maximum")
        self.envelope.mail_from = address
        self.envelope.mail_options = list(params)
        self.envelope.rcpt_options = []
        await self.push("250 2.1.0 Ok")

    async def smtp_RCPT(self, arg: Optional[str]):
        cfg = self._cfg
        if self.envelope.mail_from is None:
            return await self.push("503 5.5.1 Error: need MAIL command")
        if not arg or not arg.upper().startswith("TO:"):
            return await self.push("501 5.5.4 Syntax: RCPT TO:<address>")
        address, params = split_path(arg[3:])
        if address is None:
            return await self.push("501 5.1.3 Bad recipient address syntax")
        if cfg.delay_rcpt:
            await asyncio.sleep(cfg.delay_rcpt)
        for pattern, reply in cfg.reject_rcpt:
            if fnmatch.fnmatchcase(address.lower(), pattern.lower()):
                return await self._reply(reply)
        self.envelope.rcpt_tos.append(address)
        self.envelope.rcpt_options.append(list(params))
        await self.push("250 2.1.5 Ok")

    def eof_received(self) -> bool:
        if self._cfg.slow_data_line and self._reading_data:
            # Like an MTA that reads on after the client's FIN (Postfix does): the DATA loop
            # still gets everything that was sent, the terminator included.
            return asyncio.StreamReaderProtocol.eof_received(self)
        return super().eof_received()

    async def smtp_DATA(self, arg: Optional[str]):
        cfg = self._cfg
        if self.envelope.mail_from is None:
            return await self.push("503 5.5.1 Error: need MAIL command")
        if not self.envelope.rcpt_tos:
            return await self.push("554 5.5.1 Error: no valid recipients")
        if arg:
            return await self.push("501 5.5.4 Syntax: DATA")
        if cfg.delay_data:
            await asyncio.sleep(cfg.delay_data)
        if cfg.data_reply:
            return await self._reply(cfg.data_reply)
        if cfg.slow_data_line:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        raw = bytearray()
        lines: list[bytearray] = []
        fragments: list[bytes] = []
        too_long = too_big = False
        limit = cfg.enforced_size()
        total = 0
        self._reading_data = True
        while True:
            if cfg.slow_data_line:
                await asyncio.sleep(cfg.slow_data_line)
            try:
                line = await self._reader.readuntil(b"\r\n")
            except asyncio.LimitOverrunError as e:
                line = await self._reader.read(e.consumed)
                too_long = True
            except asyncio.IncompleteReadError:
                return
            raw += line
            if cfg.drop_mid_data is not None and len(raw) >= cfg.drop_mid_data:
                if cfg.mid_data_reply:
                    # A refusal before the end of data (some MTAs answer an oversize
                    # message at once and close).
                    await self.push(cfg.mid_data_reply)
                if cfg.mid_data_stall:
                    await asyncio.sleep(3600)  # reads nothing more, until the relay closes
                self._drop()
            if not fragments and line == b".\r\n":
                break
            fragments.append(line)
            if line.endswith(b"\r\n"):
                whole = bytearray(b"".join(fragments))
                fragments = []
                if whole.startswith(b"."):
                    del whole[0]
                total += len(whole)
                if total > limit:
                    too_big = True
                    lines = []
                if not (too_long or too_big):
                    lines.append(whole)
        self._reading_data = False
        envelope = self.envelope
        self._set_post_data_state()
        if too_long:
            return await self.push("500 5.5.2 Line too long")
        if too_big:
            return await self.push("552 5.3.4 Message too big")
        if cfg.drop_before_final:
            self._drop()
        if cfg.delay_final:
            await asyncio.sleep(cfg.delay_final)
        reply = cfg.final_reply or "250 2.0.0 Ok: queued"
        if reply.startswith("2"):
            self._up._store(StoredMessage(
                mail_from=envelope.mail_from, mail_options=list(envelope.mail_options),
                rcpt_tos=list(envelope.rcpt_tos), rcpt_options=list(envelope.rcpt_options),
                content=bytes(b"".join(lines)), data_raw=bytes(raw),
                connection=self._conn.index))
        await self._reply(reply)
        if cfg.close_after_final:
            self._drop()


class RecordingUpstream:
    """A real SMTP server on 127.0.0.1 that records everything it receives.

    Runs aiosmtpd on its own event loop in a daemon thread. All query methods are thread
    safe and return copies. With config.down the port is bound but not listening, so
    connections are refused.
    """

    def __init__(self, config: Optional[UpstreamConfig] = None, **overrides):
        self.config = dataclasses.replace(config or UpstreamConfig(), **overrides)
        self.lock = threading.Lock()
        self.port = 0
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._server = None
        self._dead_socket: Optional[socket.socket] = None
        self._connections: list[UpstreamConnection] = []
        self._messages: list[StoredMessage] = []
        self._transports: set = set()
        self._auth_attempts: list[AuthAttempt] = []
        self._server_names: list[Optional[str]] = []  # SNI of every TLS handshake begun
        for ctx in (self.config.starttls_context, self.config.implicit_tls_context):
            if ctx is not None:
                ctx.sni_callback = self._on_sni

    # -- lifecycle
    def start(self) -> "RecordingUpstream":
        if self.config.down:
            self._dead_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._dead_socket.bind((LOOPBACK, 0))
            self.port = self._dead_socket.getsockname()[1]
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            try:
                self._server = self.loop.run_until_complete(self.loop.create_server(
                    lambda: _RecordingSMTP(self), LOOPBACK, 0,
                    ssl=self.config.implicit_tls_context))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as e:  # reported to start()
                failure.append(e)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(
                    asyncio.gather(*pending, return_exceptions=True))
            self.loop.close()

        self._thread = threading.Thread(target=run, name="recording-upstream", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            raise HarnessError(f"recording upstream did not start: {failure}")
        return self

    def stop(self) -> None:
        if self._dead_socket is not None:
            self._dead_socket.close()
            self._dead_socket = None
        if self._thread is None or self.loop is None:
            return

        def shutdown() -> None:
            self._server.close()
            for transport in list(self._transports):
                try:
                    transport.abort()
                except Exception:  # a TLS transport already torn down after STARTTLS
                    pass
            self.loop.stop()

        try:
            self.loop.call_soon_threadsafe(shutdown)
        except RuntimeError:
            pass
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> "RecordingUpstream":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- recording (called on the upstream's loop)
    def _open_connection(self, peer) -> UpstreamConnection:
        with self.lock:
            conn = UpstreamConnection(index=len(self._connections), peer=peer)
            self._connections.append(conn)
            return conn

    def _store(self, message: StoredMessage) -> None:
        with self.lock:
            self._messages.append(message)

    def _record_auth(self, attempt: AuthAttempt) -> None:
        with self.lock:
            self._auth_attempts.append(attempt)

    def _on_sni(self, ssl_object, server_name, context) -> None:
        with self.lock:
            self._server_names.append(server_name)
        return None

    # -- queries
    def messages(self) -> list[StoredMessage]:
        with self.lock:
            return list(self._messages)

    def connections(self) -> list[UpstreamConnection]:
        with self.lock:
            return [dataclasses.replace(c, raw=bytearray(c.raw), commands=list(c.commands),
                                        command_tls=list(c.command_tls))
                    for c in self._connections]

    def auth_attempts(self) -> list[AuthAttempt]:
        """Every complete credential check (PLAIN/LOGIN), in order."""
        with self.lock:
            return list(self._auth_attempts)

    def server_names(self) -> list[Optional[str]]:
        """The SNI (None: none sent) of every TLS handshake a client began with us."""
        with self.lock:
            return list(self._server_names)

    def tls_handshakes(self) -> int:
        return len(self.server_names())

    def commands(self) -> list[bytes]:
        """All command lines (without CRLF) of all connections, in connection order."""
        with self.lock:
            return [cmd for c in self._connections for cmd in c.commands]

    def command_texts(self) -> list[str]:
        return [c.decode("utf-8", "surrogateescape") for c in self.commands()]

    def raw(self) -> bytes:
        """Every octet every connection received, connection after connection."""
        with self.lock:
            return b"".join(bytes(c.raw) for c in self._connections)

    def open_connections(self) -> int:
        with self.lock:
            return sum(1 for c in self._connections if not c.closed)

    def connection_count(self) -> int:
        with self.lock:
            return len(self._connections)

    def wait_messages(self, count: int, timeout: float = 5.0) -> bool:
        return wait_until(lambda: len(self.messages()) >= count, timeout)

    def wait_closed(self, timeout: float = 5.0) -> bool:
        return wait_until(lambda: self.open_connections() == 0, timeout)

    def drop_connections(self) -> None:
        """Closes every open connection from the server side, without a reply (an idle
        timeout or a restart of the upstream), and returns once they are closed."""
        def close_all() -> None:
            for transport in list(self._transports):
                transport.close()
        self.loop.call_soon_threadsafe(close_all)
        self.wait_closed()

    def describe(self) -> str:
        """Human-readable summary for assertion messages."""
        lines = []
        for c in self.connections():
            lines.append(f"  conn {c.index} closed={c.closed} tls={c.tls_version} "
                         f"greeting={c.greeting!r}")
            for cmd, tls in zip(c.commands[:40], c.command_tls[:40]):
                lines.append(f"    {'~' if tls else '>'} {cmd[:200]!r}")
        lines.append(f"  stored messages: {len(self.messages())}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------
# Raw-socket SMTP client


class ConnectionClosed(AssertionError):
    """The server closed the connection while a reply was expected."""


class ReplyTimeout(AssertionError):
    """No complete reply arrived in time."""


@dataclasses.dataclass
class Reply:
    """One SMTP reply. lines are the raw lines without CRLF ("250-SIZE 100")."""

    code: int
    lines: list[str]

    @property
    def texts(self) -> list[str]:
        return [line[4:] for line in self.lines]

    @property
    def text(self) -> str:
        """Text of the first line (enhanced code included)."""
        return self.texts[0]

    @property
    def enhanced(self) -> Optional[str]:
        m = re.match(r"([245]\.\d{1,3}\.\d{1,3})(?: |$)", self.text)
        return m.group(1) if m else None

    def __str__(self) -> str:
        return " | ".join(self.lines)


_REPLY_LINE = re.compile(r"^(\d{3})([ -]|$)")


class SmtpClient:
    """A byte-exact SMTP client over one TCP connection (TCP_NODELAY).

    send() writes exactly the given bytes in one sendall (one write); a peer that already
    closed does not raise (send_error keeps the error). read_reply() is multi-line aware.
    """

    def __init__(self, port: int, host: str = LOOPBACK, timeout: float = 5.0):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False
        self.send_error: Optional[OSError] = None
        self.transcript: list[str] = []

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def shutdown_write(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def __enter__(self) -> "SmtpClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.transcript.append(f"C: {data[:300]!r}{' ...' if len(data) > 300 else ''}")
        try:
            self.sock.sendall(data)
        except OSError as e:  # EPIPE / ECONNRESET: the server closed; replies may be queued
            self.send_error = e
            self.transcript.append(f"   (send failed: {e})")

    def send_line(self, line: str | bytes) -> None:
        data = line.encode() if isinstance(line, str) else line
        self.send(data + b"\r\n")

    def _fill(self, deadline: float) -> bool:
        """Reads what is available before deadline; False on timeout. Sets eof."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select([self.sock], [], [], remaining)
        if not ready:
            return False
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError):
            chunk = b""
        except OSError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _take_line(self) -> Optional[bytes]:
        idx = self.buf.find(b"\n")
        if idx < 0:
            return None
        line = bytes(self.buf[:idx + 1])
        del self.buf[:idx + 1]
        return line

    def read_reply(self, timeout: Optional[float] = None) -> Reply:
        """Reads one complete reply. Raises ConnectionClosed, ReplyTimeout or AssertionError
        (malformed reply: bad line format, a line not ending in CRLF, mixed codes)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        lines: list[str] = []
        code: Optional[str] = None
        while True:
            raw = self._take_line()
            if raw is None:
                if self._fill(deadline):
                    continue
                partial = lines + ([self.buf.decode("utf-8", "replace")] if self.buf else [])
                if self.eof:
                    self.transcript.append(f"S: <closed> after {partial!r}")
                    raise ConnectionClosed(f"connection closed; partial reply: {partial!r}")
                self.transcript.append(f"S: <timeout> after {partial!r}")
                raise ReplyTimeout(f"no complete reply in time; partial: {partial!r}")
            if not raw.endswith(b"\r\n"):
                raise AssertionError(f"reply line not ending in CRLF: {raw!r}")
            text = raw[:-2].decode("utf-8", "surrogateescape")
            m = _REPLY_LINE.match(text)
            if not m:
                raise AssertionError(f"malformed reply line: {text!r}")
            if code is not None and m.group(1) != code:
                raise AssertionError(f"reply code changed inside a multi-line reply: {text!r}")
            code = m.group(1)
            lines.append(text)
            if m.group(2) != "-":
                reply = Reply(int(code), lines)
                self.transcript.append(f"S: {reply}")
                return reply

    def command(self, line: str | bytes, timeout: Optional[float] = None) -> Reply:
        self.send_line(line)
        return self.read_reply(timeout)

    def banner(self) -> Reply:
        return self.read_reply()

    def expect_closed(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """Waits for the server to close. Returns None if it closed with nothing more sent,
        the unexpected bytes if it sent some, and raises ReplyTimeout if it stays open."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.eof:
            if self.buf:
                return bytes(self.buf)
            if not self._fill(deadline) and not self.eof:
                raise ReplyTimeout("connection still open")
        return bytes(self.buf) if self.buf else None

    def expect_silence(self, seconds: float) -> Optional[str]:
        """None if nothing arrives (and the connection stays open) for `seconds`; otherwise
        a description of what happened."""
        if self.buf:
            return f"unread bytes {bytes(self.buf)!r}"
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._fill(deadline):
                return f"received {bytes(self.buf)!r}"
            if self.eof:
                return "connection closed"
        return None


# ----------------------------------------------------------------------------------------
# A whole relay environment


class RelayEnv:
    """gctld + one grelayd + gctl in a private temporary directory.

    Typical use: env = RelayEnv(); env.start(); up = env.upstream(...);
    svc, port = env.service(up, idle_timeout=1000); ... env.stop().
    """

    RELAY_HOSTNAME = "relay.example.com"

    def __init__(self, name: str = "it", node_id: str = "relay-it", instance: str = "default",
                 threads: int = 1, gctld_args: Optional[list[str]] = None,
                 relay_args: Optional[list[str]] = None):
        """gctld_args / relay_args: more flags for gctld / grelayd (e.g. --metrics-listen)."""
        self.workdir = make_workdir(name)
        self.gctld_args = list(gctld_args or [])
        self.relay_args = list(relay_args or [])
        self.node_id = node_id
        self.threads = threads
        self.instance = instance
        self.gctld: Optional[Gctld] = None
        self.relay: Optional[Grelayd] = None
        self.gctl: Optional[Gctl] = None
        self._upstreams: list[RecordingUpstream] = []
        self._services: list[str] = []
        self._counter = 0

    def start(self) -> "RelayEnv":
        for name in ("gctld", "grelayd", "gctl"):
            binary(name)
        self.gctld = Gctld(self.workdir, extra_args=self.gctld_args)
        self.gctld.start()
        self.gctl = Gctl(self.gctld.address)
        self.start_relay()
        return self

    def start_relay(self) -> None:
        self.relay = Grelayd(self.workdir, self.gctld.address, node_id=self.node_id,
                             instance=self.instance, threads=self.threads,
                             extra_args=self.relay_args)
        self.relay.start()

    def restart_gctld(self) -> None:
        """Starts gctld again on the same port with the same database."""
        old = self.gctld
        self.gctld = Gctld(self.workdir, db_path=old.db_path, port=old.port,
                           name=f"gctld-{int(time.time() * 1000) % 100000}",
                           extra_args=self.gctld_args)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.gctld.start()
                return
            except HarnessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def upstream(self, config: Optional[UpstreamConfig] = None, **overrides) -> RecordingUpstream:
        up = RecordingUpstream(config, **overrides).start()
        self._upstreams.append(up)
        return up

    def service(self, upstream: RecordingUpstream, *extra: str, name: Optional[str] = None,
                hostname: str = RELAY_HOSTNAME, port_timeout: float = 5.0,
                **options) -> tuple[str, int]:
        """Adds a service towards `upstream` and one tcp interface; waits until it greets.
        Returns (service name, interface port)."""
        self._counter += 1
        name = name or f"svc{self._counter}"
        self.gctl.service_add(name, LOOPBACK, upstream.port, *extra, hostname=hostname,
                              instance=self.instance, **options)
        self._services.append(name)
        port = self.interface(name, port_timeout=port_timeout)[1]
        return name, port

    def interface(self, service: str, port_timeout: float = 5.0, type_: str = "tcp",
                  extra: tuple = (),
                  ready: Optional[Callable[[int], bool]] = None) -> tuple[int, int]:
        """Adds an interface (default tcp) on a free port and waits until it greets:
        (id, port). extra: more `gctl interface add` flags; ready(port): the readiness probe
        (default: a plaintext 220 banner; an ssl interface needs a TLS probe)."""
        port = free_port()
        iface = self.gctl.interface_add(service, port, type_, LOOPBACK, *extra)
        probe = ready or banner_ok
        if not wait_until(lambda: probe(port), port_timeout, 0.02):
            raise HarnessError(f"relay port {port} (service {service}) does not greet "
                               f"{port_timeout}s after interface add; relay log:\n"
                               f"{self.relay.log_tail()}")
        return iface, port

    def drop_service(self, name: str) -> None:
        """Deletes a service and its interfaces; errors are ignored (best-effort cleanup)."""
        try:
            cp = self.gctl.run("interface", "list", name, output="json", check=False)
            for iid in re.findall(r'"id"\s*:\s*"?(\d+)', cp.stdout):
                self.gctl.interface_delete(int(iid), check=False)
            self.gctl.service_delete(name, check=False)
        except (HarnessError, subprocess.TimeoutExpired):
            pass

    def stop_upstream(self, up: RecordingUpstream) -> None:
        up.stop()
        if up in self._upstreams:
            self._upstreams.remove(up)

    def diagnostics(self) -> str:
        parts = []
        if self.relay:
            parts.append(f"--- grelayd (alive={self.relay.alive()}) log tail:\n"
                         f"{self.relay.log_tail(25)}")
        if self.gctld:
            parts.append(f"--- gctld log tail:\n{self.gctld.log_tail(10)}")
        return "\n".join(parts)

    def stop(self) -> None:
        for up in self._upstreams:
            up.stop()
        self._upstreams.clear()
        if self.relay:
            self.relay.stop()
        if self.gctld:
            self.gctld.stop()
        remove_workdir(self.workdir)


def has_bare_lf(data: bytes) -> bool:
    return re.search(rb"(?<!\r)\n", data) is not None


def has_bare_cr(data: bytes) -> bool:
    return re.search(rb"\r(?!\n)", data) is not None
