"""Policy-layer tooling for the integration tests (issue 4): gctl apply / handler / user /
audit helpers, audit records parsed from `gctl audit -o json`, decision ids read from reject
replies, secret scanning of files, and a test case base with one gctld + grelayd per class.

Python standard library, PyYAML (python3-yaml) and the harness only; run with /usr/bin/python3.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import smtplib
import subprocess
import unittest
from pathlib import Path
from typing import Callable, Iterable, Optional

from harness import (LOOPBACK, HarnessError, RecordingUpstream, RelayEnv, Reply, SmtpClient,
                     binary, parse_id, wait_until)

HOST = RelayEnv.RELAY_HOSTNAME

# The text a reject/tempfail reply ends with (PROTOCOL.md "Policy decisions"): " (decision ID)".
DECISION_RE = re.compile(r"\(decision ([0-9A-Za-z][0-9A-Za-z_.:-]*)\)\s*$")


def decision_id(reply: "Reply | str") -> Optional[str]:
    """The decision id at the end of a reject reply (last line), or None."""
    text = reply if isinstance(reply, str) else reply.lines[-1]
    m = DECISION_RE.search(text)
    return m.group(1) if m else None


def plain_blob(authcid: str, password: str, authzid: str = "") -> str:
    """AUTH PLAIN response (RFC 4616): base64(authzid NUL authcid NUL password)."""
    raw = authzid.encode() + b"\0" + authcid.encode() + b"\0" + password.encode()
    return base64.b64encode(raw).decode()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def capabilities(reply: Reply) -> dict[str, str]:
    """EHLO reply lines after the first, as {KEYWORD: rest}."""
    caps = {}
    for text in reply.texts[1:]:
        keyword, _, rest = text.partition(" ")
        caps[keyword.upper()] = rest
    return caps


def secret_forms(secret: str) -> list[str]:
    """A secret as it could leak: verbatim, base64 (with and without padding)."""
    enc = base64.b64encode(secret.encode()).decode()
    return [secret, enc, enc.rstrip("=")]


def find_secrets(data: bytes, secrets: Iterable[str]) -> list[str]:
    """The secrets (and base64 forms) that occur in data (UTF-8 and UTF-16LE both checked)."""
    found = []
    for secret in secrets:
        for form in secret_forms(secret):
            if len(form) < 6:
                continue
            if form.encode() in data or form.encode("utf-16-le") in data:
                found.append(form)
    return found


# ----------------------------------------------------------------------------------------
# gctl


def run_gctl(server: str, *args: str, stdin: Optional[str] = None, output: Optional[str] = None,
             cwd: Optional[Path] = None, global_args: Iterable[str] = (),
             timeout: float = 20.0) -> subprocess.CompletedProcess:
    """Runs gctl (no exit-code check); stdin: text fed to it (e.g. --password-stdin)."""
    argv = [binary("gctl"), "--server", server, *global_args]
    if output:
        argv += ["-o", output]
    argv += list(args)
    return subprocess.run(argv, input=stdin if stdin is not None else "", capture_output=True,
                          text=True, timeout=timeout, cwd=str(cwd) if cwd else None)


def one_error_line(cp: subprocess.CompletedProcess) -> Optional[str]:
    """None if stderr is exactly one line "gctl: error: ..."; else a description."""
    lines = [line for line in cp.stderr.splitlines() if line.strip()]
    if len(lines) != 1 or not lines[0].startswith("gctl: error: "):
        return f"stderr is not one 'gctl: error: ...' line: {cp.stderr!r}"
    return None


def json_documents(text: str) -> list:
    """The JSON value(s) in text: one document, or one per line (JSON lines)."""
    text = text.strip()
    if not text:
        return []
    try:
        return [json.loads(text)]
    except ValueError:
        pass
    docs = []
    decoder = json.JSONDecoder()
    i = 0
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        doc, i = decoder.raw_decode(text, i)
        docs.append(doc)
    return docs


def _get(d: dict, name: str, default=None):
    """A field by its proto name, also accepting the lowerCamelCase JSON name."""
    if name in d:
        return d[name]
    camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)
    return d.get(camel, default)


def _enum(value, prefix: str) -> str:
    """"SMTP_COMMAND_MAIL" / "mail" / 3 -> "mail"; "VERDICT_REJECT" -> "reject"."""
    if isinstance(value, int):
        names = {"smtp_command_": ["unspecified", "helo", "auth", "mail", "rcpt", "data"],
                 "verdict_": ["unspecified", "continue", "reject", "tempfail"]}[prefix]
        return names[value] if 0 <= value < len(names) else str(value)
    text = str(value or "").lower()
    return text[len(prefix):] if text.startswith(prefix) else text


def _int(value, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@dataclasses.dataclass
class AuditRecord:
    """One record of `gctl audit -o json`, normalised (enums lower-case without prefix)."""

    decision_id: str
    time_ms: int
    node_id: str
    session_id: str
    service: str
    interface_id: int
    client_address: str
    command: str          # helo | auth | mail | rcpt | data
    handler_id: int
    policy: str
    verdict: str          # continue | reject | tempfail
    code: int
    enhanced: str
    text: str
    latency_us: Optional[int]
    attributes: dict
    raw: dict

    @classmethod
    def parse(cls, d: dict) -> "AuditRecord":
        reply = _get(d, "reply") or {}
        latency = _get(d, "latency_us")
        return cls(decision_id=str(_get(d, "decision_id", "")),
                   time_ms=_int(_get(d, "time_ms")),
                   node_id=str(_get(d, "node_id", "") or _get(d, "node", "")),
                   session_id=str(_get(d, "session_id", "") or _get(d, "session", "")),
                   service=str(_get(d, "service", "")),
                   interface_id=_int(_get(d, "interface_id")),
                   client_address=str(_get(d, "client_address", "")),
                   command=_enum(_get(d, "command"), "smtp_command_"),
                   handler_id=_int(_get(d, "handler_id") or _get(d, "handler")),
                   policy=str(_get(d, "policy", "")),
                   verdict=_enum(_get(d, "verdict"), "verdict_"),
                   code=_int(_get(reply, "code")),
                   enhanced=str(_get(reply, "enhanced_code", "")),
                   text=str(_get(reply, "text", "")),
                   latency_us=None if latency is None else _int(latency, -1),
                   attributes=dict(_get(d, "attributes") or {}),
                   raw=d)


def parse_audit(stdout: str) -> list[AuditRecord]:
    """Records of `gctl audit -o json`: {"records": [...]}, a list, or JSON lines."""
    records = []
    for doc in json_documents(stdout):
        items = doc
        if isinstance(doc, dict):
            items = doc.get("records", None)
            if items is None:
                items = [doc] if ("decision_id" in doc or "decisionId" in doc) else []
        for item in items or []:
            if isinstance(item, dict):
                records.append(AuditRecord.parse(item))
    return records


def list_value(value) -> list[str]:
    """An attribute holding a list (smtp.rcpt.recipients): a JSON list, or text separated by
    commas / white space."""
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value or "").strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            got = json.loads(text)
            if isinstance(got, list):
                return [str(v) for v in got]
        except ValueError:
            pass
        text = text.strip("[]")
    return [part.strip().strip("<>\"'") for part in re.split(r"[,\s]+", text) if part.strip()]


# ----------------------------------------------------------------------------------------
# A test case base: one gctld + grelayd per class, policies and users set up once


class PolicyCase(unittest.TestCase):
    """One gctld + grelayd per test class. POLICIES (YAML text with a `policies:` list, maybe
    `users:`) is applied and USERS (name -> password) are added with `gctl user add
    --password-stdin` at class setup; each test adds its own upstreams and services."""

    POLICIES = ""
    USERS: dict[str, str] = {}
    RELAY_ARGS: list[str] = []  # more grelayd flags for the class's node

    env: Optional[RelayEnv] = None

    @classmethod
    def setUpClass(cls) -> None:
        cls.env = RelayEnv(cls.__name__.lower()[:20], node_id=f"relay-{cls.__name__.lower()}",
                           relay_args=cls.RELAY_ARGS)
        cls.outputs: list[str] = []
        cls.setup_error: Optional[str] = None
        try:
            cls.env.start()
        except BaseException:
            cls.env.stop()
            raise
        # Policies and users: a failure here fails only the tests that need them (see
        # need_setup), so tests without handlers still run and report.
        try:
            if cls.POLICIES:
                cls.apply_text(cls.POLICIES, "class-policies.yaml", check=True)
            for user, password in cls.USERS.items():
                cls.cls_gctl("user", "add", user, "--password-stdin", stdin=password + "\n",
                             check=True)
        except HarnessError as e:
            cls.setup_error = str(e)

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
        self.handlers_of: dict[str, list[int]] = {}  # service -> handler ids, in order

    def tearDown(self) -> None:
        for c in self._clients:
            c.close()
        for name in self._services:
            self.drop_service(name)
        for up in self._upstreams:
            self.env.stop_upstream(up)
        self.assertTrue(self.env.relay.alive(),
                        f"grelayd died (rc={self.env.relay.returncode()}):\n"
                        f"{self.env.relay.log_tail()}")

    # -- gctl
    @classmethod
    def cls_gctl(cls, *args: str, stdin: Optional[str] = None, output: Optional[str] = None,
                 check: bool = False, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
        gctl = cls.env.gctl
        cp = run_gctl(gctl.server, *args, stdin=stdin, output=output, cwd=cwd,
                      global_args=getattr(gctl, "global_args", []))
        cls.outputs += [cp.stdout, cp.stderr]
        if check and cp.returncode != 0:
            raise HarnessError(f"gctl {' '.join(args)} failed (rc={cp.returncode}): "
                               f"{cp.stderr.strip()} {cp.stdout.strip()}")
        return cp

    def gctl(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.cls_gctl(*args, **kw)

    @classmethod
    def apply_text(cls, text: str, name: str = "apply.yaml", check: bool = True,
                   flags: tuple = ()) -> subprocess.CompletedProcess:
        """Writes text to workdir/name and runs `gctl apply -f` on it (cwd = workdir)."""
        path = cls.env.workdir / name
        path.write_text(text)
        return cls.cls_gctl("apply", "-f", str(path), *flags, check=check, cwd=cls.env.workdir)

    def add_user(self, name: str, password: str) -> None:
        self.gctl("user", "add", name, "--password-stdin", stdin=password + "\n", check=True)

    def handler_add(self, service: str, command: str, policy: str,
                    address: Optional[str] = None, greeting: Optional[str] = None) -> int:
        args = ["handler", "add", service, "--command", command, "--policy", policy]
        if address is not None:
            args += ["--address", address]
        if greeting is not None:
            args += ["--greeting", greeting]
        cp = self.gctl(*args, output="json", check=True)
        found = parse_id(cp.stdout)
        if found is None:
            raise HarnessError(f"cannot read the handler id from gctl output: {cp.stdout!r}")
        return found

    def handler_ids(self, service: str) -> list[int]:
        cp = self.gctl("handler", "list", service, output="json")
        return [int(i) for i in re.findall(r'"id"\s*:\s*"?(\d+)', cp.stdout)]

    def drop_service(self, name: str) -> None:
        """Deletes a service's handlers, interfaces and the service (best effort)."""
        try:
            for hid in self.handler_ids(name):
                self.gctl("handler", "delete", str(hid))
        except (HarnessError, subprocess.TimeoutExpired):
            pass
        self.env.drop_service(name)

    def need_setup(self) -> None:
        """Fails the test if the class's policies or users could not be set up."""
        if self.setup_error:
            self.fail(f"class setup (policies/users) failed: {self.setup_error}")

    # -- building blocks
    def upstream(self, **config) -> RecordingUpstream:
        up = self.env.upstream(None, **config)
        self._upstreams.append(up)
        return up

    def service(self, up: RecordingUpstream, *flags: str,
                handlers: Iterable[tuple] = (), **options) -> tuple[str, int]:
        """Service towards `up` (gctl service add with flags/options), then its handlers
        (command, policy[, address[, greeting]]; ids in handlers_of[name]), then one tcp
        interface; waits until the interface greets, so the relay has a snapshot with the
        handlers. (name, port)."""
        if handlers:
            self.need_setup()
        self.env._counter += 1
        name = f"{type(self).__name__.lower()[:10]}{self.env._counter}"
        self.env.gctl.service_add(name, LOOPBACK, up.port, *flags, hostname=HOST,
                                  instance=self.env.instance, **options)
        self._services.append(name)
        self.handlers_of[name] = []
        for spec in handlers:
            command, policy = spec[0], spec[1]
            address = spec[2] if len(spec) > 2 else None
            greeting = spec[3] if len(spec) > 3 else None
            self.handlers_of[name].append(self.handler_add(name, command, policy, address,
                                                           greeting))
        port = self.env.interface(name)[1]
        return name, port

    def client(self, port: int, timeout: float = 5.0) -> SmtpClient:
        c = SmtpClient(port, timeout=timeout)
        self._clients.append(c)
        return c

    def session(self, port: int, helo: str = "c.example.net") -> tuple[SmtpClient, Reply]:
        c = self.client(port)
        r = c.banner()
        self.assertEqual(r.code, 220, str(r))
        ehlo = c.command(f"EHLO {helo}")
        return c, ehlo

    def smtp(self, port: int) -> smtplib.SMTP:
        return smtplib.SMTP(LOOPBACK, port, local_hostname="c.example.net", timeout=30)

    # -- audit
    def audit(self, *filters: str) -> list[AuditRecord]:
        cp = self.gctl("audit", *filters, output="json")
        if cp.returncode != 0:
            raise AssertionError(f"gctl audit {' '.join(filters)} failed (rc={cp.returncode}): "
                                 f"{cp.stderr.strip()}")
        try:
            return parse_audit(cp.stdout)
        except ValueError as e:
            raise AssertionError(f"gctl audit -o json printed no JSON ({e}): {cp.stdout[:500]!r}")

    def wait_audit(self, predicate: Callable[[list[AuditRecord]], bool], *filters: str,
                   timeout: float = 6.0) -> list[AuditRecord]:
        """Polls gctl audit (the writer works in batches) until predicate(records) holds;
        returns the last records either way."""
        got: list[list[AuditRecord]] = [[]]

        def probe() -> bool:
            got[0] = self.audit(*filters)
            return predicate(got[0])

        wait_until(probe, timeout, 0.2)
        return got[0]

    def service_audit(self, service: str, command: Optional[str] = None, count: int = 1,
                      timeout: float = 6.0) -> list[AuditRecord]:
        """The service's records (optionally of one command) once at least count exist,
        oldest first (ties in the order gctl printed them, newest first)."""
        filters = ["--service", service, "--limit", "1000"]
        if command:
            filters += ["--command", command]
        records = self.wait_audit(lambda rs: len(rs) >= count, *filters, timeout=timeout)
        return sorted(reversed(records), key=lambda r: r.time_ms)

    def diag(self, up: Optional[RecordingUpstream] = None, c: Optional[SmtpClient] = None) -> str:
        parts = []
        if c is not None:
            parts.append("--- client transcript:\n" + "\n".join(c.transcript[-40:]))
        if up is not None:
            parts.append("--- upstream:\n" + up.describe())
        parts.append(self.env.diagnostics())
        return "\n" + "\n".join(parts)
