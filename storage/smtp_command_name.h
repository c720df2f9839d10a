// Stored spelling of gateway.v1.SmtpCommand, shared by the handlers and audit tables.
#pragma once

#include <optional>
#include <string_view>

#include "gateway/v1/decision.pb.h"

namespace gw::storage {

/// "helo", "auth", "mail", "rcpt", "data"; "unspecified" for SMTP_COMMAND_UNSPECIFIED and
/// any value this build does not know (the audit table accepts it, handlers refuse it).
std::string_view smtp_command_name(gateway::v1::SmtpCommand command);

/// The inverse of smtp_command_name(); nullopt for a spelling it never produces.
std::optional<gateway::v1::SmtpCommand> smtp_command_from(std::string_view name);

}  // namespace gw::storage
