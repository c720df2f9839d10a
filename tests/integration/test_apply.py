"""Declarative configuration (issue 4, DESIGN.md §6, §8): `gctl apply -f` of a file covering
certificates, users (password_file and password_hash), every filter type of this issue,
services with interfaces and handlers; `gctl export` round trip through a fresh gctld; bad
files (unknown filter type, bad regex, missing field, YAML syntax error, unknown policy, ...)
refused with file:line and reason and nothing changed; --dry-run; policy list/show/delete
(refused while a handler uses it); handler add/list/delete; user add/list/passwd/delete
with salted hashes only. Real gctld and gctl; no relay node needed.

  cd tests/integration && GW_BIN_DIR=../../build/bin /usr/bin/python3 -m unittest -v test_apply
"""

from __future__ import annotations

import re
import subprocess
import sys
import unittest
from pathlib import Path
from typing import Optional

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (Gctld, HarnessError, binary, free_port, make_workdir,  # noqa: E402
                     parse_id, remove_workdir)
from policy_helpers import find_secrets, json_documents, one_error_line, run_gctl  # noqa: E402

OPENSSL = "/usr/bin/openssl"
ALICE_PW = "Alice-File-Pw-4242"

FULL = """\
certificates:
  - name: corp-ca
    cert_file: ca.pem
users:
  - name: alice
    password_file: alice.pw
policies:
  - name: allow
    filters:
      - type: "true"
  - name: deny
    reply: "550 5.7.1 Go away ${client.address}"
    filters:
      - type: "false"
  - name: only-example-com
    reply: "550 5.7.1 Sender ${smtp.mail.from} not allowed"
    filters:
      - type: match
        attribute: smtp.mail.from
        wildcard: "*@example.com"
  - name: check-user
    filters:
      - type: attribute_authentication
  - name: check-user-authz
    reply: "535 5.7.8 Who are you"
    filters:
      - type: attribute_authentication
        allow_authorization_id: true
  - name: greet
    filters:
      - type: set_attribute
        attribute: smtp.helo.greeting
        value: "Welcome ${smtp.helo.domain}"
      - type: match
        attribute: client.address
        cidr: 127.0.0.0/8
        when: {attribute: smtp.helo.domain, wildcard: "*.internal"}
  - name: checks
    reply: "451 4.7.1 Try ${smtp.rcpt.to} later"
    filters:
      - type: match
        attribute: smtp.rcpt.to
        regex: "^[a-z0-9.]+@example\\\\.(com|net)$"
      - type: match
        attribute: smtp.helo.domain
        equals: "bad.example"
        negate: true
      - type: set_attribute
        attribute: smtp.helo.domain
        value: "gw.${smtp.helo.domain}"
        when: {attribute: client.address, cidr: 10.0.0.0/8}
  - name: unused
    filters:
      - type: "true"
services:
  - name: corp
    host: 127.0.0.1
    port: 2525
    security: starttls
    trusted_cas: [corp-ca]
    monitoring: true
    interfaces:
      - type: tcp
        port: {port1}
    handlers:
      - command: helo
        greeting: "Hello ${smtp.helo.domain}"
        policy: greet
      - command: auth
        policy: check-user
      - command: mail
        address: "*@example.com"
        policy: allow
      - command: mail
        address: "*"
        policy: only-example-com
      - command: rcpt
        address: "*"
        policy: checks
      - command: data
        policy: allow
  - name: plain
    host: 127.0.0.1
    port: 2526
    interfaces:
      - type: tcp
        port: {port2}
    handlers:
      - command: mail
        address: "s*@example.*"
        policy: deny
"""

# The policies of FULL as written (after YAML parsing), for the export checks.
POLICY_NAMES = ["allow", "deny", "only-example-com", "check-user", "check-user-authz", "greet",
                "checks", "unused"]
