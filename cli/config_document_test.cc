// Tests of the configuration file → ConfigurationDocument conversion: every field, source
// lines, files read relative to the file, local policy compilation, and each class of error
// with its FILE:LINE.
#include "cli/config_document.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "cli/gctl_test_fixture.h"

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;

constexpr const char* kCaPem = "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n";
constexpr const char* kGwPem = "-----BEGIN CERTIFICATE-----\nMIIBgw\n-----END CERTIFICATE-----\n";
const std::string kGwKey = std::string(
    "-----BEGIN "
    "PRIVATE KEY-----\nMIGkey\n-----END PRIVATE KEY-----\n");

// Line numbers below are the 1-based lines of this text.
constexpr const char* kFull = R"(certificates:
  - name: corp-ca
    cert_file: ca.pem
  - name: gw-cert
    cert_file: certs/gw.pem
    key_file: certs/gw.key
  - name: inline-ca
    cert_pem: "-----BEGIN CERTIFICATE-----\nMIIBin\n-----END CERTIFICATE-----\n"
users:
  - name: alice
    password_file: alice.pw
  - name: bob
    password_hash: "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA"
policies:
  - name: allow
    filters:
      - type: "true"
  - name: greet
    reply: "550 5.7.1 Go away ${client.address}"
    filters:
      - type: set_attribute
        attribute: smtp.helo.greeting
        value: "Welcome ${smtp.helo.domain}"
      - type: match
        attribute: client.address
        cidr: 127.0.0.0/8
        when: {attribute: smtp.helo.domain, wildcard: "*.internal"}
  - name: empty
services:
  - name: corp
    host: smtp.example.net
    port: 587
    security: starttls
    trusted_cas: [corp-ca, system]
    client_cert: gw-cert
    ciphers: HIGH
    username: relay
    password_file: upstream.pw
    monitoring: true
    instance: edge
    fail_open: true
    protocol_trace: true
    require_tls: true
    hostname: gw.example.net
    tls_min_version: "1.3"
    verify_hostname: false
    tls_server_name: mx.example.net
    limits:
      max_message_size: 10485760
      decision_timeout_ms: 500
    interfaces:
      - type: starttls
        bind: 0.0.0.0
        port: 8026
        cert: gw-cert
        sni_certs: {mx.example.org: gw-cert, "*.example.net": corp-ca}
        client_ca: corp-ca
        ciphers: HIGH
        tls_min_version: "1.3"
      - port: 8025
    handlers:
      - command: helo
        greeting: "Hello ${smtp.helo.domain}"
        policy: greet
      - command: mail
        address: "*@example.com"
        policy: allow
      - command: data
        policy: allow
  - name: plain
    host: 127.0.0.1
)";

class ConfigDocumentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() / "certs");
    dir_.write("ca.pem", kCaPem);
    dir_.write("certs/gw.pem", kGwPem);
    dir_.write("certs/gw.key", kGwKey);
    dir_.write("alice.pw", "Alice-Pw-1\r\nsecond line ignored\n");
    dir_.write("upstream.pw", "Upstream-Pw-2\n");
  }

  v1::ConfigurationDocument parse(const std::string& text) {
    return parse_configuration(text, "conf.yaml", dir_.path());
  }

  // The ConfigFileError message for `text`, or "<no error>".
  std::string error_of(const std::string& text) {
    try {
      parse(text);
    } catch (const ConfigFileError& e) {
      return e.what();
    }
    return "<no error>";
  }

  TempDir dir_;
};

