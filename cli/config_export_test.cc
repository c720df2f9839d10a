// Tests of `gctl export`'s writer: the exact YAML of a sample document, its re-parse into
// the same document (round trip through config_document), stability, and no secrets.
#include "cli/config_export.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "cli/config_document.h"
#include "cli/gctl_test_fixture.h"

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;

constexpr const char* kCaPem = "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n";
constexpr const char* kHash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";

// A document as gctld's Export returns it: ids, times, defaults filled in, no secrets.
v1::ConfigurationDocument sample() {
  v1::ConfigurationDocument d;
  auto* ca = d.add_certificates();
  ca->set_name("corp-ca");
  ca->set_cert_pem(kCaPem);
  ca->set_subject("CN=Corp CA");
  ca->set_created_at_ms(1000);
  auto* gw = d.add_certificates();
  gw->set_name("gw-cert");
  gw->set_cert_pem(kCaPem);
  gw->set_has_key(true);
  auto* user = d.add_users();
  user->set_name("alice");
  user->set_password_hash(kHash);
  user->set_created_at_ms(2000);
  auto* allow = d.add_policies();
  allow->set_name("allow");
  allow->set_filters_yaml("- type: \"true\"\n");
  allow->set_updated_at_ms(3000);
  auto* greet = d.add_policies();
  greet->set_name("greet");
  greet->set_reply("550 5.7.1 Go away ${client.address}");
  greet->set_filters_yaml(
      "- type: set_attribute\n  attribute: smtp.helo.greeting\n  value: \"Welcome "
      "${smtp.helo.domain}\"\n- type: match\n  attribute: client.address\n  cidr: 127.0.0.0/8\n"
      "  when: {attribute: smtp.helo.domain, wildcard: \"*.internal\"}\n");
  auto* s = d.add_services();
  s->set_name("corp");
  s->set_host("smtp.example.net");
  s->set_port(587);
  s->set_security(v1::SECURITY_STARTTLS);
  s->add_trusted_cas("corp-ca");
  s->set_ciphers("DEFAULT");
  s->set_instance("default");
  s->set_tls_min_version("1.2");
  s->set_monitoring(true);
  s->set_protocol_trace(true);
  s->set_username("relay");
  s->set_has_password(true);
  s->set_no_verify_hostname(true);
  s->set_created_at_ms(4000);
  v1::Limits* l = s->mutable_limits();
  l->set_max_command_line(512);
  l->set_max_auth_line(12288);
  l->set_max_text_line(1000);
  l->set_max_message_size(10485760);  // not the default
  l->set_max_recipients(100);
  l->set_max_sessions(1000);
  l->set_max_sessions_per_client(50);
  l->set_idle_timeout_ms(60000);
  l->set_session_timeout_ms(1800000);
  l->set_data_timeout_ms(600000);
  l->set_upstream_connect_timeout_ms(30000);
  l->set_upstream_timeout_ms(300000);
  l->set_upstream_data_timeout_ms(600000);
  l->set_max_errors(20);
  l->set_max_idle_commands(50);
  l->set_decision_timeout_ms(500);  // not the default
  auto* i = s->add_interfaces();
  i->set_id(7);
  i->set_service("corp");
  i->set_type(v1::INTERFACE_TYPE_STARTTLS);
  i->set_bind_address("127.0.0.1");
  i->set_port(8026);
  i->set_cert("gw-cert");
  auto* sni = i->add_sni_certs();
  sni->set_server_name("*.example.net");
  sni->set_cert("gw-cert");
  i->set_ciphers("DEFAULT");
  i->set_tls_min_version("1.3");
  auto* h1 = s->add_handlers();
  h1->set_id(11);
  h1->set_service("corp");
  h1->set_command(v1::SMTP_COMMAND_HELO);
  h1->set_greeting("Hello ${smtp.helo.domain}");
  h1->set_policy("greet");
  auto* h2 = s->add_handlers();
  h2->set_id(12);
  h2->set_service("corp");
  h2->set_command(v1::SMTP_COMMAND_MAIL);
  h2->set_address("*@example.com");
  h2->set_policy("allow");
  auto* h3 = s->add_handlers();
  h3->set_id(13);
  h3->set_service("corp");
  h3->set_command(v1::SMTP_COMMAND_RCPT);
  h3->set_policy("allow");  // address "" means "*"
  return d;
}

