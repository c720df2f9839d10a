// gctl output: tables, protobuf JSON and YAML; secrets are cleared before printing.
#include "cli/printers.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>
#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <uniwidth.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <stdexcept>

#include "cli/enum_names.h"
#include "cli/yaml_text.h"
#include "common/printable_line.h"

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

constexpr std::string_view kColumnGap = "   ";
// Upstream and user passwords, password hashes and private keys (config.proto,
// policy.proto); matched by field name at any depth. `gctl export` prints hashes through
// its own writer (config_export.h), never through these printers.
constexpr std::string_view kSecretFieldNames[] = {"password", "key_pem", "password_hash"};
// Fields that only carry input to the server (applied documents); printed they are noise.
constexpr std::string_view kInputOnlyFieldNames[] = {"source_line", "declares_interfaces",
                                                     "declares_handlers"};

// Control characters (C0, DEL, C1, line separators), bidirectional overrides and broken
// UTF-8 become '?': a cell is one line that cannot rearrange the rest of the row.
std::string printable(std::string_view cell) {
  return common::printable_line(cell, std::string_view::npos);
}

std::string or_dash(const std::string& value) { return value.empty() ? "-" : value; }

std::string bool_name(bool value) { return value ? "true" : "false"; }

// "tcp 127.0.0.1:2525" — IPv6 bind addresses get brackets so the port stays readable.
std::string endpoint(const v1::Interface& interface) {
  const std::string& bind = interface.bind_address();
  const bool v6 = bind.find(':') != std::string::npos;
  return (v6 ? "[" + bind + "]" : bind) + ":" + std::to_string(interface.port());
}

// "mx.example.org=org-cert,*.example.net=net-cert" or "-".
std::string sni_cell(const v1::Interface& interface) {
  std::string cell;
  for (const auto& sni : interface.sni_certs()) {
    if (!cell.empty()) cell += ",";
    cell += sni.server_name() + "=" + sni.cert();
  }
  return or_dash(cell);
}

std::string joined(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return or_dash(out);
}

bool is_tls(const v1::Interface& interface) {
  return interface.type() == v1::INTERFACE_TYPE_SSL ||
         interface.type() == v1::INTERFACE_TYPE_STARTTLS;
}

// The one-line summary of an interface in `service show`.
std::string interface_summary(const v1::Interface& interface) {
  std::string text = interface_type_name(interface.type()) + " " + endpoint(interface);
  if (!interface.cert().empty()) text += " cert=" + interface.cert();
  if (interface.sni_certs_size() > 0) text += " sni=" + sni_cell(interface);
  if (!interface.client_ca().empty()) text += " client_ca=" + interface.client_ca();
  if (is_tls(interface)) {
    text += " tls_min_version=" + or_dash(interface.tls_min_version()) +
            " ciphers=" + or_dash(interface.ciphers());
  }
  return text;
}

std::string interfaces_cell(const v1::Service& service) {
  std::string cell;
  for (const auto& interface : service.interfaces()) {
    if (!cell.empty()) cell += ",";
    cell += interface_type_name(interface.type()) + "/" + endpoint(interface);
  }
  return or_dash(cell);
}

template <typename M>
M redacted(const M& message) {
  M copy = message;
  clear_secrets(copy);
  return copy;
}

bool is_secret_name(std::string_view name) {
  return std::find(std::begin(kSecretFieldNames), std::end(kSecretFieldNames), name) !=
         std::end(kSecretFieldNames);
}

bool is_secret(const FieldDescriptor& field) {
  return field.type() == FieldDescriptor::TYPE_STRING && is_secret_name(field.name());
}

bool is_input_only_name(std::string_view name) {
  return std::find(std::begin(kInputOnlyFieldNames), std::end(kInputOnlyFieldNames), name) !=
         std::end(kInputOnlyFieldNames);
}

