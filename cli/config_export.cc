// ConfigurationDocument → apply-format YAML: fixed key order, defaults left out, no secrets.
#include "cli/config_export.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <stdexcept>
#include <string_view>

#include "cli/enum_names.h"
#include "cli/yaml_text.h"

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;
using google::protobuf::FieldDescriptor;

// The defaults gctld fills into stored services and interfaces (config.proto comments;
// controlplane/service_defaults.cc). A value equal to its default is not exported, so an
// export stays short and applying it elsewhere gets the same value back.
constexpr std::string_view kDefaultCiphers = "DEFAULT";
constexpr std::string_view kDefaultInstance = "default";
constexpr std::string_view kDefaultBindAddress = "127.0.0.1";
constexpr std::string_view kDefaultTlsMinVersion = "1.2";
constexpr std::string_view kDefaultAddress = "*";

v1::Limits default_limits() {
  v1::Limits l;
  l.set_max_command_line(512);
  l.set_max_auth_line(12288);
  l.set_max_text_line(1000);
  l.set_max_message_size(36700160);
  l.set_max_recipients(100);
  l.set_max_sessions(1000);
  l.set_max_sessions_per_client(50);
  l.set_idle_timeout_ms(60000);
  l.set_session_timeout_ms(1800000);
  l.set_data_timeout_ms(600000);
  l.set_upstream_connect_timeout_ms(30000);
  l.set_upstream_timeout_ms(300000);
  l.set_upstream_data_timeout_ms(600000);
  l.set_max_errors(20);
  l.set_max_idle_commands(50);
  l.set_decision_timeout_ms(1000);
  l.set_max_mime_parts(1000);
  l.set_max_mime_depth(20);
  l.set_max_mime_header_block(65536);
  return l;
}

// A string that reads back as the same string.
void text(YAML::Emitter& out, const std::string& value) {
  if (yaml_needs_quotes(value)) out << YAML::DoubleQuoted;
  out << value;
}

void key_text(YAML::Emitter& out, const char* key, const std::string& value) {
  out << YAML::Key << key << YAML::Value;
  text(out, value);
}

// Only when set and not the default.
void optional_text(YAML::Emitter& out, const char* key, const std::string& value,
                   std::string_view default_value = {}) {
  if (value.empty() || value == default_value) return;
  key_text(out, key, value);
}

void optional_true(YAML::Emitter& out, const char* key, bool value) {
  if (value) out << YAML::Key << key << YAML::Value << true;
}

// A PEM as a literal block. yaml-cpp writes "|" (clip): the block reads back with exactly one
// final line break, which is what a PEM ending in one has; written without it, the text
// after the block stays free of blank lines. Any other text goes double-quoted, exactly.
void pem_block(YAML::Emitter& out, const std::string& pem) {
  const bool one_final_newline =
      pem.size() >= 2 && pem.back() == '\n' && pem[pem.size() - 2] != '\n';
  // A block scalar cannot carry CR (YAML folds line breaks) nor other control characters.
  const bool plain_lines = std::none_of(pem.begin(), pem.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\n') || u == 0x7f;
  });
  if (!one_final_newline || !plain_lines) {
    out << YAML::DoubleQuoted << pem;
    return;
  }
  out << YAML::Literal << pem.substr(0, pem.size() - 1);
}

