// Attribute names, read-only rules and single-line sanitising.
#include "controlplane/policy/attributes.h"

#include <algorithm>
#include <cctype>
#include <iterator>
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

namespace {

constexpr std::string_view kBuiltins[] = {
    attr::kHeloDomain,  attr::kHeloGreeting,  attr::kSubjectId,     attr::kSubjectPassword,
    attr::kAuthorizationId, attr::kMailFrom,  attr::kRcptTo,        attr::kRcptRecipients,
    attr::kContentBody, attr::kMessageSource, attr::kProtocolType,  attr::kMonitoringEnabled,
    attr::kClientAddress};

// The first label of every built-in: names under it belong to the gateway.
constexpr std::string_view kBuiltinNamespaces[] = {"smtp.",    "client.",         "content.",
                                                   "message.", "authentication.", "monitoring."};

// Levenshtein distance (names are at most 128 octets).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<std::string_view> misspelled_builtin(std::string_view name) {
  std::string lowered(name);
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (std::find(std::begin(kBuiltins), std::end(kBuiltins), name) != std::end(kBuiltins)) {
    return std::nullopt;
  }
  for (std::string_view builtin : kBuiltins) {
    if (lowered == builtin) return builtin;
  }
  const bool reserved =
      std::any_of(std::begin(kBuiltinNamespaces), std::end(kBuiltinNamespaces),
                  [&](std::string_view space) { return lowered.starts_with(space); });
  if (!reserved) {
    // Outside the namespaces, a name that is a built-in without its first labels
    // ("mail.from", "helo.domain") or within two edits of one ("smtp-mail-from") is a
    // slip, not a name of the operator's own (probe round 40: both expanded to "").
    for (std::string_view builtin : kBuiltins) {
      const bool tail = lowered.find('.') != std::string::npos &&
                        builtin.size() > lowered.size() && builtin.ends_with(lowered) &&
                        builtin[builtin.size() - lowered.size() - 1] == '.';
      if (tail || edit_distance(lowered, builtin) <= 2) return builtin;
    }
    return std::nullopt;
  }
  std::string_view nearest = kBuiltins[0];
  std::size_t best = edit_distance(lowered, nearest);
  for (std::string_view builtin : kBuiltins) {
    const std::size_t d = edit_distance(lowered, builtin);
    if (d < best) {
      best = d;
      nearest = builtin;
    }
  }
  return nearest;
}

namespace {

// RFC 5322 §3.2.3 atext, with UTF-8 octets (RFC 6531 §3.3).
bool is_atext(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x80) return true;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool is_dot_atom(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.' ? s[i - 1] == '.' : !is_atext(s[i])) return false;
  }
  return true;
}

// `address` with its local part quoted again when it is no dot-atom.
void append_address(std::string& out, std::string_view address) {
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos || is_dot_atom(address.substr(0, at))) {
    out += address;
    return;
  }
  out += '"';
  for (char c : address.substr(0, at)) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  out += address.substr(at);
}

}  // namespace

std::string join_recipients(const std::vector<std::string>& recipients) {
  std::string out;
  for (const auto& r : recipients) {
    if (!out.empty()) out += ", ";
    append_address(out, r);
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
