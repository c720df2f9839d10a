// Proto Service -> ServiceConfig with defaults.
#include "dataplane/service_config.h"

#include <algorithm>
#include <stdexcept>

#include "common/message_limits.h"

#include "dataplane/tls_context.h"

namespace gw::dataplane {
namespace {

template <typename T, typename U>
void set_if(T& field, U value) {
  if (value != 0) field = static_cast<T>(value);
}

void set_ms(std::chrono::milliseconds& field, std::uint32_t value) {
  if (value != 0) field = std::chrono::milliseconds(value);
}

}  // namespace

std::shared_ptr<const ServiceConfig> make_service_config(const gateway::v1::Service& s,
                                                         const CertificateIndex& certificates) {
  auto cfg = std::make_shared<ServiceConfig>();
  cfg->name = s.name();
  cfg->upstream_host = s.host();
  cfg->upstream_port = s.port() != 0 ? static_cast<std::uint16_t>(s.port()) : 25;
  cfg->security = s.security() == gateway::v1::SECURITY_UNSPECIFIED ? gateway::v1::SECURITY_NONE
                                                                    : s.security();
  cfg->hostname = s.hostname();
  cfg->monitoring = s.monitoring();
  cfg->protocol_trace = s.protocol_trace();
  cfg->fail_open = s.fail_open();
  cfg->require_tls = s.require_tls();
  cfg->allow_plaintext_auth = s.allow_plaintext_auth();
  cfg->username = s.username();
  cfg->password = s.password();
  cfg->verify_hostname = !s.no_verify_hostname();
  cfg->tls_server_name = s.tls_server_name().empty() ? s.host() : s.tls_server_name();
  // "mx.example." is the same name as "mx.example", but SNI carries no final dot (RFC 6066
  // §3) and certificates name hosts without one (RFC 6125 §6.4.1; probe round 45: the dot
  // went into SNI and failed the hostname check).
  if (cfg->tls_server_name.size() > 1 && cfg->tls_server_name.back() == '.') {
    cfg->tls_server_name.pop_back();
  }
  if (cfg->security == gateway::v1::SECURITY_SSL || cfg->security == gateway::v1::SECURITY_STARTTLS) {
    try {
      ClientTlsSettings tls;
      tls.ciphers = s.ciphers().empty() ? "DEFAULT" : s.ciphers();
      tls.min_version = s.tls_min_version().empty() ? "1.2" : s.tls_min_version();
      for (const auto& name : s.trusted_cas()) {
        if (name == "system") {
          tls.system_cas = true;
          continue;
        }
        auto it = certificates.find(name);
        if (it == certificates.end()) throw std::runtime_error("unknown trusted CA " + name);
        tls.trusted_ca_pems.push_back(it->second->cert_pem());
      }
      if (!s.client_cert().empty()) {
        auto it = certificates.find(s.client_cert());
        if (it == certificates.end()) throw std::runtime_error("unknown client certificate " + s.client_cert());
        tls.client_certificate = {it->second->cert_pem(), it->second->key_pem()};
      }
      cfg->upstream_tls = make_client_tls_context(tls);
    } catch (const std::exception& e) {
      cfg->upstream_tls_error = e.what();
    }
  }
  const auto& l = s.limits();
  auto& out = cfg->limits;
  set_if(out.max_command_line, l.max_command_line());
  set_if(out.max_auth_line, l.max_auth_line());
  // gctld refuses larger values; a database edited by hand or an older control plane must
  // still not give a limit the session's input buffer cannot hold (the line would end the
  // session without a reply instead of getting 500 5.5.2).
  out.max_command_line = std::min<std::size_t>(out.max_command_line, common::kMaxCommandLineLimit);
  out.max_auth_line = std::min<std::size_t>(out.max_auth_line, common::kMaxCommandLineLimit);
  set_if(out.max_text_line, l.max_text_line());
  set_if(out.max_message_size, l.max_message_size());
  set_if(out.max_recipients, l.max_recipients());
  set_if(out.max_sessions, l.max_sessions());
  set_if(out.max_sessions_per_client, l.max_sessions_per_client());
  set_ms(out.idle_timeout, l.idle_timeout_ms());
  set_ms(out.session_timeout, l.session_timeout_ms());
  set_ms(out.data_timeout, l.data_timeout_ms());
  set_ms(out.upstream_connect_timeout, l.upstream_connect_timeout_ms());
  set_ms(out.upstream_timeout, l.upstream_timeout_ms());
  set_ms(out.upstream_data_timeout, l.upstream_data_timeout_ms());
  set_ms(out.decision_timeout, l.decision_timeout_ms());
  *cfg->handlers.mutable_handlers() = s.handlers();
  set_if(out.max_errors, l.max_errors());
  set_if(out.max_idle_commands, l.max_idle_commands());
  return cfg;
}

}  // namespace gw::dataplane