void certificates(YAML::Emitter& out, const v1::ConfigurationDocument& document) {
  out << YAML::Key << "certificates" << YAML::Value << YAML::BeginSeq;
  for (const auto& certificate : document.certificates()) {
    out << YAML::BeginMap;
    key_text(out, "name", certificate.name());
    if (certificate.has_key()) {
      out << YAML::Comment("the private key is not exported: add key_file: FILE to restore it");
    }
    out << YAML::Key << "cert_pem" << YAML::Value;
    pem_block(out, certificate.cert_pem());
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

void users(YAML::Emitter& out, const v1::ConfigurationDocument& document) {
  out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq;
  for (const auto& user : document.users()) {
    out << YAML::BeginMap;
    key_text(out, "name", user.name());
    key_text(out, "password_hash", user.password_hash());
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

void policies(YAML::Emitter& out, const v1::ConfigurationDocument& document) {
  out << YAML::Key << "policies" << YAML::Value << YAML::BeginSeq;
  for (const auto& policy : document.policies()) {
    out << YAML::BeginMap;
    key_text(out, "name", policy.name());
    optional_text(out, "reply", policy.reply());
    YAML::Node filters;
    try {
      filters = YAML::Load(policy.filters_yaml());
    } catch (const YAML::Exception& e) {
      throw std::runtime_error("policy \"" + policy.name() +
                               "\": the control plane sent filters that are not YAML: " + e.msg);
    }
    if (filters.IsDefined() && !filters.IsNull()) {
      out << YAML::Key << "filters" << YAML::Value;
      emit_yaml_node(out, filters);
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

// The limits that differ from the defaults (and are set), in field order.
void limits(YAML::Emitter& out, const v1::Limits& limits) {
  static const v1::Limits kDefaults = default_limits();
  const auto* descriptor = v1::Limits::descriptor();
  const auto* reflection = v1::Limits::GetReflection();
  bool open = false;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    std::uint64_t value = 0;
    std::uint64_t default_value = 0;
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
      value = reflection->GetUInt32(limits, field);
      default_value = reflection->GetUInt32(kDefaults, field);
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_UINT64) {
      value = reflection->GetUInt64(limits, field);
      default_value = reflection->GetUInt64(kDefaults, field);
    } else {
      continue;
    }
    if (value == 0 || value == default_value) continue;
    if (!open) {
      out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
      open = true;
    }
    out << YAML::Key << field->name() << YAML::Value << value;
  }
  if (open) out << YAML::EndMap;
}

void interface(YAML::Emitter& out, const v1::Interface& interface) {
  out << YAML::BeginMap;
  key_text(out, "type", interface_type_name(interface.type()));
  optional_text(out, "bind", interface.bind_address(), kDefaultBindAddress);
  out << YAML::Key << "port" << YAML::Value << interface.port();
  optional_text(out, "cert", interface.cert());
  if (interface.sni_certs_size() > 0) {
    out << YAML::Key << "sni_certs" << YAML::Value << YAML::BeginMap;
    for (const auto& sni : interface.sni_certs()) {
      out << YAML::Key;
      text(out, sni.server_name());
      out << YAML::Value;
      text(out, sni.cert());
    }
    out << YAML::EndMap;
  }
  optional_text(out, "client_ca", interface.client_ca());
  optional_text(out, "ciphers", interface.ciphers(), kDefaultCiphers);
  optional_text(out, "tls_min_version", interface.tls_min_version(), kDefaultTlsMinVersion);
  out << YAML::EndMap;
}

void handler(YAML::Emitter& out, const v1::Handler& handler) {
  out << YAML::BeginMap;
  key_text(out, "command", command_name(handler.command()));
  if (handler.command() == v1::SMTP_COMMAND_MAIL || handler.command() == v1::SMTP_COMMAND_RCPT) {
    key_text(out, "address",
             handler.address().empty() ? std::string(kDefaultAddress) : handler.address());
  }
  if (handler.command() == v1::SMTP_COMMAND_HELO)
    optional_text(out, "greeting", handler.greeting());
  key_text(out, "policy", handler.policy());
  out << YAML::EndMap;
}

void services(YAML::Emitter& out, const v1::ConfigurationDocument& document) {
  out << YAML::Key << "services" << YAML::Value << YAML::BeginSeq;
  for (const auto& service : document.services()) {
    out << YAML::BeginMap;
    key_text(out, "name", service.name());
    if (service.has_password()) {
      out << YAML::Comment(
          "the upstream password is not exported: add password_file: FILE to restore it");
    }
    key_text(out, "host", service.host());
    out << YAML::Key << "port" << YAML::Value << (service.port() == 0 ? 25u : service.port());
    key_text(out, "security", security_name(service.security()));
    optional_text(out, "instance", service.instance(), kDefaultInstance);
    optional_text(out, "hostname", service.hostname());
    optional_true(out, "monitoring", service.monitoring());
    optional_true(out, "protocol_trace", service.protocol_trace());
    optional_true(out, "fail_open", service.fail_open());
    optional_true(out, "allow_plaintext_auth", service.allow_plaintext_auth());
    optional_true(out, "require_tls", service.require_tls());
    if (service.trusted_cas_size() > 0) {
      out << YAML::Key << "trusted_cas" << YAML::Value << YAML::Flow << YAML::BeginSeq;
      for (const auto& name : service.trusted_cas()) text(out, name);
      out << YAML::EndSeq;
    }
    optional_text(out, "client_cert", service.client_cert());
    optional_text(out, "ciphers", service.ciphers(), kDefaultCiphers);
    optional_text(out, "tls_min_version", service.tls_min_version(), kDefaultTlsMinVersion);
    if (service.no_verify_hostname()) out << YAML::Key << "verify_hostname" << YAML::Value << false;
    optional_text(out, "tls_server_name", service.tls_server_name());
    optional_text(out, "username", service.username());
    limits(out, service.limits());
    // An empty list gctld declares is printed as [] (probe round 20): left out, applying the
    // export back would keep handlers or interfaces added since, where a present list
    // replaces the whole list (README "apply").
    if (service.interfaces_size() > 0 || service.declares_interfaces()) {
      out << YAML::Key << "interfaces" << YAML::Value;
      if (service.interfaces_size() == 0) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const auto& item : service.interfaces()) interface(out, item);
      out << YAML::EndSeq;
    }
    if (service.handlers_size() > 0 || service.declares_handlers()) {
      out << YAML::Key << "handlers" << YAML::Value;
      if (service.handlers_size() == 0) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const auto& item : service.handlers()) handler(out, item);
      out << YAML::EndSeq;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

}  // namespace

std::string export_configuration_yaml(const v1::ConfigurationDocument& document) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  if (document.certificates_size() > 0) certificates(out, document);
  if (document.users_size() > 0) users(out, document);
  if (document.policies_size() > 0) policies(out, document);
  if (document.services_size() > 0) services(out, document);
  out << YAML::EndMap;
  if (!out.good()) throw std::runtime_error("cannot write YAML: " + out.GetLastError());
  return yaml_escape_del(std::string(out.c_str())) + "\n";
}

std::string export_configuration_json(const v1::ConfigurationDocument& document) {
  const YAML::Node node = YAML::Load(export_configuration_yaml(document));
  return yaml_to_json(node).dump(2, ' ', /*ensure_ascii=*/false,
                                 nlohmann::ordered_json::error_handler_t::replace) +
         "\n";
}

}  // namespace gw::cli
