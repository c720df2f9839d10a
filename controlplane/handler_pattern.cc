// Handler address patterns in the relay's comparison spelling.
#include "controlplane/handler_pattern.h"

#include <algorithm>

#include "dataplane/smtp/address.h"

namespace gw::controlplane {

namespace v1 = gateway::v1;

Result<std::string> comparable_pattern(v1::SmtpCommand command, const std::string& pattern) {
  if (pattern == "<>") {
    if (command == v1::SMTP_COMMAND_RCPT) {
      return fail(Code::kInvalidArgument,
                  "address pattern <> (the null sender) belongs to mail handlers: the relay "
                  "never accepts RCPT TO:<> (RFC 5321 §4.1.1.3)");
    }
    return pattern;
  }
  const std::size_t at = pattern.rfind('@');
  if (at == std::string::npos) return pattern;
  const std::string_view domain = std::string_view(pattern).substr(at + 1);
  const bool domain_exact = domain.find('*') == std::string_view::npos;
  if (domain_exact && !domain.empty() && domain.front() != '[' &&
      std::any_of(domain.begin(), domain.end(), [](char c) { return c & 0x80; }) &&
      !smtp::is_valid_domain(domain, /*allow_utf8=*/true)) {
    return fail(Code::kInvalidArgument,
                "address pattern " + pattern + ": the domain is not one the relay accepts "
                "(IDNA2008 U-labels are lower case and NFC)");
  }
  if (pattern.find('*') == std::string::npos) return smtp::comparable_mailbox(pattern);
  if (pattern.front() == '"') {
    return fail(Code::kInvalidArgument,
                "address pattern " + pattern + ": write a quoted local part without its quotes "
                "(the relay compares local parts unquoted, RFC 5321 §4.1.2)");
  }
  // The domain as the relay spells what it compares: an address literal canonical, each
  // A-label label as its U-label (wildcard labels as written).
  return pattern.substr(0, at + 1) + smtp::comparable_domain(domain);
}

}  // namespace gw::controlplane
