// The lower-case names gctl reads and prints for the API's enums (DESIGN.md §2 vocabulary):
// security none|ssl|starttls, interface type tcp|ssl|starttls, SMTP command
// helo|auth|mail|rcpt|data, verdict continue|reject|tempfail.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "gateway/v1/config.pb.h"
#include "gateway/v1/decision.pb.h"

namespace gw::cli {

/// The accepted names, "|"-separated, for messages and --help ("none|ssl|starttls").
inline constexpr const char* kSecurityNames = "none|ssl|starttls";
inline constexpr const char* kInterfaceTypeNames = "tcp|ssl|starttls";
inline constexpr const char* kCommandNames = "helo|auth|mail|rcpt|data";
inline constexpr const char* kVerdictNames = "continue|reject|tempfail";

/// Name → value; nullopt for anything but the exact lower-case names above.
std::optional<gateway::v1::Security> parse_security(std::string_view name);
std::optional<gateway::v1::InterfaceType> parse_interface_type(std::string_view name);
std::optional<gateway::v1::SmtpCommand> parse_command(std::string_view name);
std::optional<gateway::v1::Verdict> parse_verdict(std::string_view name);

/// Value → name. UNSPECIFIED security and interface type print as their documented meaning
/// ("none", "tcp", config.proto); UNSPECIFIED command and verdict (and unknown values) as "-".
std::string security_name(gateway::v1::Security security);
std::string interface_type_name(gateway::v1::InterfaceType type);
std::string command_name(gateway::v1::SmtpCommand command);
std::string verdict_name(gateway::v1::Verdict verdict);

}  // namespace gw::cli