TEST_F(ConfigDocumentTest, FullFileConvertsEveryField) {
  const v1::ConfigurationDocument d = parse(kFull);
  EXPECT_EQ(d.file_name(), "conf.yaml");

  ASSERT_EQ(d.certificates_size(), 3);
  EXPECT_EQ(d.certificates(0).name(), "corp-ca");
  EXPECT_EQ(d.certificates(0).cert_pem(), kCaPem);
  EXPECT_EQ(d.certificates(0).key_pem(), "");
  EXPECT_EQ(d.certificates(0).source_line(), 2);
  EXPECT_EQ(d.certificates(1).cert_pem(), kGwPem);
  EXPECT_EQ(d.certificates(1).key_pem(), kGwKey);
  EXPECT_EQ(d.certificates(1).source_line(), 4);
  EXPECT_EQ(d.certificates(2).cert_pem(),
            "-----BEGIN CERTIFICATE-----\nMIIBin\n-----END CERTIFICATE-----\n");

  ASSERT_EQ(d.users_size(), 2);
  EXPECT_EQ(d.users(0).name(), "alice");
  EXPECT_EQ(d.users(0).password(), "Alice-Pw-1") << "first line, CRLF stripped";
  EXPECT_EQ(d.users(0).password_hash(), "");
  EXPECT_EQ(d.users(0).source_line(), 10);
  EXPECT_EQ(d.users(1).password_hash(), "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA");
  EXPECT_EQ(d.users(1).password(), "");
  EXPECT_EQ(d.users(1).source_line(), 12);

  ASSERT_EQ(d.policies_size(), 3);
  EXPECT_EQ(d.policies(0).name(), "allow");
  EXPECT_EQ(d.policies(0).reply(), "");
  EXPECT_EQ(d.policies(0).source_line(), 15);
  // "true" stays a quoted string (YAML::Dump would write the boolean true).
  EXPECT_EQ(d.policies(0).filters_yaml(), "- type: \"true\"\n");
  const v1::Policy& greet = d.policies(1);
  EXPECT_EQ(greet.reply(), "550 5.7.1 Go away ${client.address}");
  EXPECT_EQ(greet.source_line(), 18);
  const YAML::Node filters = YAML::Load(greet.filters_yaml());
  ASSERT_TRUE(filters.IsSequence());
  ASSERT_EQ(filters.size(), 2u);
  EXPECT_EQ(filters[0]["value"].as<std::string>(), "Welcome ${smtp.helo.domain}");
  EXPECT_EQ(filters[1]["cidr"].as<std::string>(), "127.0.0.0/8");
  EXPECT_EQ(filters[1]["when"]["wildcard"].as<std::string>(), "*.internal");
  EXPECT_EQ(d.policies(2).name(), "empty");
  EXPECT_EQ(d.policies(2).filters_yaml(), "") << "no filters: always passes";

  ASSERT_EQ(d.services_size(), 2);
  const v1::Service& s = d.services(0);
  EXPECT_EQ(s.source_line(), 30);
  EXPECT_EQ(s.name(), "corp");
  EXPECT_EQ(s.host(), "smtp.example.net");
  EXPECT_EQ(s.port(), 587u);
  EXPECT_EQ(s.security(), v1::SECURITY_STARTTLS);
  EXPECT_EQ(std::vector<std::string>(s.trusted_cas().begin(), s.trusted_cas().end()),
            (std::vector<std::string>{"corp-ca", "system"}));
  EXPECT_EQ(s.client_cert(), "gw-cert");
  EXPECT_EQ(s.ciphers(), "HIGH");
  EXPECT_EQ(s.username(), "relay");
  EXPECT_EQ(s.password(), "Upstream-Pw-2");
  EXPECT_TRUE(s.monitoring());
  EXPECT_TRUE(s.protocol_trace());
  EXPECT_EQ(s.instance(), "edge");
  EXPECT_TRUE(s.fail_open());
  EXPECT_FALSE(s.allow_plaintext_auth());
  EXPECT_TRUE(s.require_tls());
  EXPECT_EQ(s.hostname(), "gw.example.net");
  EXPECT_EQ(s.tls_min_version(), "1.3");
  EXPECT_TRUE(s.no_verify_hostname());
  EXPECT_EQ(s.tls_server_name(), "mx.example.net");
  EXPECT_EQ(s.limits().max_message_size(), 10485760u);
  EXPECT_EQ(s.limits().decision_timeout_ms(), 500u);
  EXPECT_EQ(s.limits().max_recipients(), 0u) << "absent limits stay 0 (server default)";
  EXPECT_TRUE(s.declares_interfaces());
  EXPECT_TRUE(s.declares_handlers());

  ASSERT_EQ(s.interfaces_size(), 2);
  const v1::Interface& i = s.interfaces(0);
  EXPECT_EQ(i.source_line(), 52);
  EXPECT_EQ(i.service(), "corp");
  EXPECT_EQ(i.type(), v1::INTERFACE_TYPE_STARTTLS);
  EXPECT_EQ(i.bind_address(), "0.0.0.0");
  EXPECT_EQ(i.port(), 8026u);
  EXPECT_EQ(i.cert(), "gw-cert");
  ASSERT_EQ(i.sni_certs_size(), 2);
  EXPECT_EQ(i.sni_certs(0).server_name(), "mx.example.org");
  EXPECT_EQ(i.sni_certs(0).cert(), "gw-cert");
  EXPECT_EQ(i.sni_certs(1).server_name(), "*.example.net");
  EXPECT_EQ(i.sni_certs(1).cert(), "corp-ca");
  EXPECT_EQ(i.client_ca(), "corp-ca");
  EXPECT_EQ(i.ciphers(), "HIGH");
  EXPECT_EQ(i.tls_min_version(), "1.3");
  EXPECT_EQ(s.interfaces(1).type(), v1::INTERFACE_TYPE_TCP) << "type defaults to tcp";
  EXPECT_EQ(s.interfaces(1).port(), 8025u);
  EXPECT_EQ(s.interfaces(1).source_line(), 60);

  ASSERT_EQ(s.handlers_size(), 3);
  EXPECT_EQ(s.handlers(0).source_line(), 62);
  EXPECT_EQ(s.handlers(0).service(), "corp");
  EXPECT_EQ(s.handlers(0).command(), v1::SMTP_COMMAND_HELO);
  EXPECT_EQ(s.handlers(0).greeting(), "Hello ${smtp.helo.domain}");
  EXPECT_EQ(s.handlers(0).policy(), "greet");
  EXPECT_EQ(s.handlers(1).command(), v1::SMTP_COMMAND_MAIL);
  EXPECT_EQ(s.handlers(1).address(), "*@example.com");
  EXPECT_EQ(s.handlers(1).source_line(), 65);
  EXPECT_EQ(s.handlers(2).command(), v1::SMTP_COMMAND_DATA);
  EXPECT_EQ(s.handlers(2).source_line(), 68);

  const v1::Service& plain = d.services(1);
  EXPECT_EQ(plain.source_line(), 70);
  EXPECT_EQ(plain.port(), 0u) << "absent: the server's default (25)";
  EXPECT_FALSE(plain.no_verify_hostname()) << "verify_hostname defaults to true";
  EXPECT_FALSE(plain.declares_interfaces()) << "no key: stored interfaces left alone";
  EXPECT_FALSE(plain.declares_handlers());
}