// Drops secret keys from protobuf JSON: a cleared field would still print as "password": "".
// Input-only keys go too.
void erase_secret_keys(nlohmann::ordered_json& value) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end();) {
      if (is_secret_name(it.key()) || is_input_only_name(it.key())) {
        it = value.erase(it);
      } else {
        erase_secret_keys(*it);
        ++it;
      }
    }
  } else if (value.is_array()) {
    for (auto& item : value) erase_secret_keys(item);
  }
}

void emit_yaml(YAML::Emitter& out, const nlohmann::ordered_json& value) {
  switch (value.type()) {
    case nlohmann::ordered_json::value_t::object:
      if (value.empty()) out << YAML::Flow;  // "key: {}" on one line
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key;
        if (yaml_needs_quotes(key)) out << YAML::DoubleQuoted;
        out << key << YAML::Value;
        emit_yaml(out, item);
      }
      out << YAML::EndMap;
      break;
    case nlohmann::ordered_json::value_t::array:
      if (value.empty()) out << YAML::Flow;  // "key: []" on one line
      out << YAML::BeginSeq;
      for (const auto& item : value) emit_yaml(out, item);
      out << YAML::EndSeq;
      break;
    case nlohmann::ordered_json::value_t::string: {
      const auto& s = value.get_ref<const std::string&>();
      if (yaml_needs_quotes(s)) out << YAML::DoubleQuoted;
      out << s;
      break;
    }
    case nlohmann::ordered_json::value_t::boolean:
      out << value.get<bool>();
      break;
    case nlohmann::ordered_json::value_t::null:
      out << YAML::Null;
      break;
    default:  // numbers: keep JSON's spelling ("1e+20", "0.5")
      out << value.dump();
      break;
  }
}

}  // namespace

std::optional<OutputFormat> parse_output_format(std::string_view name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "json") return OutputFormat::kJson;
  if (name == "yaml") return OutputFormat::kYaml;
  return std::nullopt;
}

Table::Table(std::vector<std::string> headers) { rows_.push_back(std::move(headers)); }

void Table::add_row(std::vector<std::string> cells) {
  if (cells.size() != rows_.front().size()) {
    std::fprintf(stderr, "gctl: internal error: table row has %zu cells, header has %zu\n",
                 cells.size(), rows_.front().size());
    std::abort();
  }
  for (auto& cell : cells) cell = printable(cell);
  rows_.push_back(std::move(cells));
}

std::size_t display_width(std::string_view text) {
  if (std::all_of(text.begin(), text.end(), [](char c) { return (c & 0x80) == 0; })) {
    return text.size();
  }
  if (!common::is_valid_utf8(text)) return text.size();
  return static_cast<std::size_t>(
      u8_width(reinterpret_cast<const std::uint8_t*>(text.data()), text.size(), "UTF-8"));
}

void Table::write(std::ostream& out) const {
  const std::size_t columns = rows_.front().size();
  std::vector<std::size_t> widths(columns, 0);
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < columns; ++i) {
      widths[i] = std::max(widths[i], display_width(row[i]));
    }
  }
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < columns; ++i) {
      line += row[i];
      if (i + 1 < columns) {
        line.append(widths[i] - display_width(row[i]), ' ').append(kColumnGap);
      }
    }
    out << line << '\n';
  }
}

void clear_secrets(Message& message) {
  const auto* descriptor = message.GetDescriptor();
  const auto* reflection = message.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (is_secret(*field)) {
      reflection->ClearField(&message, field);
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int j = 0; j < reflection->FieldSize(message, field); ++j) {
          clear_secrets(*reflection->MutableRepeatedMessage(&message, field, j));
        }
      } else if (reflection->HasField(message, field)) {
        clear_secrets(*reflection->MutableMessage(&message, field));
      }
    }
  }
}

std::string to_json(const Message& message) {
  std::unique_ptr<Message> copy(message.New());
  copy->CopyFrom(message);
  clear_secrets(*copy);
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string compact;
  const auto status = google::protobuf::util::MessageToJsonString(*copy, &compact, options);
  if (!status.ok()) throw std::runtime_error("cannot print JSON: " + status.ToString());
  // Re-indented by nlohmann (two spaces; protobuf's own indentation is one space), with the
  // secret keys removed. Key order is kept.
  auto value = nlohmann::ordered_json::parse(compact);
  erase_secret_keys(value);
  return value.dump(2, ' ', /*ensure_ascii=*/false,
                    nlohmann::ordered_json::error_handler_t::replace) +
         "\n";
}

