// Tests of gctl's printers: table alignment, JSON field names, YAML, redaction of passwords.
#include "cli/printers.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <sstream>

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;

constexpr const char* kSecret = "hunter2-secret";

v1::Service sample_service() {
  v1::Service s;
  s.set_name("corp");
  s.set_host("smtp.example.net");
  s.set_port(587);
  s.set_security(v1::SECURITY_STARTTLS);
  s.set_instance("default");
  s.set_username("relay");
  s.set_password(kSecret);
  s.set_has_password(true);
  s.mutable_limits()->set_max_recipients(100);
  s.mutable_limits()->set_max_message_size(36700160);
  auto* i = s.add_interfaces();
  i->set_id(3);
  i->set_service("corp");
  i->set_type(v1::INTERFACE_TYPE_TCP);
  i->set_bind_address("127.0.0.1");
  i->set_port(2525);
  s.set_created_at_ms(1000);
  return s;
}

std::string print(OutputFormat format, const std::function<void(Printer&)>& body) {
  std::ostringstream out;
  Printer printer(out, format);
  body(printer);
  return out.str();
}

// The value on the "key:" line of a key/value listing, or "<missing>".
std::string value_of(const std::string& text, const std::string& key) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    const std::size_t value = line.find_first_not_of(' ', key.size() + 1);
    return value == std::string::npos ? "" : line.substr(value);
  }
  return "<missing>";
}

TEST(Table, AlignsColumnsWithoutTrailingBlanks) {
  Table table({"ID", "SERVICE", "PORT"});
  table.add_row({"1", "corp", "25"});
  table.add_row({"12345", "x", "2525"});
  std::ostringstream out;
  table.write(out);
  EXPECT_EQ(out.str(),
            "ID      SERVICE   PORT\n"
            "1       corp      25\n"
            "12345   x         2525\n");
}

// Probe round 34: widths counted in octets shifted every column after "bücher".
TEST(Table, ColumnsAlignByDisplayWidth) {
  Table table({"NAME", "ID"});
  table.add_row({"b\xc3\xbc" "cher", "1"});
  table.add_row({"\xe4\xb8\xad\xe6\x96\x87", "2"});  // two wide characters: 4 columns
  table.add_row({"plain", "3"});
  std::ostringstream out;
  table.write(out);
  EXPECT_EQ(out.str(),
            "NAME     ID\n"
            "b\xc3\xbc" "cher   1\n"
            "\xe4\xb8\xad\xe6\x96\x87     2\n"
            "plain    3\n");
  EXPECT_EQ(display_width("b\xc3\xbc" "cher"), 6u);
  EXPECT_EQ(display_width("\xff"), 1u);  // not UTF-8: octets
}

TEST(Table, ControlCharactersCannotBreakARow) {
  Table table({"NAME"});
  table.add_row({"a\nb\x1b[31m"});
  std::ostringstream out;
  table.write(out);
  EXPECT_EQ(out.str(), "NAME\na?b?[31m\n");
}

TEST(Table, HeaderOnlyWhenEmpty) {
  EXPECT_EQ(print(OutputFormat::kTable, [](Printer& p) { p.nodes(v1::ListNodesResponse()); }),
            "NODE   INSTANCE   CONNECTED   CONFIG_VERSION   LAST_SEEN\n");
}

TEST(ParseOutputFormat, KnowsTheThreeFormats) {
  EXPECT_EQ(parse_output_format("table"), OutputFormat::kTable);
  EXPECT_EQ(parse_output_format("json"), OutputFormat::kJson);
  EXPECT_EQ(parse_output_format("yaml"), OutputFormat::kYaml);
  EXPECT_EQ(parse_output_format("xml"), std::nullopt);
}

TEST(FormatTime, UtcIsoOrDash) {
  EXPECT_EQ(format_time_ms(0), "-");
  EXPECT_EQ(format_time_ms(1000), "1970-01-01T00:00:01Z");
  EXPECT_EQ(format_time_ms(1767323045999), "2026-01-02T03:04:05Z");
}

TEST(FormatTime, PreciseKeepsMilliseconds) {
  EXPECT_EQ(format_time_ms_precise(0), "-");
  EXPECT_EQ(format_time_ms_precise(1000), "1970-01-01T00:00:01.000Z");
  EXPECT_EQ(format_time_ms_precise(1767323045999), "2026-01-02T03:04:05.999Z");
}