TEST_F(ConfigDocumentTest, EmptyListsDeclareNothingLeft) {
  const auto d = parse("services:\n  - name: a\n    host: h\n    interfaces: []\n    handlers:\n");
  ASSERT_EQ(d.services_size(), 1);
  EXPECT_TRUE(d.services(0).declares_interfaces());
  EXPECT_TRUE(d.services(0).declares_handlers());
  EXPECT_EQ(d.services(0).interfaces_size(), 0);
  EXPECT_EQ(d.services(0).handlers_size(), 0);
}

TEST_F(ConfigDocumentTest, EmptyFileIsAnEmptyDocument) {
  const auto d = parse("# nothing yet\n");
  EXPECT_EQ(d.certificates_size() + d.users_size() + d.policies_size() + d.services_size(), 0);
  EXPECT_EQ(d.file_name(), "conf.yaml");
}

TEST_F(ConfigDocumentTest, SniCertsAsAList) {
  const auto d = parse(
      "services:\n  - name: a\n    host: h\n    interfaces:\n      - port: 1\n"
      "        sni_certs:\n          - {server_name: mx.example.org, cert: c1}\n");
  const auto& i = d.services(0).interfaces(0);
  ASSERT_EQ(i.sni_certs_size(), 1);
  EXPECT_EQ(i.sni_certs(0).server_name(), "mx.example.org");
  EXPECT_EQ(i.sni_certs(0).cert(), "c1");
}

