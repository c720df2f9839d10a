// Handler address patterns in the relay's comparison spelling.
#include "controlplane/handler_pattern.h"

#include <algorithm>

#include "dataplane/smtp/address.h"

namespace gw::controlplane {

namespace v1 = gateway::v1;

namespace {

// True if some address the relay accepts (RFC 5321 Domain or address literal, RFC 6531
// U-labels) can have a domain matching `domain`, a pattern's domain part.
bool domain_accepted(std::string_view domain) {
  if (domain.find('*') == std::string_view::npos) {
    return domain.front() == '[' ? smtp::is_valid_address_literal(domain)
                                 : smtp::is_valid_domain(domain, /*allow_utf8=*/true);
  }
  if (domain.front() == '[') return true;  // a wildcard literal: not checked
  std::size_t start = 0;
  while (start <= domain.size()) {
    const std::size_t dot = std::min(domain.find('.', start), domain.size());
    const std::string label(domain.substr(start, dot - start));
    // A label alone, under a name that makes it a domain the grammar judges label by label.
    if (label.find('*') == std::string::npos &&
        !smtp::is_valid_domain(label + ".example", /*allow_utf8=*/true)) {
      return false;
    }
    start = dot + 1;
  }
  return true;
}

}  // namespace

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
  if (pattern.find("**") != std::string::npos) {
    // "**" matches what "*" matches: one spelling, so that the two are one handler slot
    // (probe round 34: **@y.org was stored beside *@y.org; round 39: ** beside *).
    std::string collapsed;
    for (char c : pattern) {
      if (c == '*' && !collapsed.empty() && collapsed.back() == '*') continue;
      collapsed += c;
    }
    return comparable_pattern(command, collapsed);
  }
  const std::size_t at = pattern.rfind('@');
  if (at == std::string::npos) {
    // Every address the relay accepts has a domain but <postmaster> (RFC 5321 §4.1.1.3),
    // so a pattern without "@" matches only through a "*" (probe round 39: "example.com",
    // meant as *@example.com, was stored and never ran).
    if (pattern.find('*') != std::string::npos || smtp::iequals_ascii(pattern, "postmaster")) {
      return pattern;
    }
    return fail(Code::kInvalidArgument,
                "address pattern " + pattern + " matches no address: write *@" + pattern +
                    " for a domain, or a whole address (postmaster is the only one without "
                    "a domain)");
  }
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
  // A domain no accepted address can have would never match while a deny handler looks in
  // force: the relay's own grammar decides (smtp::is_valid_domain, is_valid_address_literal;
  // probe round 18: *@*.BÜCHER.example, an upper-case U-label; round 39: *@-x.test and
  // *@x_y.test, which the relay answers 501). Labels holding "*" are not checked; the
  // others are checked as labels, with the whole domain's rules once it has no "*".
  if (!domain_accepted(domain)) {
    return fail(Code::kInvalidArgument,
                "address pattern " + pattern + ": the domain is not one the relay accepts "
                "(labels of letters, digits and inner hyphens, the last not all digits; "
                "IDNA2008 U-labels in lower case and NFC; [192.0.2.1] or [IPv6:...] literals)");
  }
  if (pattern.find('*') == std::string::npos) return smtp::comparable_mailbox(pattern);
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
