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
  EXPECT_EQ(print(OutputFormat::kTable, [&](Printer& p) { p.interfaces(interfaces); }),
            "ID   SERVICE   TYPE       BIND   PORT\n"
            "12   corp      starttls   ::1    8026\n");

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