// One bad file per error class: the exact message, FILE:LINE first.
struct BadCase {
  const char* name;
  const char* text;
  const char* message;
};

const BadCase kBadCases[] = {
    {"yaml syntax",
     "policies:\n  - name: p\n    filters:\n      - type: \"true\"\n    reply: \"550 5.7.1 x\": "
     "b\n",
     "conf.yaml:5: illegal map value"},
    {"not a map", "- a\n- b\n",
     "conf.yaml:1: the file must be a map with the keys certificates, users, policies, services"},
    {"unknown top-level key", "policies: []\nservice:\n  - name: x\n",
     "conf.yaml:2: unknown key \"service\" (expected one of: certificates, users, policies, "
     "services)"},
    {"section not a list", "policies:\n  name: x\n",
     "conf.yaml:2: \"policies\" must be a list (\"- name: ...\" entries)"},
    {"entry not a map", "users:\n  - alice\n",
     "conf.yaml:2: each entry of \"users\" must be a map"},
    {"typo in a policy", "policies:\n  - name: p\n    filter:\n      - type: \"true\"\n",
     "conf.yaml:3: policy \"p\": unknown key \"filter\" (expected one of: name, reply, filters)"},
    {"duplicate key",
     "policies:\n  - name: p\n    reply: \"550 5.7.1 a\"\n    reply: \"550 5.7.1 b\"\n",
     "conf.yaml:4: policy \"p\": duplicate key \"reply\""},
    {"policy declared twice",
     "policies:\n  - name: gate\n    filters:\n      - type: \"false\"\n  - name: gate\n"
     "    filters:\n      - type: \"true\"\n",
     "conf.yaml:5: \"gate\" is declared twice in \"policies\" (first at line 2)"},
    {"service declared twice",
     "services:\n  - name: corp\n    host: 127.0.0.1\n  - name: corp\n    host: 127.0.0.2\n",
     "conf.yaml:4: \"corp\" is declared twice in \"services\" (first at line 2)"},
    {"user declared twice",
     "users:\n  - name: bob\n    password_hash: x\n  - name: bob\n    password_hash: y\n",
     "conf.yaml:4: \"bob\" is declared twice in \"users\" (first at line 2)"},
    {"missing name", "policies:\n  - name: ok\n  - reply: \"550 5.7.1 nameless\"\n",
     "conf.yaml:3: policy: missing \"name\""},
    {"unknown filter type",
     "policies:\n  - name: broken\n    filters:\n      - type: \"true\"\n      - type: "
     "frobnicate\n",
     "conf.yaml:5: policy \"broken\": filter 2: unknown filter type \"frobnicate\""},
    {"filter without attribute",
     "policies:\n  - name: broken\n    filters:\n      - type: match\n        wildcard: \"*\"\n",
     "conf.yaml:4: policy \"broken\": filter 1: a match filter needs \"attribute\""},
    {"bad reply", "policies:\n  - name: p\n    reply: \"250 fine\"\n",
     "<reply>"},  // checked separately: the compiler's wording
    {"bad security", "services:\n  - name: s\n    host: h\n    security: foo\n",
     "conf.yaml:4: service \"s\": unknown security \"foo\" (none|ssl|starttls)"},
    {"bad command",
     "services:\n  - name: corp\n    host: h\n    handlers:\n      - command: quit\n        "
     "policy: p\n",
     "conf.yaml:5: service \"corp\": handler 1: unknown command \"quit\" "
     "(helo|auth|mail|rcpt|data)"},
    {"greeting on mail",
     "services:\n  - name: s\n    host: h\n    handlers:\n      - command: mail\n"
     "        greeting: hi\n        policy: p\n",
     "conf.yaml:6: service \"s\": handler 1: \"greeting\" is only for helo handlers"},
    {"address on helo",
     "services:\n  - name: s\n    host: h\n    handlers:\n      - command: helo\n"
     "        address: \"*\"\n        policy: p\n",
     "conf.yaml:6: service \"s\": handler 1: \"address\" is only for mail and rcpt handlers"},
    {"handler without policy",
     "services:\n  - name: s\n    host: h\n    handlers:\n      - command: data\n",
     "conf.yaml:5: service \"s\": handler 1: missing \"policy\""},
    {"bad interface type",
     "services:\n  - name: s\n    host: h\n    interfaces:\n      - type: udp\n        port: 1\n",
     "conf.yaml:5: service \"s\": interface 1: unknown interface type \"udp\" (tcp|ssl|starttls)"},
    {"interface without port",
     "services:\n  - name: s\n    host: h\n    interfaces:\n      - type: tcp\n",
     "conf.yaml:5: service \"s\": interface 1: missing \"port\""},
    {"port out of range", "services:\n  - name: s\n    host: h\n    port: 70000\n",
     "conf.yaml:4: service \"s\": \"port\" must be a whole number from 1 to 65535, not \"70000\""},
    {"not a bool", "services:\n  - name: s\n    host: h\n    monitoring: maybe\n",
     "conf.yaml:4: service \"s\": \"monitoring\" must be true or false, not \"maybe\""},
    {"trusted_cas not a list", "services:\n  - name: s\n    host: h\n    trusted_cas: corp-ca\n",
     "conf.yaml:4: service \"s\": \"trusted_cas\" must be a list, e.g. trusted_cas: [a, b]"},
    {"unknown limit", "services:\n  - name: s\n    host: h\n    limits:\n      max_recipient: 5\n",
     "<limit>"},
    // Probe round 17: 0 silently became the default here while the CLI refused it.
    {"zero limit", "services:\n  - name: s\n    host: h\n    limits:\n      max_recipients: 0\n",
     "conf.yaml:5: service \"s\": limits: \"max_recipients\" must be a whole number from 1 to "
     "4294967295, not \"0\""},
    // ... and an empty address pattern became "*", catching every sender.
    {"empty address",
     "services:\n  - name: s\n    host: h\n    handlers:\n      - command: mail\n"
     "        address: \"\"\n        policy: p\n",
     "conf.yaml:6: service \"s\": handler 1: \"address\" is empty: write \"<>\" for the null "
     "sender, or leave the key out for \"*\" (every address)"},
    {"missing host", "services:\n  - name: s\n    port: 25\n",
     "conf.yaml:2: service \"s\": missing \"host\""},
    {"text expected", "services:\n  - name: s\n    host: [a, b]\n",
     "conf.yaml:3: service \"s\": \"host\" must be a text value, not a list or map"},
    {"missing cert file", "certificates:\n  - name: lost\n    cert_file: no-such-file.pem\n",
     "conf.yaml:3: certificate \"lost\": cannot read no-such-file.pem: No such file or directory"},
    {"directory as file", "certificates:\n  - name: d\n    cert_file: certs\n",
     "conf.yaml:3: certificate \"d\": cannot read certs: Is a directory"},
    {"certificate without cert", "certificates:\n  - name: c\n    key_file: certs/gw.key\n",
     "conf.yaml:2: certificate \"c\": missing \"cert_file\" (or \"cert_pem\")"},
    {"cert twice", "certificates:\n  - name: c\n    cert_file: ca.pem\n    cert_pem: x\n",
     "conf.yaml:4: certificate \"c\": give \"cert_file\" or \"cert_pem\", not both"},
    {"user with both", "users:\n  - name: u\n    password_hash: h\n    password_file: alice.pw\n",
     "conf.yaml:2: user \"u\": give exactly one of \"password_hash\" or \"password_file\""},
    {"user with neither", "users:\n  - name: u\n",
     "conf.yaml:2: user \"u\": give exactly one of \"password_hash\" or \"password_file\""},
    {"empty password file", "users:\n  - name: u\n    password_file: empty.pw\n",
     "conf.yaml:3: user \"u\": empty.pw: the first line is empty"},
    {"empty name", "users:\n  - name: \"\"\n    password_hash: h\n",
     "conf.yaml:2: user: \"name\" is empty"},
    // Probe round 15: the second document was left out silently; a Latin-1 byte reached
    // gctld and came back as INTERNAL.
    {"second document", "policies: []\n---\npolicies:\n  - name: x\n",
     "conf.yaml:3: a second YAML document (after ---): put the whole configuration in one"},
    {"not UTF-8", "policies:\n  - name: p\n    reply: \"550 5.7.1 \xff\xfe\"\n",
     "conf.yaml:3: the file is not UTF-8 text"},
};