std::string json_to_yaml(std::string_view json) {
  const auto value = nlohmann::ordered_json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) throw std::invalid_argument("not valid JSON");
  YAML::Emitter emitter;
  emit_yaml(emitter, value);
  if (!emitter.good()) throw std::runtime_error("cannot print YAML: " + emitter.GetLastError());
  return yaml_escape_del(std::string(emitter.c_str())) + "\n";
}

std::string format_time_ms(std::int64_t unix_ms) {
  if (unix_ms <= 0) return "-";
  const auto seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  if (gmtime_r(&seconds, &tm) == nullptr) return "-";
  char buffer[32];
  const std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return n == 0 ? "-" : std::string(buffer, n);
}

std::string format_time_ms_precise(std::int64_t unix_ms) {
  std::string text = format_time_ms(unix_ms);
  if (text == "-") return text;
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03d", static_cast<int>(unix_ms % 1000));
  text.insert(text.size() - 1, millis);  // before the "Z"
  return text;
}

bool Printer::structured(const Message& message) {
  switch (format_) {
    case OutputFormat::kJson:
      out_ << to_json(message);
      return true;
    case OutputFormat::kYaml:
      out_ << json_to_yaml(to_json(message));
      return true;
    case OutputFormat::kTable:
      break;
  }
  return false;
}

namespace {

Table services_table() {
  return Table({"NAME", "HOST", "PORT", "SECURITY", "INSTANCE", "INTERFACES"});
}

void add_service_row(Table& table, const v1::Service& s) {
  table.add_row({s.name(), s.host(), std::to_string(s.port()), security_name(s.security()),
                 s.instance(), interfaces_cell(s)});
}

}  // namespace

void Printer::services(const v1::ListServicesResponse& response) {
  if (structured(response)) return;
  Table table = services_table();
  for (const auto& s : response.services()) add_service_row(table, s);
  table.write(out_);
}

void Printer::service_row(const v1::Service& service) {
  if (structured(service)) return;
  Table table = services_table();
  add_service_row(table, service);
  table.write(out_);
}

void write_key_values(std::ostream& out,
                      const std::vector<std::pair<std::string, std::string>>& lines) {
  std::size_t width = 0;
  for (const auto& [key, value] : lines) width = std::max(width, display_width(key) + 1);
  for (const auto& [key, value] : lines) {
    std::string line = key + ":";
    line.append(width - display_width(line), ' ').append(kColumnGap).append(printable(value));
    out << line << '\n';
  }
}

void Printer::service_detail(const v1::Service& service) {
  if (structured(service)) return;
  const v1::Service s = redacted(service);
  std::vector<std::pair<std::string, std::string>> lines = {
      {"name", s.name()},
      {"host", s.host()},
      {"port", std::to_string(s.port())},
      {"security", security_name(s.security())},
      {"instance", s.instance()},
      {"hostname", or_dash(s.hostname())},
      {"monitoring", bool_name(s.monitoring())},
      {"protocol_trace", bool_name(s.protocol_trace())},
      {"fail_open", bool_name(s.fail_open())},
      {"allow_plaintext_auth", bool_name(s.allow_plaintext_auth())},
      {"require_tls", bool_name(s.require_tls())},
      {"trusted_cas", joined(s.trusted_cas())},
      {"client_cert", or_dash(s.client_cert())},
      {"ciphers", or_dash(s.ciphers())},
      {"tls_min_version", or_dash(s.tls_min_version())},
      {"verify_hostname", bool_name(!s.no_verify_hostname())},
      {"tls_server_name", or_dash(s.tls_server_name())},
      {"username", or_dash(s.username())},
      {"password", s.has_password() ? "(set)" : "-"},
  };

  // Limits by reflection, so a field added to config.proto shows up without a change here.
  const auto& limits = s.limits();
  const auto* descriptor = limits.GetDescriptor();
  const auto* reflection = limits.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    std::string value;
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_UINT32:
        value = std::to_string(reflection->GetUInt32(limits, field));
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        value = std::to_string(reflection->GetUInt64(limits, field));
        break;
      default:
        continue;
    }
    lines.emplace_back("limits." + field->name(), value);
  }
  for (const auto& interface : s.interfaces()) {
    lines.emplace_back("interface " + std::to_string(interface.id()), interface_summary(interface));
  }
  lines.emplace_back("created", format_time_ms(s.created_at_ms()));
  lines.emplace_back("updated", format_time_ms(s.updated_at_ms()));
  write_key_values(out_, lines);
}

