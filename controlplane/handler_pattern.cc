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
  // Patterns that no accepted address can match would leave a deny handler listed and
  // never run (probe round 20): the angle brackets of the wire syntax (only "<>" keeps
  // them), an empty local part, an empty domain label (a trailing dot: the relay refuses
  // MAIL FROM:<a@example.com.> with 501).
  if (!pattern.empty() && (pattern.front() == '<' || pattern.back() == '>')) {
    return fail(Code::kInvalidArgument,
                "address pattern " + pattern + ": write the address without angle brackets "
                "(only <>, the null sender, keeps them)");
  }
  const std::size_t at = pattern.rfind('@');
  if (at == std::string::npos) return pattern;
  const std::string_view domain = std::string_view(pattern).substr(at + 1);
  if (at == 0) {
    return fail(Code::kInvalidArgument,
                "address pattern " + pattern + ": the local part is empty (use *" + pattern +
                    " for every local part)");
  }
  if (domain.empty() ||
      (domain.front() != '[' &&
       (domain.front() == '.' || domain.back() == '.' || domain.find("..") != std::string::npos))) {
    return fail(Code::kInvalidArgument,
                "address pattern " + pattern + ": the domain has an empty label (a trailing "
                "dot?): no address the relay accepts has one");
  }
  // A non-ASCII label no accepted address can have (upper case, not NFC) would never match
  // while a deny handler looks in force; with "*" elsewhere in the domain too (probe round
  // 18: *@*.BÜCHER.example was stored). Labels holding "*" are not checked.
  bool bad_label = false;
  if (!domain.empty() && domain.front() != '[') {
    std::size_t start = 0;
    while (start <= domain.size()) {
      const std::size_t dot = std::min(domain.find('.', start), domain.size());
      const std::string_view label = domain.substr(start, dot - start);
      if (label.find('*') == std::string_view::npos &&
          std::any_of(label.begin(), label.end(), [](char c) { return c & 0x80; }) &&
          !smtp::is_valid_domain(label, /*allow_utf8=*/true)) {
        bad_label = true;
      }
      start = dot + 1;
    }
  }
  if (bad_label) {
    return fail(Code::kInvalidArgument,
                "address pattern " + pattern + ": the domain is not one the relay accepts "
                "(IDNA2008 U-labels are lower case and NFC)");
  }
  if (pattern.find('*') == std::string::npos) return smtp::comparable_mailbox(pattern);
  if (pattern.find("**") != std::string::npos) {
    // "**" matches what "*" matches: one spelling, so that the two are one handler slot
    // (probe round 34: **@y.org was stored beside *@y.org).
    std::string collapsed;
    for (char c : pattern) {
      if (c == '*' && !collapsed.empty() && collapsed.back() == '*') continue;
      collapsed += c;
    }
    return comparable_pattern(command, collapsed);
  }
  if (pattern.front() == '"') {
    return fail(Code::kInvalidArgument,
                "address pattern " + pattern + ": write a quoted local part without its quotes "
                "(the relay compares local parts unquoted, RFC 5321 §4.1.2)");
  }
  // The domain as the relay spells what it compares: an address literal canonical, each
  // A-label as its U-label (wildcard labels as written).
  return pattern.substr(0, at + 1) + smtp::comparable_domain(domain);
}

}  // namespace gw::controlplane
