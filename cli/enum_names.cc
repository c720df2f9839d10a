// Enum names of gctl's command line, configuration files and tables.
#include "cli/enum_names.h"

#include <array>
#include <utility>

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;

template <typename Enum, std::size_t N>
std::optional<Enum> find_value(const std::array<std::pair<std::string_view, Enum>, N>& table,
                               std::string_view name) {
  for (const auto& [text, value] : table) {
    if (text == name) return value;
  }
  return std::nullopt;
}

template <typename Enum, std::size_t N>
std::string find_name(const std::array<std::pair<std::string_view, Enum>, N>& table, Enum value,
                      std::string_view fallback) {
  for (const auto& [text, candidate] : table) {
    if (candidate == value) return std::string(text);
  }
  return std::string(fallback);
}

constexpr std::array<std::pair<std::string_view, v1::Security>, 3> kSecurity{{
    {"none", v1::SECURITY_NONE},
    {"ssl", v1::SECURITY_SSL},
    {"starttls", v1::SECURITY_STARTTLS},
}};
constexpr std::array<std::pair<std::string_view, v1::InterfaceType>, 3> kInterfaceTypes{{
    {"tcp", v1::INTERFACE_TYPE_TCP},
    {"ssl", v1::INTERFACE_TYPE_SSL},
    {"starttls", v1::INTERFACE_TYPE_STARTTLS},
}};
constexpr std::array<std::pair<std::string_view, v1::SmtpCommand>, 5> kCommands{{
    {"helo", v1::SMTP_COMMAND_HELO},
    {"auth", v1::SMTP_COMMAND_AUTH},
    {"mail", v1::SMTP_COMMAND_MAIL},
    {"rcpt", v1::SMTP_COMMAND_RCPT},
    {"data", v1::SMTP_COMMAND_DATA},
}};
constexpr std::array<std::pair<std::string_view, v1::Verdict>, 3> kVerdicts{{
    {"continue", v1::VERDICT_CONTINUE},
    {"reject", v1::VERDICT_REJECT},
    {"tempfail", v1::VERDICT_TEMPFAIL},
}};

}  // namespace

std::optional<v1::Security> parse_security(std::string_view name) {
  return find_value(kSecurity, name);
}
std::optional<v1::InterfaceType> parse_interface_type(std::string_view name) {
  return find_value(kInterfaceTypes, name);
}
std::optional<v1::SmtpCommand> parse_command(std::string_view name) {
  return find_value(kCommands, name);
}
std::optional<v1::Verdict> parse_verdict(std::string_view name) {
  return find_value(kVerdicts, name);
}

std::string security_name(v1::Security security) {
  return find_name(kSecurity, security, "none");  // UNSPECIFIED is treated as none
}
std::string interface_type_name(v1::InterfaceType type) {
  return find_name(kInterfaceTypes, type, "tcp");  // UNSPECIFIED is treated as tcp
}
std::string command_name(v1::SmtpCommand command) { return find_name(kCommands, command, "-"); }
std::string verdict_name(v1::Verdict verdict) { return find_name(kVerdicts, verdict, "-"); }

}  // namespace gw::cli