constexpr const char* kExpected = R"(certificates:
  - name: corp-ca
    cert_pem: |
      -----BEGIN CERTIFICATE-----
      MIIBca
      -----END CERTIFICATE-----
  - name: gw-cert  # the private key is not exported: add key_file: FILE to restore it
    cert_pem: |
      -----BEGIN CERTIFICATE-----
      MIIBca
      -----END CERTIFICATE-----
users:
  - name: alice
    password_hash: $argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA
policies:
  - name: allow
    filters:
      - type: "true"
  - name: greet
    reply: 550 5.7.1 Go away ${client.address}
    filters:
      - type: set_attribute
        attribute: smtp.helo.greeting
        value: Welcome ${smtp.helo.domain}
      - type: match
        attribute: client.address
        cidr: 127.0.0.0/8
        when: {attribute: smtp.helo.domain, wildcard: "*.internal"}
services:
  - name: corp  # the upstream password is not exported: add password_file: FILE to restore it
    host: smtp.example.net
    port: 587
    security: starttls
    monitoring: true
    protocol_trace: true
    trusted_cas: [corp-ca]
    verify_hostname: false
    username: relay
    limits:
      max_message_size: 10485760
      decision_timeout_ms: 500
    interfaces:
      - type: starttls
        port: 8026
        cert: gw-cert
        sni_certs:
          "*.example.net": gw-cert
        tls_min_version: "1.3"
    handlers:
      - command: helo
        greeting: Hello ${smtp.helo.domain}
        policy: greet
      - command: mail
        address: "*@example.com"
        policy: allow
      - command: rcpt
        address: "*"
        policy: allow
)";

// What survives the export → apply file → parse trip: the fields an apply sets.
v1::ConfigurationDocument applied_part(v1::ConfigurationDocument d) {
  d.clear_file_name();
  for (auto& c : *d.mutable_certificates()) {
    v1::Certificate kept;
    kept.set_name(c.name());
    kept.set_cert_pem(c.cert_pem());
    c = kept;
  }
  for (auto& u : *d.mutable_users()) {
    u.clear_created_at_ms();
    u.clear_updated_at_ms();
    u.clear_source_line();
  }
  for (auto& p : *d.mutable_policies()) {
    p.clear_created_at_ms();
    p.clear_updated_at_ms();
    p.clear_source_line();
    p.set_filters_yaml(YAML::Dump(YAML::Load(p.filters_yaml())));  // same structure
  }
  for (auto& s : *d.mutable_services()) {
    s.clear_created_at_ms();
    s.clear_updated_at_ms();
    s.clear_source_line();
    s.clear_has_password();
    s.clear_declares_interfaces();
    s.clear_declares_handlers();
    if (s.ciphers() == "DEFAULT") s.clear_ciphers();
    if (s.instance() == "default") s.clear_instance();
    if (s.tls_min_version() == "1.2") s.clear_tls_min_version();
    v1::Limits only_changed;
    only_changed.set_max_message_size(s.limits().max_message_size());
    only_changed.set_decision_timeout_ms(s.limits().decision_timeout_ms());
    *s.mutable_limits() = only_changed;
    for (auto& i : *s.mutable_interfaces()) {
      i.clear_id();
      i.clear_source_line();
      if (i.bind_address() == "127.0.0.1") i.clear_bind_address();
      if (i.ciphers() == "DEFAULT") i.clear_ciphers();
    }
    for (auto& h : *s.mutable_handlers()) {
      h.clear_id();
      h.clear_created_at_ms();
      h.clear_source_line();
      if (h.command() == v1::SMTP_COMMAND_RCPT && h.address().empty()) h.set_address("*");
    }
  }
  return d;
}

TEST(ConfigExport, SampleDocumentAsYaml) {
  EXPECT_EQ(export_configuration_yaml(sample()), kExpected);
}

TEST(ConfigExport, OutputIsByteStable) {
  EXPECT_EQ(export_configuration_yaml(sample()), export_configuration_yaml(sample()));
}