TEST(ToJson, NoPasswordHashNoInputOnlyFields) {
  v1::ListUsersResponse users;
  auto* u = users.add_users();
  u->set_name("alice");
  u->set_password("pw-never-printed");
  u->set_password_hash("$argon2id$v=19$never-printed");
  u->set_source_line(12);
  const auto json = nlohmann::json::parse(to_json(users));
  EXPECT_EQ(json["users"][0]["name"], "alice");
  EXPECT_FALSE(json["users"][0].contains("password_hash"));
  EXPECT_FALSE(json["users"][0].contains("password"));
  EXPECT_FALSE(json["users"][0].contains("source_line"));
  v1::Service s;
  s.set_declares_handlers(true);
  const auto service = nlohmann::json::parse(to_json(s));
  EXPECT_FALSE(service.contains("declares_handlers"));
  EXPECT_FALSE(service.contains("declares_interfaces"));
  EXPECT_TRUE(service.contains("monitoring")) << "other defaults are still printed";
}

TEST(ClearSecrets, ClearsPasswordsAtAnyDepth) {
  v1::ListServicesResponse response;
  *response.add_services() = sample_service();
  *response.add_services() = sample_service();
  clear_secrets(response);
  for (const auto& s : response.services()) {
    EXPECT_EQ(s.password(), "");
    EXPECT_EQ(s.username(), "relay");  // only secrets go
    EXPECT_TRUE(s.has_password());
  }
}

TEST(ToJson, ProtoFieldNamesDefaultsAndNoPassword) {
  const v1::Service s = sample_service();
  const std::string text = to_json(s);
  EXPECT_EQ(text.find(kSecret), std::string::npos);
  const auto json = nlohmann::json::parse(text);
  EXPECT_EQ(json["name"], "corp");
  EXPECT_EQ(json["security"], "SECURITY_STARTTLS");
  EXPECT_EQ(json["limits"]["max_recipients"], 100);
  EXPECT_EQ(json["limits"]["max_message_size"], "36700160");  // uint64: a string in proto JSON
  EXPECT_EQ(json["fail_open"], false);                        // default values printed too
  EXPECT_EQ(json["interfaces"][0]["bind_address"], "127.0.0.1");
  EXPECT_FALSE(json.contains("maxRecipients"));
  EXPECT_FALSE(json.contains("password"));  // not even as ""
  EXPECT_EQ(json["has_password"], true);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(s.password(), kSecret);  // the caller's message is left alone
}

