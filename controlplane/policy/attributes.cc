// Attribute names, read-only rules and single-line sanitising.
#include "controlplane/policy/attributes.h"

#include <cctype>
#include <string>

#include "common/printable_line.h"

namespace gw::controlplane::policy {

std::string_view command_name(Command command) {
  switch (command) {
    case Command::kHelo:
      return "HELO";
    case Command::kAuth:
      return "AUTH";
    case Command::kMail:
      return "MAIL";
    case Command::kRcpt:
      return "RCPT";
    case Command::kData:
      return "DATA";
  }
  return "?";
}

bool is_read_only_attribute(std::string_view name) {
  // Any case: "SMTP.MAIL.FROM" would be another attribute nobody reads, a rewrite that
  // looks in force and is not. "decision.*" is the audit's own (decision.reason): a policy
  // must not write what the audit records about it (probe round 18).
  std::string lowered(name);
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lowered.starts_with("decision.")) return true;
  for (std::string_view reserved :
       {attr::kRcptRecipients, attr::kSubjectPassword, attr::kMailFrom, attr::kRcptTo,
        attr::kClientAddress, attr::kMessageSource, attr::kProtocolType,
        attr::kMonitoringEnabled}) {
    if (lowered == reserved) return true;
  }
  return false;
}

bool is_valid_attribute_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string_view> builtin_in_other_case(std::string_view name) {
  std::string lowered(name);
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lowered == name) return std::nullopt;
  for (std::string_view builtin :
       {attr::kHeloDomain, attr::kHeloGreeting, attr::kSubjectId, attr::kSubjectPassword,
        attr::kAuthorizationId, attr::kMailFrom, attr::kRcptTo, attr::kRcptRecipients,
        attr::kContentBody, attr::kMessageSource, attr::kProtocolType, attr::kMonitoringEnabled,
        attr::kClientAddress}) {
    if (lowered == builtin) return builtin;
  }
  return std::nullopt;
}

std::string join_recipients(const std::vector<std::string>& recipients) {
  std::string out;
  for (const auto& r : recipients) {
    if (!out.empty()) out += ", ";
    out += r;
  }
  return out;
}

namespace {
bool is_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}
}  // namespace

std::string to_single_line(std::string_view text, std::size_t max_octets) {
  return common::printable_line(text, max_octets);
}

bool has_control_character(std::string_view text) {
  for (char c : text) {
    if (is_control(c)) return true;
  }
  return false;
}

}  // namespace gw::controlplane::policy
