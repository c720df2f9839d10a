// Default values of services and interfaces.
#include "controlplane/service_defaults.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

namespace gw::controlplane {

namespace v1 = gateway::v1;

v1::Limits default_limits() {
  v1::Limits l;
  l.set_max_command_line(512);       // RFC 5321 §4.5.3.1.4
  l.set_max_auth_line(12288);        // RFC 4954 §4
  l.set_max_text_line(1000);         // RFC 5321 §4.5.3.1.6
  l.set_max_message_size(36700160);  // 35 MiB
  l.set_max_recipients(100);         // RFC 5321 §4.5.3.1.8
  l.set_max_sessions(1000);
  l.set_max_sessions_per_client(50);
  l.set_idle_timeout_ms(60000);  // reference trace: 60 s
  l.set_session_timeout_ms(1800000);
  l.set_data_timeout_ms(600000);
  l.set_upstream_connect_timeout_ms(30000);
  l.set_upstream_timeout_ms(300000);       // RFC 5321 §4.5.3.2
  l.set_upstream_data_timeout_ms(600000);  // RFC 5321 §4.5.3.2.6
  l.set_max_errors(20);
  l.set_max_idle_commands(50);
  l.set_decision_timeout_ms(1000);  // DESIGN.md §7 "Fail safe"
  l.set_max_mime_parts(1000);        // field case BR-29 (Haraka caps parts at 1000)
  l.set_max_mime_depth(20);
  l.set_max_mime_header_block(65536);
  return l;
}

void fill_service_defaults(v1::Service& service) {
  if (service.port() == 0) service.set_port(kDefaultUpstreamPort);
  if (service.security() == v1::SECURITY_UNSPECIFIED) service.set_security(v1::SECURITY_NONE);
  if (service.ciphers().empty()) service.set_ciphers(std::string(kDefaultCiphers));
  if (service.tls_min_version().empty()) {
    service.set_tls_min_version(std::string(kDefaultTlsMinVersion));
  }
  if (service.instance().empty()) service.set_instance(std::string(kDefaultInstance));

  // Every Limits field is a scalar whose zero means "default": copy the default into each
  // zero field via reflection, so a field added to Limits later cannot be forgotten here.
  static const v1::Limits kDefaults = default_limits();
  v1::Limits* limits = service.mutable_limits();
  const auto* descriptor = v1::Limits::descriptor();
  const auto* reflection = v1::Limits::GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const auto* field = descriptor->field(i);
    if (reflection->HasField(*limits, field)) continue;  // proto3 scalar: set means non-zero
    switch (field->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT32:
        reflection->SetUInt32(limits, field, reflection->GetUInt32(kDefaults, field));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT64:
        reflection->SetUInt64(limits, field, reflection->GetUInt64(kDefaults, field));
        break;
      default:
        break;
    }
  }
}

void fill_interface_defaults(v1::Interface& iface) {
  if (iface.type() == v1::INTERFACE_TYPE_UNSPECIFIED) iface.set_type(v1::INTERFACE_TYPE_TCP);
  if (iface.bind_address().empty()) iface.set_bind_address(std::string(kDefaultBindAddress));
  if (iface.ciphers().empty()) iface.set_ciphers(std::string(kDefaultCiphers));
  if (iface.tls_min_version().empty()) {
    iface.set_tls_min_version(std::string(kDefaultTlsMinVersion));
  }
}

}  // namespace gw::controlplane