void Printer::interfaces(const v1::ListInterfacesResponse& response) {
  if (structured(response)) return;
  Table table({"ID", "SERVICE", "TYPE", "BIND", "PORT", "CERT", "SNI_CERTS", "CLIENT_CA", "TLS_MIN",
               "CIPHERS"});
  for (const auto& i : response.interfaces()) {
    const bool tls = is_tls(i);
    table.add_row({std::to_string(i.id()), i.service(), interface_type_name(i.type()),
                   i.bind_address(), std::to_string(i.port()), or_dash(i.cert()), sni_cell(i),
                   or_dash(i.client_ca()), tls ? or_dash(i.tls_min_version()) : "-",
                   tls ? or_dash(i.ciphers()) : "-"});
  }
  table.write(out_);
}

void Printer::interface_id(const v1::Interface& interface) {
  if (structured(interface)) return;
  Table table({"ID"});
  table.add_row({std::to_string(interface.id())});
  table.write(out_);
}

void Printer::nodes(const v1::ListNodesResponse& response) {
  if (structured(response)) return;
  Table table({"NODE", "INSTANCE", "CONNECTED", "CONFIG_VERSION", "LAST_SEEN"});
  for (const auto& n : response.nodes()) {
    table.add_row({n.node_id(), n.instance(), bool_name(n.connected()),
                   std::to_string(n.config_version()), format_time_ms(n.last_seen_ms())});
  }
  table.write(out_);
}

namespace {

Table certificates_table() { return Table({"NAME", "SUBJECT", "NOT_AFTER", "HAS_KEY"}); }

void add_certificate_row(Table& table, const v1::Certificate& c) {
  table.add_row(
      {c.name(), or_dash(c.subject()), format_time_ms(c.not_after_ms()), bool_name(c.has_key())});
}

}  // namespace

void Printer::certificates(const v1::ListCertificatesResponse& response) {
  if (structured(response)) return;
  Table table = certificates_table();
  for (const auto& c : response.certificates()) add_certificate_row(table, c);
  table.write(out_);
}

void Printer::certificate_row(const v1::Certificate& certificate) {
  if (structured(certificate)) return;
  Table table = certificates_table();
  add_certificate_row(table, certificate);
  table.write(out_);
}

void Printer::certificate_detail(const v1::Certificate& certificate) {
  if (structured(certificate)) return;
  const v1::Certificate& c = certificate;  // only named fields below: never PEM or key
  write_key_values(out_, {
                             {"name", c.name()},
                             {"subject", or_dash(c.subject())},
                             {"issuer", or_dash(c.issuer())},
                             {"subject_alt_names", joined(c.subject_alt_names())},
                             {"not_before", format_time_ms(c.not_before_ms())},
                             {"not_after", format_time_ms(c.not_after_ms())},
                             {"fingerprint_sha256", or_dash(c.fingerprint_sha256())},
                             {"has_key", bool_name(c.has_key())},
                             {"created", format_time_ms(c.created_at_ms())},
                         });
}

void Printer::deleted(std::string_view what, const Message& response) {
  if (structured(response)) return;
  out_ << "deleted " << printable(what) << '\n';
}

}  // namespace gw::cli
