// Stored spelling of gateway.v1.SmtpCommand.
#include "storage/smtp_command_name.h"

namespace gw::storage {

namespace v1 = gateway::v1;

std::string_view smtp_command_name(v1::SmtpCommand command) {
  switch (command) {
    case v1::SMTP_COMMAND_HELO:
      return "helo";
    case v1::SMTP_COMMAND_AUTH:
      return "auth";
    case v1::SMTP_COMMAND_MAIL:
      return "mail";
    case v1::SMTP_COMMAND_RCPT:
      return "rcpt";
    case v1::SMTP_COMMAND_DATA:
      return "data";
    default:
      return "unspecified";
  }
}

std::optional<v1::SmtpCommand> smtp_command_from(std::string_view name) {
  if (name == "helo") return v1::SMTP_COMMAND_HELO;
  if (name == "auth") return v1::SMTP_COMMAND_AUTH;
  if (name == "mail") return v1::SMTP_COMMAND_MAIL;
  if (name == "rcpt") return v1::SMTP_COMMAND_RCPT;
  if (name == "data") return v1::SMTP_COMMAND_DATA;
  if (name == "unspecified") return v1::SMTP_COMMAND_UNSPECIFIED;
  return std::nullopt;
}

}  // namespace gw::storage