TEST_F(ConfigDocumentTest, EachErrorNamesFileLineAndReason) {
  dir_.write("empty.pw", "\nsecond\n");
  for (const BadCase& c : kBadCases) {
    SCOPED_TRACE(c.name);
    const std::string message = error_of(c.text);
    if (std::string(c.message) == "<reply>") {
      EXPECT_EQ(message.rfind("conf.yaml:3: policy \"p\": ", 0), 0u) << message;
      EXPECT_NE(message.find("250"), std::string::npos) << message;
    } else if (std::string(c.message) == "<limit>") {
      EXPECT_EQ(
          message.rfind("conf.yaml:5: service \"s\": limits: unknown key \"max_recipient\"", 0), 0u)
          << message;
      EXPECT_NE(message.find("max_recipients"), std::string::npos) << message;
    } else {
      EXPECT_EQ(message, c.message);
    }
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line";
  }
}

// Probe round 34: YAML 1.2's escapes "\_" (U+00A0) and "\N" (U+0085) came out of yaml-cpp
// as single octets and the file was refused as "not UTF-8" (exit 2, no line); nesting
// past yaml-cpp's limit was reported as "bad file".
TEST_F(ConfigDocumentTest, YamlEscapesAndDeepNesting) {
  const auto doc = parse(
      "policies:\n  - name: p\n    reply: \"550 5.7.1 a\\_b\\Nc\"\n"
      "    filters:\n      - {type: set_attribute, attribute: smtp.helo.greeting, "
      "value: \"x\\_y\"}\n");
  ASSERT_EQ(doc.policies_size(), 1);
  EXPECT_EQ(doc.policies(0).reply(), "550 5.7.1 a\xc2\xa0" "b\xc2\x85" "c");
  EXPECT_NE(doc.policies(0).filters_yaml().find("x\xc2\xa0y"), std::string::npos)
      << doc.policies(0).filters_yaml();
  std::string deep = "policies:\n  - name: p\n    filters: ";
  deep += std::string(3000, '[') + std::string(3000, ']') + "\n";
  EXPECT_EQ(error_of(deep),
            "conf.yaml:3: nested more than 2,000 levels deep (sequences and maps)");
}

