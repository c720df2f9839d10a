#!/usr/bin/python3
"""Runs the SMTP dialogue scripts in tests/scripts/cases/*.smtp against a real relay.

Each script gets a fresh recording upstream, a fresh service and tcp interface on one
shared gctld + grelayd, and its own client connection(s). The format is in README.md.

  /usr/bin/python3 tests/scripts/run_scripts.py [-k GLOB] [FILE ...]
  /usr/bin/python3 -m unittest -v run_scripts      (from tests/scripts; GW_SCRIPTS=GLOB filters)
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import os
import re
import shlex
import sys
import time
import typing
import unittest
from pathlib import Path
from typing import Callable, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

import harness  # noqa: E402
from tls_helpers import add_cert, shared_pki  # noqa: E402
from harness import (ConnectionClosed, RecordingUpstream, RelayEnv, ReplyTimeout,  # noqa: E402
                     SmtpClient, UpstreamConfig)

CASES_DIR = HERE / "cases"
DEFAULT_TIMEOUT_MS = 3000
SETTLE_S = 0.3      # how long a negative upstream expectation waits before it is checked

# ----------------------------------------------------------------------------------------
# Parsing

_SIMPLE_ESCAPES = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n", "NUL": b"\0", "SP": b" ",
                   "TAB": b"\t", "LT": b"<", "GT": b">", "NOEOL": b""}
_ESCAPE = re.compile(r"<(CR|LF|CRLF|NUL|SP|TAB|LT|GT|NOEOL|x[0-9A-Fa-f]{2})>")
_REPEAT = re.compile(r"<REPEAT (\d+) ")
_EOL_MARK = re.compile(r"<(?:CR|LF|CRLF|NOEOL)>")


def expand(text: str) -> bytes:
    """Expands the escapes of README.md (no implicit line ending). REPEATs may nest; inside
    one, angle brackets must balance."""
    out = bytearray()
    i = 0
    while i < len(text):
        m = _REPEAT.match(text, i)
        if m:
            depth, k = 1, m.end()
            while k < len(text) and depth:
                depth += {"<": 1, ">": -1}.get(text[k], 0)
                k += 1
            if depth:
                raise ValueError(f"unbalanced <REPEAT ...> in {text!r}")
            out += expand(text[m.end():k - 1]) * int(m.group(1))
            i = k
            continue
        m = _ESCAPE.match(text, i)
        if m:
            name = m.group(1)
            out += bytes([int(name[1:], 16)]) if name.startswith("x") else _SIMPLE_ESCAPES[name]
            i = m.end()
            continue
        out += text[i].encode("utf-8")
        i += 1
    return bytes(out)


def client_bytes(text: str) -> bytes:
    """A C: line: CRLF is appended unless the line spells out its own line endings."""
    data = expand(text)
    return data if _EOL_MARK.search(text) else data + b"\r\n"


@dataclasses.dataclass
class Step:
    kind: str           # C S R+ R- W X T U @
    arg: str
    lineno: int
    source: str
    data: bytes = b""   # for C: the bytes of the whole write


@dataclasses.dataclass
class Script:
    path: Path
    service_args: list[str]
    upstream: UpstreamConfig
    steps: list[Step]
    description: str
    interface_type: str = "tcp"


def parse_upstream_option(config: UpstreamConfig, option: str, where: str) -> None:
    key, sep, value = option.partition("=")
    key = key.strip()
    if not sep and key in ("down", "silent", "drop_before_final", "mid_data_stall"):
        value = "yes"
    scale = 1.0
    if key.endswith("_ms"):
        key, scale = key[:-3], 0.001
    fields = {f.name: f for f in dataclasses.fields(UpstreamConfig)}
    if key not in fields:
        raise ValueError(f"{where}: unknown upstream option {key!r}")
    hints = typing.get_type_hints(UpstreamConfig)
    kind = hints[key]
    if key in ("reject_rcpt", "reject_mail"):
        pattern, bar, reply = value.partition("|")
        if not bar:
            raise ValueError(f"{where}: {key} needs GLOB|REPLY")
        getattr(config, key).append((pattern.strip(), expand(reply.strip()).decode()))
    elif key == "extra_caps":
        config.extra_caps += [c.strip() for c in value.split(",") if c.strip()]
    elif kind is bool:
        setattr(config, key, value.strip().lower() in ("1", "yes", "true", "on"))
    elif kind is float:
        setattr(config, key, float(value) * scale)
    elif kind in (int, Optional[int]):
        v = value.strip().lower()
        setattr(config, key, None if v in ("none", "no", "") else int(v))
    else:
        setattr(config, key, expand(value.strip()).decode("utf-8", "surrogateescape"))


def parse_script(path: Path) -> Script:
    service_args: list[str] = []
    interface_type = "tcp"
    upstream = UpstreamConfig()
    steps: list[Step] = []
    description: list[str] = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.name}:{lineno}"
        line = raw.rstrip("\n")
        if not line.strip():
            continue
        if line.startswith("#"):
            if not steps:
                description.append(line.lstrip("# "))
            continue
        if line.startswith("!service "):
            service_args += shlex.split(line[len("!service "):])
            continue
        if line.startswith("!interface "):
            interface_type = line[len("!interface "):].strip()
            if interface_type not in ("tcp", "starttls"):
                raise ValueError(f"{where}: !interface takes tcp or starttls")
            continue
        if line.startswith("!upstream "):
            parse_upstream_option(upstream, line[len("!upstream "):], where)
            continue
        if line.startswith("@"):
            steps.append(Step("@", line[1:].strip(), lineno, line))
            continue
        if line.startswith("C| "):
            if not steps or steps[-1].kind != "C":
                raise ValueError(f"{where}: C| must follow a C: line")
            steps[-1].data += client_bytes(line[3:])
            steps[-1].source += "\n" + line
            continue
        if line == "C|":
            steps[-1].data += b"\r\n"
            continue
        m = re.match(r"^(C|S|W|X|T|U|R\+|R-):(?: (.*))?$", line)
        if not m:
            raise ValueError(f"{where}: cannot parse {line!r}")
        kind, arg = m.group(1), m.group(2) or ""
        step = Step(kind, arg, lineno, line)
        if kind == "C":
            step.data = client_bytes(arg)
        steps.append(step)
    return Script(path, service_args, upstream, steps, " ".join(description), interface_type)


# ----------------------------------------------------------------------------------------
# Reply expectations

_CODE = re.compile(r"^([0-9x]{1,3})\*?$")
_ENH = re.compile(r"^[245x]\.[0-9x]{1,3}\.[0-9x]{1,3}$")


def match_code(pattern: str, code: int) -> bool:
    digits = str(code)
    return all(p == "x" or p == d for p, d in zip(pattern, digits))


def check_reply(spec: str, reply) -> Optional[str]:
    """None if the reply matches "CODE [ENHANCED] [TEXT-GLOB]", else why not."""
    parts = spec.split(None, 1)
    m = _CODE.match(parts[0])
    if not m:
        raise ValueError(f"bad reply pattern {spec!r}")
    code = m.group(1).ljust(3, "x")
    if parts[0].endswith("*") and len(parts) == 1:
        rest = ""
    else:
        rest = parts[1] if len(parts) > 1 else ""
    if not match_code(code, reply.code):
        return f"expected code {code}, got {reply}"
    enh_and_text = rest.split(None, 1)
    if enh_and_text and _ENH.match(enh_and_text[0]):
        want = enh_and_text[0]
        got = reply.enhanced
        if got is None or not all(w == "x" or w == g for w, g in
                                  zip(want.split("."), got.split("."))) \
                or len(want.split(".")) != len(got.split(".")):
            return f"expected enhanced code {want}, got {reply}"
        rest = enh_and_text[1] if len(enh_and_text) > 1 else ""
        text = reply.text[len(got):].lstrip(" ")
    else:
        text = reply.text
    if rest and not fnmatch.fnmatchcase(text, rest):
        return f"expected text matching {rest!r}, got {reply}"
    return None


# ----------------------------------------------------------------------------------------
# Upstream expectations

class UpstreamCheck:
    """One U: line: check() -> (ok, observation); eventual (poll) or stable (settle)."""

    EVENTUAL = ("message", "command", "command-is", "raw-contains", "closed", "greeting")
    STABLE = ("nothing", "no-connection", "no-command", "raw-lacks", "no-bare-lf", "no-bare-cr")
    BOTH = ("messages", "count", "connections")

    def __init__(self, up: RecordingUpstream, spec: str):
        self.up = up
        self.spec = spec
        verb, _, rest = spec.partition(" ")
        self.verb, self.rest = verb, rest.strip()
        if verb in self.EVENTUAL:
            self.mode = "eventual"
        elif verb in self.STABLE:
            self.mode = "stable"
        elif verb in self.BOTH:
            self.mode = "both"
        else:
            raise ValueError(f"unknown upstream expectation {spec!r}")

    def check(self) -> tuple[bool, str]:
        up, verb, rest = self.up, self.verb, self.rest
        cmds = up.command_texts()
        msgs = up.messages()
        if verb == "nothing":
            bad = [c for c in cmds if c[:4].upper() in ("MAIL", "RCPT", "DATA", "BDAT")]
            return (not bad and not msgs), f"transaction commands {bad}, {len(msgs)} messages"
        if verb == "no-connection":
            n = up.connection_count()
            return n == 0, f"{n} upstream connections"
        if verb == "connections":
            op, num = rest.split()
            n = up.connection_count()
            ok = {"==": n == int(num), "<=": n <= int(num), ">=": n >= int(num)}[op]
            return ok, f"{n} upstream connections"
        if verb == "messages":
            return len(msgs) == int(rest), f"{len(msgs)} messages stored"
        if verb == "message":
            return self._message(msgs)
        if verb == "command":
            hits = [c for c in cmds if fnmatch.fnmatchcase(c, rest)]
            return bool(hits), f"commands {cmds}"
        if verb == "command-is":
            return self.rest in cmds, f"commands {cmds}"
        if verb == "no-command":  # case-insensitive: stricter
            hits = [c for c in cmds if fnmatch.fnmatchcase(c.lower(), rest.lower())]
            return not hits, f"commands {cmds}"
        if verb == "count":  # case-insensitive
            glob, op, num = rest.rsplit(None, 2)
            n = sum(1 for c in cmds if fnmatch.fnmatchcase(c.lower(), glob.lower()))
            ok = {"==": n == int(num), "<=": n <= int(num), ">=": n >= int(num)}[op]
            return ok, f"{n} commands match {glob!r}: {cmds}"
        if verb in ("raw-contains", "raw-lacks"):
            needle = harness_expand(rest)
            found = needle in up.raw()
            return (found if verb == "raw-contains" else not found), \
                f"raw upstream input (tail) {up.raw()[-400:]!r}"
        if verb == "no-bare-lf":
            return not harness.has_bare_lf(up.raw()), f"raw upstream input {up.raw()[-400:]!r}"
        if verb == "no-bare-cr":
            return not harness.has_bare_cr(up.raw()), f"raw upstream input {up.raw()[-400:]!r}"
        if verb == "closed":
            n = up.open_connections()
            return n == 0, f"{n} upstream connections still open"
        if verb == "greeting":
            conns = up.connections()
            greet = conns[-1].greeting if conns else None
            return greet is not None and fnmatch.fnmatchcase(greet, rest), \
                f"upstream greeting {greet!r}"
        raise AssertionError(verb)

    def _message(self, msgs) -> tuple[bool, str]:
        m = re.match(r"^(\d+) (from|to|content|data|options) ?(.*)$", self.rest)
        if not m:
            raise ValueError(f"bad message expectation {self.spec!r}")
        index, what, value = int(m.group(1)), m.group(2), m.group(3)
        if len(msgs) < index:
            return False, f"only {len(msgs)} messages stored"
        msg = msgs[index - 1]
        if what == "from":
            return msg.mail_from == value.strip("<>") and value.startswith("<"), \
                f"mail from <{msg.mail_from}>"
        if what == "to":
            want = [v.strip().strip("<>") for v in value.split(",")]
            return msg.rcpt_tos == want, f"rcpt to {msg.rcpt_tos}"
        if what == "options":
            return msg.mail_options == value.split(), f"mail options {msg.mail_options}"
        if what == "content":
            want = harness_expand(value)
            return msg.content == want, f"content {msg.content[:600]!r}"
        want = harness_expand(value)
        return msg.data_raw == want, f"raw DATA {msg.data_raw[:600]!r}"

    def run(self, timeout: float) -> tuple[bool, str]:
        """Positive expectations are polled until they hold (up to timeout); negative ones
        are checked after a settle time; counts are polled, then checked again."""
        if self.mode in ("eventual", "both"):
            harness.wait_until(lambda: self.check()[0], timeout)
        if self.mode in ("stable", "both"):
            time.sleep(SETTLE_S)
        return self.check()


def harness_expand(text: str) -> bytes:
    return expand(text)


# ----------------------------------------------------------------------------------------
# Execution

class ScriptFailure(AssertionError):
    pass


class ScriptRun:
    """Runs one parsed script against an environment."""

    def __init__(self, env: RelayEnv, script: Script):
        self.env = env
        self.script = script
        self.timeout = DEFAULT_TIMEOUT_MS / 1000
        self.clients: dict[str, SmtpClient] = {}
        self.current = "main"
        self.last_reply = None
        self.log: list[str] = []
        self.up: Optional[RecordingUpstream] = None
        self.port = 0

    def fail(self, step: Step, why: str) -> None:
        time.sleep(0.2)  # let a crashing relay finish dying, so the report says so
        if not self.env.relay.alive():
            why = f"grelayd is not running any more (rc={self.env.relay.returncode()}); {why}"
        transcript = []
        for name, c in self.clients.items():
            transcript.append(f"[{name}]")
            transcript += [f"  {t}" for t in c.transcript[-30:]]
        raise ScriptFailure(
            f"{self.script.path.name}:{step.lineno}: {step.source.splitlines()[0]}\n"
            f"  {why}\n--- client transcript:\n" + "\n".join(transcript) +
            f"\n--- upstream:\n{self.up.describe() if self.up else ''}\n"
            f"{self.env.diagnostics()}")

    def client(self, step: Step) -> SmtpClient:
        if self.current not in self.clients:
            try:
                self.clients[self.current] = SmtpClient(self.port, timeout=self.timeout)
            except OSError as e:
                self.fail(step, f"cannot connect to the relay port {self.port}: {e}")
        return self.clients[self.current]

    def run(self) -> None:
        env, script = self.env, self.script
        if not env.relay.alive():
            env.start_relay()
        self.up = env.upstream(dataclasses.replace(script.upstream))
        service_name = None
        try:
            service_name = f"s-{re.sub(r'[^A-Za-z0-9]', '-', script.path.stem)}"
            if script.interface_type == "tcp":
                service_name, self.port = env.service(self.up, *script.service_args,
                                                      name=service_name)
            else:
                # A STARTTLS interface with the shared test PKI's relay certificate; the
                # script's client never starts TLS, so what it sees is the plaintext side.
                if not getattr(env, "scripts_cert", False):
                    add_cert(env.gctl, "scripts-relay", shared_pki().relay)
                    env.scripts_cert = True
                env.gctl.service_add(service_name, harness.LOOPBACK, self.up.port,
                                     *script.service_args, hostname=env.RELAY_HOSTNAME,
                                     instance=env.instance)
                self.port = env.interface(service_name, type_=script.interface_type,
                                          extra=("--cert", "scripts-relay"))[1]
            time.sleep(0.1)  # let the readiness probe session end (session caps)
            for step in script.steps:
                self.execute(step)
            for c in self.clients.values():
                c.close()
            if not env.relay.alive():
                self.fail(script.steps[-1] if script.steps else Step("", "", 0, ""),
                          f"grelayd died during the script (rc={env.relay.returncode()})")
        finally:
            for c in self.clients.values():
                c.close()
            if service_name:
                env.drop_service(service_name)
            env.stop_upstream(self.up)

    def execute(self, step: Step) -> None:
        kind, arg = step.kind, step.arg
        if kind == "@":
            self.current = arg
            self.client(step)
            return
        if kind == "T":
            self.timeout = int(arg) / 1000
            for c in self.clients.values():
                c.timeout = self.timeout
            return
        if kind == "W":
            time.sleep(int(arg) / 1000)
            return
        if kind == "X":
            c = self.client(step)
            if arg == "close":
                c.close()
                del self.clients[self.current]
            elif arg == "shutdown":
                c.shutdown_write()
            else:
                raise ValueError(f"unknown X: {arg}")
            return
        if kind == "C":
            self.client(step).send(step.data)
            return
        if kind == "S":
            self.expect_server(step)
            return
        if kind in ("R+", "R-"):
            if self.last_reply is None:
                self.fail(step, "no reply to look at")
            hit = any(fnmatch.fnmatchcase(line, arg) for line in self.last_reply.lines)
            if hit != (kind == "R+"):
                self.fail(step, f"reply lines {self.last_reply.lines}")
            return
        if kind == "U":
            ok, observed = UpstreamCheck(self.up, arg).run(self.timeout)
            if not ok:
                self.fail(step, f"upstream expectation failed: {observed}")
            return
        raise ValueError(kind)

    def expect_server(self, step: Step) -> None:
        c = self.client(step)
        arg = step.arg.strip()
        if arg == "closed":
            try:
                extra = c.expect_closed(self.timeout)
            except ReplyTimeout:
                self.fail(step, f"connection still open after {self.timeout}s")
            if extra:
                self.fail(step, f"expected the connection to close, got {extra!r}")
            return
        if arg.startswith("silent"):
            ms = int(arg.split()[1]) if len(arg.split()) > 1 else 500
            why = c.expect_silence(ms / 1000)
            if why:
                self.fail(step, f"expected no reply for {ms} ms: {why}")
            return
        try:
            reply = c.read_reply(self.timeout)
        except (ConnectionClosed, ReplyTimeout) as e:
            self.fail(step, f"expected a reply {arg!r}: {e}")
        except AssertionError as e:
            self.fail(step, f"malformed reply: {e}")
        self.last_reply = reply
        why = check_reply(arg, reply)
        if why:
            self.fail(step, why)


# ----------------------------------------------------------------------------------------
# unittest glue

def selected_scripts(patterns: Optional[list[str]] = None) -> list[Path]:
    paths = sorted(CASES_DIR.glob("*.smtp"))
    patterns = patterns or ([os.environ["GW_SCRIPTS"]] if os.environ.get("GW_SCRIPTS") else None)
    if patterns:
        paths = [p for p in paths if any(fnmatch.fnmatch(p.stem, pat) or
                                         fnmatch.fnmatch(p.name, pat) for pat in patterns)]
    return paths


class ScriptTests(unittest.TestCase):
    """One test per script file; all scripts share one gctld + grelayd."""

    env: Optional[RelayEnv] = None

    @classmethod
    def setUpClass(cls) -> None:
        cls.env = RelayEnv("scripts", node_id="relay-scripts")
        try:
            cls.env.start()
        except BaseException:
            cls.env.stop()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.env:
            cls.env.stop()

    def run_script(self, path: Path) -> None:
        script = parse_script(path)
        ScriptRun(self.env, script).run()


def _make_test(path: Path) -> Callable:
    def test(self: ScriptTests) -> None:
        self.run_script(path)
    test.__doc__ = parse_script(path).description or path.name
    return test


def _register(paths: list[Path]) -> None:
    for path in paths:
        setattr(ScriptTests, "test_" + re.sub(r"\W", "_", path.stem), _make_test(path))


_register(selected_scripts())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="patterns", action="append", help="run scripts matching GLOB")
    parser.add_argument("files", nargs="*", help="script files")
    args = parser.parse_args()
    for name in list(vars(ScriptTests)):
        if name.startswith("test_"):
            delattr(ScriptTests, name)
    paths = [Path(f).resolve() for f in args.files] or selected_scripts(args.patterns)
    _register(paths)
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(ScriptTests)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
