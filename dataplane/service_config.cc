// Proto Service -> ServiceConfig with defaults.
#include "dataplane/service_config.h"

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

std::shared_ptr<const ServiceConfig> make_service_config(const gateway::v1::Service& s) {
  auto cfg = std::make_shared<ServiceConfig>();
  cfg->name = s.name();
  cfg->upstream_host = s.host();
  cfg->upstream_port = s.port() != 0 ? static_cast<std::uint16_t>(s.port()) : 25;
  cfg->security = s.security() == gateway::v1::SECURITY_UNSPECIFIED ? gateway::v1::SECURITY_NONE
                                                                    : s.security();
  cfg->hostname = s.hostname();
  cfg->monitoring = s.monitoring();
  cfg->fail_open = s.fail_open();
  const auto& l = s.limits();
  auto& out = cfg->limits;
  set_if(out.max_command_line, l.max_command_line());
  set_if(out.max_auth_line, l.max_auth_line());
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
  set_if(out.max_errors, l.max_errors());
  set_if(out.max_idle_commands, l.max_idle_commands());
  return cfg;
}

}  // namespace gw::dataplane