TEST_F(ConfigDocumentTest, AliasExpansionIsBounded) {
  // Probe round 39: eight levels of ten aliases (10^8 nodes in 455 octets) kept gctl busy
  // for seconds, nine for minutes, before it said anything.
  std::string bomb = "bomb:\n  x0: &a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol,lol]\n";
  for (int level = 1; level <= 9; ++level) {
    const std::string previous = "*a" + std::to_string(level - 1);
    bomb += "  x" + std::to_string(level) + ": &a" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) bomb += (i ? "," : "") + previous;
    bomb += "]\n";
  }
  bomb += "policies: []\n";
  const std::string message = error_of(bomb);
  EXPECT_NE(message.find("once its aliases (*name) are expanded"), std::string::npos) << message;
  // Aliases used as meant still work.
  const auto document = parse(
      "policies:\n  - name: a\n    filters: &f [{type: \"true\"}]\n"
      "  - name: b\n    filters: *f\n");
  EXPECT_EQ(document.policies_size(), 2);
}

TEST_F(ConfigDocumentTest, ABrokenSecondDocumentRefusesTheFile) {
  const std::string message = error_of("policies: []\n---\n[[[ : bad\n");
  EXPECT_EQ(message.rfind("conf.yaml:", 0), 0u) << message;
  // An empty document after a trailing "---" is no second configuration.
  EXPECT_EQ(parse("policies: []\n---\n").policies_size(), 0);
}