HANDLERS = {
    "corp": [("helo", "", "greet", "Hello ${smtp.helo.domain}"), ("auth", "", "check-user", ""),
             ("mail", "*@example.com", "allow", ""), ("mail", "*", "only-example-com", ""),
             ("rcpt", "*", "checks", ""), ("data", "", "allow", "")],
    "plain": [("mail", "s*@example.*", "deny", "")],
}

VOLATILE = re.compile(r"^(id|source_line|created_at(_ms)?|updated_at(_ms)?|createdAtMs|"
                      r"updatedAtMs|sourceLine)$")


def normalize(node):
    """Drops ids, source lines and timestamps (they differ between two control planes)."""
    if isinstance(node, dict):
        return {k: normalize(v) for k, v in node.items() if not VOLATILE.match(str(k))}
    if isinstance(node, list):
        return [normalize(v) for v in node]
    return node


def loose_equal(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return all(k in b and loose_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(loose_equal(x, y) for x, y in zip(a, b))
    return str(a).lower() == str(b).lower()


def enum_name(value) -> str:
    text = str(value or "").lower()
    for prefix in ("smtp_command_", "interface_type_", "security_"):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


def line_of(text: str, marker: str, nth: int = 0) -> int:
    """1-based line number of the nth line containing marker."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if marker in line]
    return hits[nth]


class ApplyCase(unittest.TestCase):
    """Each test starts its own gctld(s) in a private directory holding ca.pem, gw.pem,
    gw.key and alice.pw; gctl runs with that directory as its working directory."""

    @classmethod
    def setUpClass(cls) -> None:
        binary("gctld")
        binary("gctl")
        cls.dir = make_workdir("apply")
        cls._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                     "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj",
                     "/CN=Apply Test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        cls._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                     "-nodes", "-keyout", "gw.key", "-out", "gw.pem", "-days", "30", "-subj",
                     "/CN=gw.example.test", "-addext", "subjectAltName=DNS:gw.example.test")
        (cls.dir / "alice.pw").write_text(ALICE_PW + "\n")

    @classmethod
    def _openssl(cls, *args: str) -> None:
        cp = subprocess.run([OPENSSL, *args], cwd=cls.dir, capture_output=True, text=True,
                            timeout=30)
        if cp.returncode != 0:
            raise HarnessError(f"openssl failed: {cp.stderr}")

    @classmethod
    def tearDownClass(cls) -> None:
        remove_workdir(cls.dir)

    def setUp(self) -> None:
        self._gctlds: list[Gctld] = []
        self.outputs: list[str] = []

    def tearDown(self) -> None:
        for g in self._gctlds:
            g.stop()

    def gctld(self) -> Gctld:
        n = len(self._gctlds)
        name = f"gctld-{self._testMethodName[5:25]}-{n}"
        g = Gctld(self.dir, db_path=self.dir / f"{name}.db", name=name)
        g.start()
        self._gctlds.append(g)
        return g

    def gctl(self, g: Gctld, *args: str, stdin: Optional[str] = None,
             output: Optional[str] = None) -> subprocess.CompletedProcess:
        cp = run_gctl(g.address, *args, stdin=stdin, output=output, cwd=self.dir)
        self.outputs += [cp.stdout, cp.stderr]
        return cp

    def apply(self, g: Gctld, text: str, name: str = "config.yaml", *flags: str,
              expect_ok: bool = True) -> subprocess.CompletedProcess:
        (self.dir / name).write_text(text)
        cp = self.gctl(g, "apply", "-f", name, *flags)
        if expect_ok:
            self.assertEqual(cp.returncode, 0, f"apply {name}: {cp.stderr}{cp.stdout}")
        return cp

    def export(self, g: Gctld) -> str:
        cp = self.gctl(g, "export")
        self.assertEqual(cp.returncode, 0, f"export: {cp.stderr}")
        return cp.stdout

    def full(self) -> str:
        if not hasattr(self, "_full"):
            self._full = FULL.replace("{port1}", str(free_port())) \
                             .replace("{port2}", str(free_port()))
        return self._full

    def names(self, g: Gctld, noun: str) -> list[str]:
        cp = self.gctl(g, noun, "list", output="json")
        self.assertEqual(cp.returncode, 0, f"{noun} list: {cp.stderr}")
        return re.findall(r'"name"\s*:\s*"([^"]*)"', cp.stdout)


class ApplyExportTests(ApplyCase):

    def check_export_content(self, text: str) -> dict:
        doc = yaml.safe_load(text)
        self.assertIsInstance(doc, dict, text[:500])
        written = yaml.safe_load(self.full())
        # policies: every one, filters in order with every field as written
        exported = {p["name"]: p for p in doc.get("policies") or []}
        self.assertEqual(sorted(exported), sorted(POLICY_NAMES), text[:2000])
        for policy in written["policies"]:
            got = exported[policy["name"]]
            self.assertEqual(got.get("reply") or "", policy.get("reply", ""), got)
            self.assertTrue(loose_equal(policy["filters"], got.get("filters")),
                            f"policy {policy['name']}: wrote {policy['filters']}, "
                            f"exported {got.get('filters')}")
        # users: a salted hash, never the password or the file
        users = {u["name"]: u for u in doc.get("users") or []}
        self.assertIn("alice", users)
        self.assertTrue(str(users["alice"].get("password_hash", "")).startswith("$"),
                        users["alice"])
        self.assertNotIn("password_file", users["alice"])
        self.assertFalse(users["alice"].get("password"), users["alice"])
        self.assertEqual(find_secrets(text.encode(), [ALICE_PW]), [])
        # certificates and services
        self.assertIn("corp-ca", [c["name"] for c in doc.get("certificates") or []])
        self.assertNotIn("PRIVATE KEY", text)
        services = {s["name"]: s for s in doc.get("services") or []}
        self.assertEqual(sorted(services), ["corp", "plain"])
        corp = services["corp"]
        self.assertEqual((corp.get("host"), int(corp.get("port"))), ("127.0.0.1", 2525))
        self.assertEqual(enum_name(corp.get("security")), "starttls")
        self.assertEqual(corp.get("trusted_cas"), ["corp-ca"])
        self.assertIs(corp.get("monitoring"), True)
        for name, want in HANDLERS.items():
            got = [(enum_name(h.get("command")), h.get("address") or "", h.get("policy"),
                    h.get("greeting") or "") for h in services[name].get("handlers") or []]
            # the default address "*" may be spelt out for mail/rcpt only
            self.assertEqual(got, want, f"handlers of {name}")
            self.assertEqual(len(services[name].get("interfaces") or []), 1)
        return doc

    def test_apply_then_export_round_trips(self) -> None:
        a = self.gctld()
        self.apply(a, self.full())
        first = self.export(a)
        doc1 = self.check_export_content(first)
        # The export applied to a fresh control plane gives the same export.
        b = self.gctld()
        self.apply(b, first, "export1.yaml")
        second = self.export(b)
        doc2 = yaml.safe_load(second)
        self.assertEqual(normalize(doc2), normalize(doc1),
                         f"round trip differs\n--- first:\n{first}\n--- second:\n{second}")
        # Applying the export again to the first one changes nothing, duplicates nothing.
        self.apply(a, first, "export1.yaml")
        self.assertEqual(normalize(yaml.safe_load(self.export(a))), normalize(doc1))
        self.assertEqual(first, self.export(a), "export not stable after a no-op apply")

    def test_dry_run_changes_nothing(self) -> None:
        g = self.gctld()
        self.apply(g, self.full())
        before = self.export(g)
        change = ("policies:\n  - name: extra\n    filters:\n      - type: \"true\"\n"
                  "  - name: deny\n    reply: \"550 5.7.1 Changed\"\n    filters:\n"
                  "      - type: \"false\"\n")
        cp = self.apply(g, change, "change.yaml", "--dry-run")
        self.assertIn("extra", cp.stdout + cp.stderr, "dry run reports what it would do")
        self.assertEqual(self.export(g), before, "--dry-run changed the configuration")
        self.assertNotIn("extra", self.names(g, "policy"))
        self.apply(g, change, "change.yaml")
        self.assertIn("extra", self.names(g, "policy"))
        doc = yaml.safe_load(self.export(g))
        deny = [p for p in doc["policies"] if p["name"] == "deny"][0]
        self.assertEqual(deny.get("reply"), "550 5.7.1 Changed", "apply updates by name")
        self.assertEqual(len([p for p in doc["policies"] if p["name"] == "deny"]), 1)

    def test_export_never_prints_private_keys(self) -> None:
        g = self.gctld()
        self.apply(g, "certificates:\n  - name: gw-cert\n    cert_file: gw.pem\n"
                      "    key_file: gw.key\n", "cert.yaml")
        text = self.export(g)
        self.assertIn("gw-cert", text)
        self.assertNotIn("PRIVATE KEY", text)
        key_lines = [line.strip() for line in (self.dir / "gw.key").read_text().splitlines()
                     if line.strip() and not line.startswith("-----")]
        for line in key_lines:
            self.assertNotIn(line, text)


class ExampleFileTests(ApplyCase):

    def test_deploy_example_applies_and_round_trips(self) -> None:
        """deploy/gateway.example.yaml (the README's example, every filter type) is a file
        gctld accepts as it stands, given the files it names."""
        example = Path(__file__).resolve().parents[2] / "deploy" / "gateway.example.yaml"
        (self.dir / "corp-upstream.pw").write_text("Corp-Upstream-Pw-9\n")
        text = example.read_text().replace("port: 8026", f"port: {free_port()}") \
                                  .replace("port: 8465", f"port: {free_port()}")
        g = self.gctld()
        cp = self.apply(g, text, "example.yaml")
        written = yaml.safe_load(example.read_text())
        names = sorted(p["name"] for p in written["policies"])
        self.assertEqual(sorted(self.names(g, "policy")), names, cp.stdout)
        exported = self.export(g)
        self.assertNotIn("Corp-Upstream-Pw-9", exported)
        again = self.apply(g, exported, "example-export.yaml")
        self.assertEqual(self.export(g), exported, again.stdout)


class BadFileTests(ApplyCase):
    """Each bad file first declares a valid new policy "must-not-appear": the refusal must be
    all-or-nothing. stderr: one line naming FILE:LINE and the reason; exit code 1."""

    CASES = [
        # name, text, marker lines accepted as the location, reason regex
        ("unknown-filter", """\
policies:
  - name: must-not-appear
    filters:
      - type: "true"
  - name: broken
    filters:
      - type: "true"
      - type: frobnicate
        attribute: smtp.mail.from
""", ["type: frobnicate"], r"frobnicate"),
        ("bad-regex", """\
policies:
  - name: must-not-appear
    filters:
      - type: "true"
  - name: broken
    filters:
      - type: match
        attribute: smtp.mail.from
        regex: "([a-z"
""", ["type: match", "regex:"], r"(?i)regex|regular expression|parenthes"),
        ("missing-name", """\
policies:
  - name: must-not-appear
    filters:
      - type: "true"
  - reply: "550 5.7.1 nameless"
    filters:
      - type: "false"
""", ["reply: \"550 5.7.1 nameless\""], r"(?i)name"),
        ("missing-attribute", """\
policies:
  - name: must-not-appear
    filters:
      - type: "true"
  - name: broken
    filters:
      - type: match
        wildcard: "*@example.com"
""", ["type: match"], r"(?i)attribute"),
        ("yaml-syntax", """\
policies:
  - name: must-not-appear
    filters:
      - type: "true"
    reply: "550 5.7.1 x": b
  - name: other
""", ["reply: \"550 5.7.1 x\": b"], r"."),
        ("bad-cidr", """\
policies:
  - name: must-not-appear
    filters:
      - type: "true"
  - name: broken
    filters:
      - type: match
        attribute: client.address
        cidr: 300.1.2.0/8
""", ["type: match", "cidr:"], r"(?i)cidr|300\.1\.2\.0"),
        ("unknown-policy", """\
policies:
  - name: must-not-appear
    filters:
      - type: "true"
services:
  - name: corp
    host: 127.0.0.1
    port: 2525
    handlers:
      - command: mail
        address: "*"
        policy: nope
""", ["command: mail", "policy: nope"], r"nope"),
        ("bad-command", """\
policies:
  - name: must-not-appear
    filters:
      - type: "true"
services:
  - name: corp
    host: 127.0.0.1
    port: 2525
    handlers:
      - command: quit
        policy: allow
""", ["command: quit"], r"(?i)quit|command"),
        ("missing-cert-file", """\
policies:
  - name: must-not-appear
    filters:
      - type: "true"
certificates:
  - name: lost
    cert_file: no-such-file.pem
""", ["name: lost", "cert_file: no-such-file.pem"], r"no-such-file\.pem"),
        # Probe round 41: the clash is within the file, not with a stored handler whose id
        # ("auth handler 12: delete it first") never existed outside the refused apply.
        ("two-auth-handlers", """\
policies:
  - name: must-not-appear
    filters:
      - type: "true"
services:
  - name: twice
    host: 127.0.0.1
    port: 2525
    handlers:
      - command: auth
        policy: must-not-appear
      - command: auth  # again
        policy: must-not-appear
""", ["# again"], r"repeats an earlier auth handler of this service in the file"),
        # Probe round 41: the interface the file adds is "the new interface", not an id the
        # refusal hands back.
        ("require-tls-on-tcp", """\
policies:
  - name: must-not-appear
    filters:
      - type: "true"
services:
  - name: tlsonly
    host: 127.0.0.1
    port: 2525
    require_tls: true
    interfaces:
      - type: tcp
        port: 2599
""", ["name: tlsonly"], r"requires TLS \(require_tls\) but the new interface \(.*2599\) is tcp"),
    ]

    def test_bad_files_are_refused_and_change_nothing(self) -> None:
        g = self.gctld()
        self.apply(g, self.full())
        before = self.export(g)
        for name, text, markers, reason in self.CASES:
            with self.subTest(name):
                fname = f"bad-{name}.yaml"
                lines = {line_of(text, m) for m in markers}
                cp = self.apply(g, text, fname, expect_ok=False)
                self.assertEqual(cp.returncode, 1, f"{fname}: rc {cp.returncode} {cp.stderr}")
                self.assertIsNone(one_error_line(cp), one_error_line(cp))
                m = re.search(rf"{re.escape(fname)}:(\d+)", cp.stderr)
                self.assertIsNotNone(m, f"{fname}: no FILE:LINE in {cp.stderr!r}")
                self.assertIn(int(m.group(1)), lines,
                              f"{fname}: line {m.group(1)}, expected one of {sorted(lines)}: "
                              f"{cp.stderr!r}")
                after_location = cp.stderr[m.end():]
                self.assertRegex(after_location, reason, f"{fname}: reason in {cp.stderr!r}")
                self.assertEqual(self.export(g), before, f"{fname} changed the configuration")
                self.assertNotIn("must-not-appear", self.names(g, "policy"))
        cp = self.gctl(g, "apply", "-f", "no-such-config.yaml")
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertIn("no-such-config.yaml", cp.stderr)


class KeyFileTests(ApplyCase):

    def test_gctld_refuses_to_start_without_the_key_file_of_its_secrets(self) -> None:
        """The database holds a sealed private key; its key file is lost (or replaced):
        gctld must not start, rather than publish the certificate without its key, which
        turns STARTTLS off on every node (probe round 10, DESIGN.md §7 fail safe)."""
        g = self.gctld()
        cp = self.gctl(g, "cert", "add", "gw", "--cert", "gw.pem", "--key", "gw.key")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        g.stop()
        key_file = Path(str(g.db_path) + ".key")
        original = key_file.read_bytes()
        for case, action in (("missing", lambda: key_file.unlink()),
                             ("another", lambda: key_file.write_text("ab" * 32 + "\n"))):
            with self.subTest(key_file=case):
                action()
                with self.assertRaises(HarnessError) as refused:
                    g.start()
                self.assertIn("key file does not open the secrets", str(refused.exception))
                self.assertIn("certificate \"gw\"", str(refused.exception))
        key_file.write_bytes(original)
        key_file.chmod(0o600)
        g.port = 0  # any free port
        g.start()  # the right key file: it starts and still has the key
        cp = self.gctl(g, "cert", "list", output="json")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertRegex(cp.stdout, r'"has_key"\s*:\s*true')


class PolicyHandlerUserCommandTests(ApplyCase):

    def handlers(self, g: Gctld, service: str = "") -> list[dict]:
        cp = self.gctl(g, "handler", "list", *([service] if service else []), output="json")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        out = []
        for doc in json_documents(cp.stdout):
            items = doc.get("handlers", []) if isinstance(doc, dict) else doc
            out += [h for h in items or [] if isinstance(h, dict)]
        return out

    def test_policy_list_show_delete(self) -> None:
        g = self.gctld()
        self.apply(g, self.full())
        self.assertEqual(sorted(self.names(g, "policy")), sorted(POLICY_NAMES))
        table = self.gctl(g, "policy", "list")
        self.assertEqual(table.returncode, 0, table.stderr)
        for name in POLICY_NAMES:
            self.assertIn(name, table.stdout)
        shown = self.gctl(g, "policy", "show", "greet", output="yaml")
        self.assertEqual(shown.returncode, 0, shown.stderr)
        for needle in ("set_attribute", "smtp.helo.greeting", "Welcome ${smtp.helo.domain}",
                       "127.0.0.0/8", "*.internal"):
            self.assertIn(needle, shown.stdout)
        cp = self.gctl(g, "policy", "show", "nope")
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertIsNone(one_error_line(cp))
        # In use by handlers: refused, and the message says why.
        cp = self.gctl(g, "policy", "delete", "allow")
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIsNone(one_error_line(cp))
        self.assertRegex(cp.stderr, r"(?i)handler|in use|referenc")
        self.assertIn("allow", self.names(g, "policy"))
        # Unused: deleted.
        cp = self.gctl(g, "policy", "delete", "unused")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertNotIn("unused", self.names(g, "policy"))
        self.assertNotIn("name: unused", self.export(g))
        cp = self.gctl(g, "policy", "delete", "unused")
        self.assertEqual(cp.returncode, 1, "deleting a missing policy: " + cp.stderr)
        # Once its handlers are gone, "allow" can be deleted.
        users = [h for h in self.handlers(g, "corp") if h.get("policy") == "allow"]
        self.assertEqual(len(users), 2, self.handlers(g, "corp"))
        for h in users:
            cp = self.gctl(g, "handler", "delete", str(h["id"]))
            self.assertEqual(cp.returncode, 0, cp.stderr)
        cp = self.gctl(g, "policy", "delete", "allow")
        self.assertEqual(cp.returncode, 0, cp.stderr)

    def test_handler_add_list_delete(self) -> None:
        g = self.gctld()
        self.apply(g, self.full())
        self.assertEqual(len(self.handlers(g, "corp")), 6)
        self.assertEqual(len(self.handlers(g, "plain")), 1)
        self.assertEqual(len(self.handlers(g)), 7, "handler list without SERVICE lists all")
        cp = self.gctl(g, "handler", "add", "plain", "--command", "rcpt", "--policy", "deny",
                       "--address", "*@spam.example", output="json")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        hid = parse_id(cp.stdout)
        self.assertIsNotNone(hid, cp.stdout)
        cp = self.gctl(g, "handler", "add", "plain", "--command", "helo", "--policy", "greet",
                       "--greeting", "Hi ${smtp.helo.domain}")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        listed = self.handlers(g, "plain")
        self.assertEqual(len(listed), 3, listed)
        mine = [h for h in listed if str(h.get("id")) == str(hid)]
        self.assertEqual(len(mine), 1, listed)
        self.assertEqual((enum_name(mine[0].get("command")), mine[0].get("address"),
                          mine[0].get("policy")), ("rcpt", "*@spam.example", "deny"))
        helo = [h for h in listed if enum_name(h.get("command")) == "helo"]
        self.assertEqual(helo[0].get("greeting"), "Hi ${smtp.helo.domain}")
        table = self.gctl(g, "handler", "list", "plain")
        self.assertIn("*@spam.example", table.stdout)
        # Refusals: unknown policy / service (1), bad command value (2), unknown id (1).
        for args, rc in ((["plain", "--command", "mail", "--policy", "nope"], 1),
                         (["no-such-svc", "--command", "mail", "--policy", "allow"], 1),
                         (["plain", "--command", "quit", "--policy", "allow"], 2)):
            cp = self.gctl(g, "handler", "add", *args)
            self.assertEqual(cp.returncode, rc, f"handler add {args}: {cp.stderr}")
            self.assertIsNone(one_error_line(cp))
        cp = self.gctl(g, "handler", "delete", str(hid))
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(len(self.handlers(g, "plain")), 2)
        cp = self.gctl(g, "handler", "delete", str(hid))
        self.assertEqual(cp.returncode, 1, "deleting a missing handler: " + cp.stderr)

    def test_user_commands_store_only_salted_hashes(self) -> None:
        g = self.gctld()
        carol1, carol2, same = "Carol-Pw-First-1", "Carol-Pw-Second-2", "Same-Pw-For-Both-3"
        cp = self.gctl(g, "user", "add", "carol", "--password-stdin", stdin=carol1 + "\n")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        for user in ("u1", "u2"):
            cp = self.gctl(g, "user", "add", user, "--password-stdin", stdin=same + "\n")
            self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(sorted(self.names(g, "user")), ["carol", "u1", "u2"])
        cp = self.gctl(g, "user", "add", "carol", "--password-stdin", stdin="x-other-pw\n")
        self.assertEqual(cp.returncode, 1, "duplicate user: " + cp.stderr)
        cp = self.gctl(g, "user", "add", "dave", "--password-stdin", stdin="")
        self.assertNotEqual(cp.returncode, 0, "empty password accepted")

        def hashes() -> dict:
            doc = yaml.safe_load(self.export(g)) or {}
            return {u["name"]: u.get("password_hash") for u in doc.get("users") or []}

        h1 = hashes()
        self.assertTrue(all(str(v).startswith("$") for v in h1.values()), h1)
        self.assertNotEqual(h1["u1"], h1["u2"], "same password, same hash: not salted")
        listing = self.gctl(g, "user", "list", output="json").stdout + \
            self.gctl(g, "user", "list").stdout
        for value in h1.values():
            self.assertNotIn(value, listing, "user list prints a password hash")
        cp = self.gctl(g, "user", "passwd", "carol", "--password-stdin", stdin=carol2 + "\n")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertNotEqual(hashes()["carol"], h1["carol"], "passwd did not change the hash")
        cp = self.gctl(g, "user", "passwd", "nobody", "--password-stdin", stdin="whatever-pw\n")
        self.assertEqual(cp.returncode, 1, cp.stderr)
        cp = self.gctl(g, "user", "delete", "carol")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertNotIn("carol", self.names(g, "user"))
        cp = self.gctl(g, "user", "delete", "carol")
        self.assertEqual(cp.returncode, 1, cp.stderr)
        # No password in the database files, the log or any gctl output.
        leaks = {}
        for path in self.dir.iterdir():
            if path.is_file() and path.name.startswith(g.name):
                found = find_secrets(path.read_bytes(), [carol1, carol2, same])
                if found:
                    leaks[path.name] = found
        self.assertEqual(leaks, {})
        self.assertEqual(find_secrets("".join(self.outputs).encode(), [carol1, carol2, same]),
                         [])


if __name__ == "__main__":
    unittest.main()