TEST(ConfigExport, ReparsesIntoTheSameDocument) {
  TempDir dir;
  const v1::ConfigurationDocument parsed =
      parse_configuration(export_configuration_yaml(sample()), "export.yaml", dir.path());
  EXPECT_EQ(parsed.file_name(), "export.yaml");
  EXPECT_TRUE(parsed.services(0).declares_interfaces());
  EXPECT_TRUE(parsed.services(0).declares_handlers());
  google::protobuf::util::MessageDifferencer differ;
  std::string report;
  differ.ReportDifferencesToString(&report);
  EXPECT_TRUE(differ.Compare(applied_part(sample()), applied_part(parsed))) << report;
  // And a second export of the re-parsed document is the same text.
  v1::ConfigurationDocument again = parsed;
  again.mutable_certificates(1)->set_has_key(true);
  again.mutable_services(0)->set_has_password(true);
  EXPECT_EQ(export_configuration_yaml(again), kExpected);
}

TEST(ConfigExport, NeverPrintsKeysOrPasswords) {
  v1::ConfigurationDocument d = sample();
  d.mutable_certificates(1)->set_key_pem(
      "-----BEGIN "
      "PRIVATE KEY-----\nc2VjcmV0\n");
  d.mutable_services(0)->set_password("Upstream-Secret-9");
  d.mutable_users(0)->set_password("User-Secret-8");
  for (const std::string& text : {export_configuration_yaml(d), export_configuration_json(d)}) {
    EXPECT_EQ(text.find("PRIVATE KEY"), std::string::npos) << text;
    EXPECT_EQ(text.find("c2VjcmV0"), std::string::npos);
    EXPECT_EQ(text.find("Upstream-Secret-9"), std::string::npos);
    EXPECT_EQ(text.find("User-Secret-8"), std::string::npos);
  }
}

TEST(ConfigExport, JsonHasTheSameStructure) {
  const auto json = nlohmann::json::parse(export_configuration_json(sample()));
  EXPECT_EQ(json["policies"][0]["filters"][0]["type"], "true");
  EXPECT_EQ(json["services"][0]["port"], 587);
  EXPECT_EQ(json["services"][0]["monitoring"], true);
  EXPECT_EQ(json["services"][0]["interfaces"][0]["tls_min_version"], "1.3")
      << "1.3 is a version string here, not a number";
  EXPECT_EQ(json["services"][0]["handlers"][1]["address"], "*@example.com");
  EXPECT_EQ(json["users"][0]["password_hash"], kHash);
}

TEST(ConfigExport, PemWithoutOneFinalLineBreakStaysExact) {
  TempDir dir;
  for (const std::string pem : {"-----BEGIN CERTIFICATE-----\nMIIB", "x\n\n", "a\r\nb\r\n"}) {
    v1::ConfigurationDocument d;
    d.add_certificates()->set_name("c");
    d.mutable_certificates(0)->set_cert_pem(pem);
    const auto parsed = parse_configuration(export_configuration_yaml(d), "e.yaml", dir.path());
    EXPECT_EQ(parsed.certificates(0).cert_pem(), pem) << export_configuration_yaml(d);
  }
}

TEST(ConfigExport, DeclaredEmptyListsArePrintedSoApplyEmptiesThem) {
  // Probe round 20: a service exported without handlers left `handlers:` out, so applying
  // the export back kept a handler added since (a present list replaces the whole list).
  v1::ConfigurationDocument document;
  v1::Service* s = document.add_services();
  s->set_name("zero");
  s->set_host("mx.example.net");
  s->set_declares_interfaces(true);
  s->set_declares_handlers(true);
  const std::string text = export_configuration_yaml(document);
  EXPECT_NE(text.find("interfaces: []"), std::string::npos) << text;
  EXPECT_NE(text.find("handlers: []"), std::string::npos) << text;
  TempDir dir;
  const v1::ConfigurationDocument parsed = parse_configuration(text, "export.yaml", dir.path());
  ASSERT_EQ(parsed.services_size(), 1);
  EXPECT_TRUE(parsed.services(0).declares_interfaces());
  EXPECT_TRUE(parsed.services(0).declares_handlers());
  EXPECT_EQ(parsed.services(0).handlers_size(), 0);
  // Not declared (a document that never said): still left out.
  s->clear_declares_handlers();
  EXPECT_EQ(export_configuration_yaml(document).find("handlers"), std::string::npos);
}

TEST(ConfigExport, EmptyDocument) {
  EXPECT_EQ(export_configuration_yaml(v1::ConfigurationDocument()), "{}\n");
}

}  // namespace
}  // namespace gw::cli