TEST_F(ConfigDocumentTest, RegexAndCidrErrorsComeFromThePolicyCompiler) {
  const std::string regex = error_of(
      "policies:\n  - name: broken\n    filters:\n      - type: match\n"
      "        attribute: smtp.mail.from\n        regex: \"([a-z\"\n");
  EXPECT_EQ(regex.rfind("conf.yaml:", 0), 0u) << regex;
  EXPECT_NE(regex.find("policy \"broken\": filter 1: "), std::string::npos) << regex;
  EXPECT_NE(regex.find("regex"), std::string::npos) << regex;
  const std::string cidr = error_of(
      "policies:\n  - name: broken\n    filters:\n      - type: match\n"
      "        attribute: client.address\n        cidr: 300.1.2.0/8\n");
  EXPECT_NE(cidr.find("300.1.2.0/8"), std::string::npos) << cidr;
  EXPECT_TRUE(cidr.rfind("conf.yaml:6: ", 0) == 0 || cidr.rfind("conf.yaml:4: ", 0) == 0) << cidr;
}

TEST_F(ConfigDocumentTest, UnreadableConfigurationFile) {
  try {
    load_configuration_file("no-such-config.yaml");
    ADD_FAILURE() << "expected ConfigFileError";
  } catch (const ConfigFileError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot read no-such-config.yaml: No such file or directory");
  }
}

TEST_F(ConfigDocumentTest, LoadReadsFilesBesideTheConfigurationFile) {
  const std::string path =
      dir_.write("site.yaml", "certificates:\n  - name: ca\n    cert_file: ca.pem\n");
  const auto d = load_configuration_file(path);
  EXPECT_EQ(d.file_name(), path);
  ASSERT_EQ(d.certificates_size(), 1);
  EXPECT_EQ(d.certificates(0).cert_pem(), kCaPem);
}

TEST_F(ConfigDocumentTest, ExampleConfigurationParses) {
  std::ifstream in(std::string(GW_CLI_TESTDATA) + "/example-policies.yaml");
  ASSERT_TRUE(in) << "cli/testdata/example-policies.yaml";
  std::stringstream text;
  text << in.rdbuf();
  dir_.write("gw.pem", kGwPem);
  dir_.write("gw.key", kGwKey);
  dir_.write("corp-upstream.pw", "Upstream-Pw-3\n");
  const auto d = parse(text.str());
  EXPECT_EQ(d.certificates_size(), 2);
  EXPECT_EQ(d.users_size(), 2);
  EXPECT_EQ(d.services_size(), 1);
  EXPECT_EQ(d.services(0).handlers_size(), 6);
  // Every filter type this build implements appears at least once.
  std::set<std::string> types;
  for (const auto& policy : d.policies()) {
    for (const auto& filter : YAML::Load(policy.filters_yaml())) {
      types.insert(filter["type"].as<std::string>());
    }
  }
  EXPECT_EQ(types, (std::set<std::string>{"true", "false", "attribute_authentication",
                                          "set_attribute", "match", "body_match", "max_size",
                                          "add_header", "remove_header"}));
}

TEST_F(ConfigDocumentTest, AByteOrderMarkIsNoPartOfAPassword) {
  dir_.write("bom.pw", "\xEF\xBB\xBFSecret-1\r\n");
  const auto d = parse("users:\n  - name: u\n    password_file: bom.pw\n");
  ASSERT_EQ(d.users_size(), 1);
  EXPECT_EQ(d.users(0).password(), "Secret-1");
}

}  // namespace
}  // namespace gw::cli