TEST(JsonToYaml, SameDataInOrderWithAmbiguousStringsQuoted) {
  const std::string yaml =
      json_to_yaml(R"({"name":"corp","id":"42","flag":"true","empty":"","on":true,"n":5,)"
                   R"("list":[],"obj":{},"items":[{"a":"x"}]})");
  EXPECT_LT(yaml.find("name:"), yaml.find("id:"));
  EXPECT_NE(yaml.find("id: \"42\""), std::string::npos);
  const YAML::Node node = YAML::Load(yaml);
  EXPECT_EQ(node["name"].as<std::string>(), "corp");
  EXPECT_EQ(node["id"].Tag(), "!");  // quoted: stays a string
  EXPECT_EQ(node["flag"].as<std::string>(), "true");
  EXPECT_EQ(node["flag"].Tag(), "!");
  EXPECT_EQ(node["empty"].as<std::string>(), "");
  EXPECT_TRUE(node["on"].as<bool>());
  EXPECT_EQ(node["n"].as<int>(), 5);
  EXPECT_NE(yaml.find("list: []\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("obj: {}\n"), std::string::npos) << yaml;
  EXPECT_TRUE(node["list"].IsSequence());
  EXPECT_EQ(node["list"].size(), 0u);
  EXPECT_TRUE(node["obj"].IsMap());
  EXPECT_EQ(node["items"][0]["a"].as<std::string>(), "x");
  EXPECT_THROW(json_to_yaml("{not json"), std::invalid_argument);
}

TEST(Printer, ServiceListTable) {
  v1::ListServicesResponse response;
  *response.add_services() = sample_service();
  v1::Service bare;
  bare.set_name("b");
  bare.set_host("10.0.0.1");
  bare.set_port(25);
  bare.set_instance("edge");
  *response.add_services() = bare;
  EXPECT_EQ(print(OutputFormat::kTable, [&](Printer& p) { p.services(response); }),
            "NAME   HOST               PORT   SECURITY   INSTANCE   INTERFACES\n"
            "corp   smtp.example.net   587    starttls   default    tcp/127.0.0.1:2525\n"
            "b      10.0.0.1           25     none       edge       -\n");
}

TEST(Printer, ServiceDetailListsLimitsButNeverThePassword) {
  const std::string text =
      print(OutputFormat::kTable, [](Printer& p) { p.service_detail(sample_service()); });
  EXPECT_EQ(text.find(kSecret), std::string::npos);
  EXPECT_EQ(value_of(text, "name"), "corp");
  EXPECT_EQ(value_of(text, "port"), "587");
  EXPECT_EQ(value_of(text, "security"), "starttls");
  EXPECT_EQ(value_of(text, "limits.max_recipients"), "100");
  EXPECT_EQ(value_of(text, "limits.max_message_size"), "36700160");
  EXPECT_EQ(value_of(text, "limits.max_idle_commands"), "0");
  EXPECT_EQ(value_of(text, "password"), "(set)");
  EXPECT_EQ(value_of(text, "username"), "relay");
  EXPECT_EQ(value_of(text, "interface 3"), "tcp 127.0.0.1:2525");
  EXPECT_EQ(value_of(text, "created"), "1970-01-01T00:00:01Z");
  // Every value starts in the same column.
  std::istringstream lines(text);
  std::string line;
  std::size_t column = 0;
  while (std::getline(lines, line)) {
    const std::size_t value = line.find_first_not_of(' ', line.find(':') + 1);
    if (column == 0) column = value;
    EXPECT_EQ(value, column) << line;
  }
}

TEST(Printer, PasswordNeverPrintedInAnyFormat) {
  v1::ListServicesResponse response;
  *response.add_services() = sample_service();
  for (auto format : {OutputFormat::kTable, OutputFormat::kJson, OutputFormat::kYaml}) {
    const std::string all = print(format, [&](Printer& p) {
      p.services(response);
      p.service_row(sample_service());
      p.service_detail(sample_service());
    });
    EXPECT_EQ(all.find(kSecret), std::string::npos) << all;
    if (format != OutputFormat::kTable) {
      EXPECT_EQ(all.find("\npassword:"), std::string::npos) << all;
      EXPECT_EQ(all.find(" password:"), std::string::npos) << all;
      EXPECT_EQ(all.find("\"password\""), std::string::npos) << all;
    }
  }
}

TEST(Printer, InterfaceIdTableAndJson) {
  v1::Interface interface;
  interface.set_id(7);
  interface.set_service("corp");
  interface.set_port(2525);
  EXPECT_EQ(print(OutputFormat::kTable, [&](Printer& p) { p.interface_id(interface); }), "ID\n7\n");
  const auto json = nlohmann::json::parse(
      print(OutputFormat::kJson, [&](Printer& p) { p.interface_id(interface); }));
  EXPECT_EQ(json["id"], "7");  // int64: a string in proto JSON
  EXPECT_EQ(json["type"], "INTERFACE_TYPE_UNSPECIFIED");
  EXPECT_EQ(json["port"], 2525);
}

TEST(Printer, InterfacesAndNodesTables) {
  v1::ListInterfacesResponse interfaces;
  auto* i = interfaces.add_interfaces();
  i->set_id(12);
  i->set_service("corp");
  i->set_type(v1::INTERFACE_TYPE_STARTTLS);
  i->set_bind_address("::1");
  i->set_port(8026);
  i->set_cert("gw-cert");
  i->set_client_ca("corp-ca");
  i->set_ciphers("HIGH");
  i->set_tls_min_version("1.3");
  for (const auto& [host, cert] :
       {std::pair{"mx.example.org", "org"}, std::pair{"*.example.net", "net"}}) {
    auto* sni = i->add_sni_certs();
    sni->set_server_name(host);
    sni->set_cert(cert);
  }
  auto* plain = interfaces.add_interfaces();
  plain->set_id(13);
  plain->set_service("corp");
  plain->set_type(v1::INTERFACE_TYPE_TCP);
  plain->set_bind_address("127.0.0.1");
  plain->set_port(2525);
  plain->set_ciphers("DEFAULT");
  plain->set_tls_min_version("1.2");
  EXPECT_EQ(
      print(OutputFormat::kTable, [&](Printer& p) { p.interfaces(interfaces); }),
      "ID   SERVICE   TYPE       BIND        PORT   CERT      SNI_CERTS                       "
      "       CLIENT_CA   TLS_MIN   CIPHERS\n"
      "12   corp      starttls   ::1         8026   gw-cert   mx.example.org=org,*.example.net"
      "=net   corp-ca     1.3       HIGH\n"
      "13   corp      tcp        127.0.0.1   2525   -         -                               "
      "       -           -         -\n");

  v1::ListNodesResponse nodes;
  auto* n = nodes.add_nodes();
  n->set_node_id("relay-1");
  n->set_instance("default");
  n->set_connected(true);
  n->set_config_version(4);
  n->set_last_seen_ms(1767323045000);
  EXPECT_EQ(print(OutputFormat::kTable, [&](Printer& p) { p.nodes(nodes); }),
            "NODE      INSTANCE   CONNECTED   CONFIG_VERSION   LAST_SEEN\n"
            "relay-1   default    true        4                2026-01-02T03:04:05Z\n");
}

TEST(Printer, ServiceDetailShowsTlsAndAuthSettings) {
  v1::Service s = sample_service();
  s.add_trusted_cas("system");
  s.add_trusted_cas("corp-ca");
  s.set_client_cert("client");
  s.set_ciphers("HIGH:!aNULL");
  s.set_tls_min_version("1.3");
  s.set_no_verify_hostname(true);
  s.set_tls_server_name("mx.example.net");
  s.set_require_tls(true);
  s.set_allow_plaintext_auth(true);
  auto* tls = s.add_interfaces();
  tls->set_id(4);
  tls->set_type(v1::INTERFACE_TYPE_STARTTLS);
  tls->set_bind_address("0.0.0.0");
  tls->set_port(8026);
  tls->set_cert("gw-cert");
  tls->set_client_ca("corp-ca");
  tls->set_ciphers("DEFAULT");
  tls->set_tls_min_version("1.2");
  auto* sni = tls->add_sni_certs();
  sni->set_server_name("mx.example.org");
  sni->set_cert("org");
  const std::string text = print(OutputFormat::kTable, [&](Printer& p) { p.service_detail(s); });
  EXPECT_EQ(value_of(text, "trusted_cas"), "system,corp-ca");
  EXPECT_EQ(value_of(text, "client_cert"), "client");
  EXPECT_EQ(value_of(text, "ciphers"), "HIGH:!aNULL");
  EXPECT_EQ(value_of(text, "tls_min_version"), "1.3");
  EXPECT_EQ(value_of(text, "verify_hostname"), "false");
  EXPECT_EQ(value_of(text, "tls_server_name"), "mx.example.net");
  EXPECT_EQ(value_of(text, "require_tls"), "true");
  EXPECT_EQ(value_of(text, "allow_plaintext_auth"), "true");
  EXPECT_EQ(value_of(text, "password"), "(set)");
  EXPECT_EQ(value_of(text, "interface 4"),
            "starttls 0.0.0.0:8026 cert=gw-cert sni=mx.example.org=org client_ca=corp-ca "
            "tls_min_version=1.2 ciphers=DEFAULT");
  EXPECT_EQ(value_of(text, "interface 3"), "tcp 127.0.0.1:2525");
  EXPECT_EQ(text.find(kSecret), std::string::npos);

  const auto json =
      nlohmann::json::parse(print(OutputFormat::kJson, [&](Printer& p) { p.service_detail(s); }));
  EXPECT_EQ(json["trusted_cas"][1], "corp-ca");
  EXPECT_EQ(json["no_verify_hostname"], true);
  EXPECT_EQ(json["tls_server_name"], "mx.example.net");
  EXPECT_EQ(json["interfaces"][1]["sni_certs"][0]["server_name"], "mx.example.org");
  EXPECT_EQ(json["interfaces"][1]["client_ca"], "corp-ca");
}

constexpr const char* kKeySecret = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49-key-secret";

v1::Certificate sample_certificate() {
  v1::Certificate c;
  c.set_name("gw-cert");
  c.set_cert_pem("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  c.set_key_pem(std::string("-----BEGIN "
                            "PRIVATE KEY-----\n") +
                kKeySecret +
                "\n-----END PRIVATE KEY-----\n");  // a server must never send it; if it does
  c.set_has_key(true);
  c.set_subject("CN=localhost,O=gw test");
  c.set_issuer("CN=Corp CA,O=gw test");
  c.add_subject_alt_names("DNS:localhost");
  c.add_subject_alt_names("IP:127.0.0.1");
  c.set_not_before_ms(1767225600000);
  c.set_not_after_ms(1798761600000);
  c.set_fingerprint_sha256("AB:CD:EF");
  c.set_created_at_ms(1767323045000);
  return c;
}

TEST(Printer, CertificateTablesAndDetail) {
  v1::ListCertificatesResponse response;
  *response.add_certificates() = sample_certificate();
  v1::Certificate ca;
  ca.set_name("corp-ca");
  ca.set_subject("CN=Corp CA,O=gw test");
  ca.set_not_after_ms(1798761600000);
  *response.add_certificates() = ca;
  EXPECT_EQ(print(OutputFormat::kTable, [&](Printer& p) { p.certificates(response); }),
            "NAME      SUBJECT                  NOT_AFTER              HAS_KEY\n"
            "gw-cert   CN=localhost,O=gw test   2027-01-01T00:00:00Z   true\n"
            "corp-ca   CN=Corp CA,O=gw test     2027-01-01T00:00:00Z   false\n");
  EXPECT_EQ(
      print(OutputFormat::kTable, [&](Printer& p) { p.certificate_row(sample_certificate()); }),
      "NAME      SUBJECT                  NOT_AFTER              HAS_KEY\n"
      "gw-cert   CN=localhost,O=gw test   2027-01-01T00:00:00Z   true\n");

  const std::string text =
      print(OutputFormat::kTable, [](Printer& p) { p.certificate_detail(sample_certificate()); });
  EXPECT_EQ(value_of(text, "name"), "gw-cert");
  EXPECT_EQ(value_of(text, "subject"), "CN=localhost,O=gw test");
  EXPECT_EQ(value_of(text, "issuer"), "CN=Corp CA,O=gw test");
  EXPECT_EQ(value_of(text, "subject_alt_names"), "DNS:localhost,IP:127.0.0.1");
  EXPECT_EQ(value_of(text, "not_before"), "2026-01-01T00:00:00Z");
  EXPECT_EQ(value_of(text, "not_after"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(value_of(text, "fingerprint_sha256"), "AB:CD:EF");
  EXPECT_EQ(value_of(text, "has_key"), "true");
  EXPECT_EQ(text.find("BEGIN"), std::string::npos) << "no PEM in the table view";
}

TEST(Printer, PrivateKeyNeverPrintedInAnyFormat) {
  v1::ListCertificatesResponse response;
  *response.add_certificates() = sample_certificate();
  for (auto format : {OutputFormat::kTable, OutputFormat::kJson, OutputFormat::kYaml}) {
    const std::string all = print(format, [&](Printer& p) {
      p.certificates(response);
      p.certificate_row(sample_certificate());
      p.certificate_detail(sample_certificate());
    });
    EXPECT_EQ(all.find(kKeySecret), std::string::npos) << all;
    EXPECT_EQ(all.find("PRIVATE KEY"), std::string::npos) << all;
    EXPECT_EQ(all.find("key_pem"), std::string::npos) << all;
  }
  const auto json = nlohmann::json::parse(
      print(OutputFormat::kJson, [](Printer& p) { p.certificate_detail(sample_certificate()); }));
  EXPECT_EQ(json["cert_pem"], sample_certificate().cert_pem()) << "the chain is public";
  EXPECT_EQ(json["has_key"], true);
  EXPECT_EQ(json["subject_alt_names"][1], "IP:127.0.0.1");
}

TEST(Printer, DeletedTableAndJson) {
  const v1::DeleteServiceResponse empty;
  EXPECT_EQ(print(OutputFormat::kTable, [&](Printer& p) { p.deleted("service corp", empty); }),
            "deleted service corp\n");
  EXPECT_EQ(print(OutputFormat::kJson, [&](Printer& p) { p.deleted("service corp", empty); }),
            "{}\n");
  EXPECT_EQ(print(OutputFormat::kYaml, [&](Printer& p) { p.deleted("service corp", empty); }),
            "{}\n");
}

}  // namespace
}  // namespace gw::cli
