// RFC 5321 address grammar, strict, with RFC 6531 UTF-8 extensions.
#include "dataplane/smtp/address.h"

#include <idn2.h>

#include <cstring>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "common/printable_line.h"

namespace gw::smtp {
namespace {

constexpr std::size_t kMaxLocalPart = 64;   // RFC 5321 §4.5.3.1.1
constexpr std::size_t kMaxDomain = 255;     // RFC 5321 §4.5.3.1.2
constexpr std::size_t kMaxPath = 256;       // RFC 5321 §4.5.3.1.3 (with the brackets)

bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_let_dig(unsigned char c) { return is_alpha(c) || is_digit(c); }

// A character of a UTF-8 local part (RFC 6531 §3.3: UTF8-non-ascii) that is refused all the
// same: controls (C1, NEL), format characters (zero-width, BOM, bidirectional overrides),
// line and paragraph separators, and outside a quoted string any space (no-break, ideographic):
// invisible or line-breaking in what a reader shows or logs, or read by the next hop as an
// unquoted space (probe round 14; the domain's labels are held to IDNA2008 instead).
bool refused_in_local_part(std::string_view s, std::size_t i, std::size_t n, bool quoted) {
  ucs4_t uc = 0;
  u8_mbtouc(&uc, reinterpret_cast<const std::uint8_t*>(s.data() + i), n);
  uc_general_category_t refused = uc_general_category_or(
      uc_general_category_or(UC_CATEGORY_Cc, UC_CATEGORY_Cf),
      uc_general_category_or(UC_CATEGORY_Zl, UC_CATEGORY_Zp));
  if (!quoted) refused = uc_general_category_or(refused, UC_CATEGORY_Zs);
  return uc_is_general_category(uc, refused);
}

// RFC 5322 atext minus "`" and "|" (see parse_mail_from's contract).
bool is_atext(unsigned char c) {
  if (is_let_dig(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '/': case '=': case '?': case '^': case '_': case '{': case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_ipv4_literal_body(std::string_view s) {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t start = i;
    int value = 0;
    while (i < s.size() && is_digit(static_cast<unsigned char>(s[i])) && i - start < 3) {
      value = value * 10 + (s[i] - '0');
      ++i;
    }
    if (i == start || value > 255) return false;
    ++parts;
    if (i == s.size()) return parts == 4;
    if (s[i] != '.' || parts == 4) return false;
    ++i;
  }
}

bool is_hex(unsigned char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Hex groups "h:h:..." of `part` (may be empty), counted into `groups`; with `allow_v4`
// the last element may be an IPv4 address, counted as two groups (RFC 5321 §4.1.3).
bool ipv6_groups(std::string_view part, bool allow_v4, int& groups) {
  if (part.empty()) return true;
  std::size_t pos = 0;
  while (true) {
    std::size_t colon = part.find(':', pos);
    std::string_view g =
        part.substr(pos, colon == std::string_view::npos ? std::string_view::npos : colon - pos);
    if (colon == std::string_view::npos && allow_v4 && g.find('.') != std::string_view::npos) {
      if (!is_ipv4_literal_body(g)) return false;
      groups += 2;
      return true;
    }
    if (g.empty() || g.size() > 4) return false;
    for (unsigned char c : g) {
      if (!is_hex(c)) return false;
    }
    ++groups;
    if (colon == std::string_view::npos) return true;
    pos = colon + 1;
  }
}

// RFC 5321 §4.1.3 IPv6-addr (after the "IPv6:" tag): IPv6-full, IPv6-comp, IPv6v4-full or
// IPv6v4-comp. Written out rather than left to inet_pton(), which takes a C string (an
// embedded NUL would cut the text short) and lets "::" stand for a single group.
bool is_ipv6_literal_body(std::string_view s) {
  std::size_t dc = s.find("::");
  int groups = 0;
  if (dc == std::string_view::npos) return ipv6_groups(s, true, groups) && groups == 8;
  std::string_view head = s.substr(0, dc);
  std::string_view tail = s.substr(dc + 2);
  if (tail.find("::") != std::string_view::npos) return false;
  if (!ipv6_groups(head, false, groups) || !ipv6_groups(tail, true, groups)) return false;
  return groups <= 6;  // "::" stands for at least two groups
}

// Parses a Mailbox (local part "@" domain-or-literal). Returns false on any violation.
bool parse_mailbox(std::string_view s, Path& path, bool& invalid_utf8) {
  std::size_t i = 0;
  bool non_ascii = false;
  // Local part: Quoted-string or Dot-string.
  if (i < s.size() && s[i] == '"') {
    ++i;
    bool closed = false;
    while (i < s.size()) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c == '"') {
        closed = true;
        ++i;
        break;
      }
      if (c == '\\') {
        if (i + 1 >= s.size()) return false;
        unsigned char q = static_cast<unsigned char>(s[i + 1]);
        if (q < 32 || q > 126) return false;
        i += 2;
        continue;
      }
      if (c >= 0x80) {
        std::size_t n = common::utf8_sequence_length(s, i);
        if (n == 0) {
          invalid_utf8 = true;
          return false;
        }
        if (refused_in_local_part(s, i, n, /*quoted=*/true)) return false;
        non_ascii = true;
        i += n;
        continue;
      }
      if (c < 32 || c > 126) return false;
      ++i;
    }
    if (!closed) return false;
  } else {
    bool atom_has_text = false;
    while (i < s.size() && s[i] != '@') {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c == '.') {
        if (!atom_has_text) return false;  // leading or double dot
        atom_has_text = false;
        ++i;
      } else if (c >= 0x80) {
        std::size_t n = common::utf8_sequence_length(s, i);
        if (n == 0) {
          invalid_utf8 = true;
          return false;
        }
        if (refused_in_local_part(s, i, n, /*quoted=*/false)) return false;
        non_ascii = true;
        atom_has_text = true;
        i += n;
      } else if (is_atext(c)) {
        atom_has_text = true;
        ++i;
      } else {
        return false;
      }
    }
    if (!atom_has_text) return false;  // empty local part or trailing dot
  }
  std::size_t local_len = i;
  if (local_len > kMaxLocalPart) return false;
  if (i >= s.size() || s[i] != '@') return false;
  std::string_view domain = s.substr(i + 1);
  if (domain.empty()) return false;
  if (domain.front() == '[') {
    if (!is_valid_address_literal(domain)) return false;
  } else {
    for (std::size_t k = 0; k < domain.size(); ++k) {
      if (static_cast<unsigned char>(domain[k]) >= 0x80) {
        if (!is_valid_utf8(domain)) {
          invalid_utf8 = true;
          return false;
        }
        non_ascii = true;
        break;
      }
    }
    if (!is_valid_domain(domain, /*allow_utf8=*/true)) return false;
  }
  path.mailbox = std::string(s);
  path.non_ascii = non_ascii;
  return true;
}

bool is_esmtp_keyword(std::string_view k) {
  if (k.empty() || !is_let_dig(static_cast<unsigned char>(k[0]))) return false;
  for (unsigned char c : k) {
    if (!is_let_dig(c) && c != '-') return false;
  }
  return true;
}

bool is_esmtp_value(std::string_view v) {
  if (v.empty()) return false;
  for (unsigned char c : v) {
    if (c < 33 || c > 126 || c == '=') return false;
  }
  return true;
}

enum class PathKind { kReverse, kForward };

PathArgument parse_path_argument(std::string_view args, std::string_view prefix, PathKind kind) {
  PathArgument out;
  if (args.size() < prefix.size() || !iequals_ascii(args.substr(0, prefix.size()), prefix)) {
    out.error = PathError::kSyntax;
    return out;
  }
  std::string_view rest = args.substr(prefix.size());
  if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);  // tolerated, BR-17
  if (rest.empty() || rest.front() != '<') {
    out.error = rest.empty() ? PathError::kSyntax : PathError::kBadAddress;
    return out;
  }
  // The path ends at the first '>' outside a quoted string.
  std::size_t i = 1;
  bool in_quotes = false;
  std::size_t close = std::string_view::npos;
  for (; i < rest.size(); ++i) {
    char c = rest[i];
    if (in_quotes) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_quotes = false;
      }
    } else if (c == '"') {
      in_quotes = true;
    } else if (c == '>') {
      close = i;
      break;
    }
  }
  if (close == std::string_view::npos || close + 1 > kMaxPath) {
    out.error = PathError::kBadAddress;
    return out;
  }
  std::string_view inner = rest.substr(1, close - 1);
  std::string_view params = rest.substr(close + 1);

  if (inner.empty()) {
    if (kind == PathKind::kForward) {
      out.error = PathError::kBadAddress;  // a forward-path cannot be null (BR-19)
      return out;
    }
    out.path.is_null = true;
  } else if (kind == PathKind::kForward && iequals_ascii(inner, "postmaster")) {
    out.path.is_postmaster = true;
    out.path.mailbox = std::string(inner);
  } else {
    // Optional source route: "@d1,@d2:" (A-d-l), accepted and dropped.
    if (inner.front() == '@') {
      std::size_t colon = inner.find(':');
      if (colon == std::string_view::npos) {
        out.error = PathError::kBadAddress;
        return out;
      }
      std::string_view route = inner.substr(0, colon);
      std::size_t pos = 0;
      while (pos < route.size()) {
        std::size_t comma = route.find(',', pos);
        std::string_view hop = route.substr(pos, comma == std::string_view::npos
                                                     ? std::string_view::npos
                                                     : comma - pos);
        if (hop.size() < 2 || hop.front() != '@' || !is_valid_domain(hop.substr(1))) {
          out.error = PathError::kBadAddress;
          return out;
        }
        if (comma == std::string_view::npos) break;
        pos = comma + 1;
        if (pos == route.size()) {
          out.error = PathError::kBadAddress;
          return out;
        }
      }
      inner = inner.substr(colon + 1);
    }
    bool invalid_utf8 = false;
    if (!parse_mailbox(inner, out.path, invalid_utf8)) {
      out.error = invalid_utf8 ? PathError::kInvalidUtf8 : PathError::kBadAddress;
      return out;
    }
  }

  // Mail-parameters: esmtp-param *(SP esmtp-param); runs of spaces are tolerated.
  if (!params.empty() && params.front() != ' ') {
    out.error = PathError::kBadAddress;  // junk glued to the closing bracket
    return out;
  }
  std::size_t p = 0;
  while (p < params.size()) {
    while (p < params.size() && params[p] == ' ') ++p;
    if (p == params.size()) break;
    std::size_t end = params.find(' ', p);
    std::string_view token = params.substr(p, end == std::string_view::npos ? end : end - p);
    p = end == std::string_view::npos ? params.size() : end;
    EsmtpParam param;
    std::size_t eq = token.find('=');
    std::string_view keyword = token.substr(0, eq);
    if (!is_esmtp_keyword(keyword)) {
      out.error = PathError::kBadParameter;
      return out;
    }
    if (eq != std::string_view::npos) {
      std::string_view value = token.substr(eq + 1);
      if (!is_esmtp_value(value)) {
        out.error = PathError::kBadParameter;
        return out;
      }
      param.value = std::string(value);
      param.has_value = true;
    }
    param.keyword.reserve(keyword.size());
    for (char c : keyword) {
      param.keyword += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    }
    out.params.push_back(std::move(param));
  }
  return out;
}

}  // namespace

bool is_xtext(std::string_view text) {
  if (text.empty()) return false;
  auto upper_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      if (i + 2 >= text.size() || !upper_hex(text[i + 1]) || !upper_hex(text[i + 2])) return false;
      i += 2;
    } else if (c < 33 || c > 126 || c == '=') {
      return false;
    }
  }
  return true;
}

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool is_valid_utf8(std::string_view text) { return common::is_valid_utf8(text); }

namespace {

// True if `label` (holding at least one non-ASCII character, well-formed UTF-8) is a
// U-label: IDNA2008 (RFC 5891 §5.4, RFC 5892 tables) without any TR46 mapping, in NFC, and
// fitting a 63-octet A-label. Control characters (U+0085), line and paragraph separators,
// zero-width and no-break spaces, the BOM and full-width "@", "." or "<" are all DISALLOWED:
// a next hop that maps or splits them would read another domain than the relay checked
// (RFC 6531 §3.3; probe round 13).
// The length of its A-label ("xn--..."), or 0 when it is no U-label. The 63-octet limit
// of a label holds for the A-label (RFC 5890 §2.3.2.1): a U-label may take more octets of
// UTF-8 (probe round 34: a 35-letter Cyrillic label, 70 octets, 46 as an A-label).
// The A-label of a U-label, or nullopt when it is none.
std::optional<std::string> a_label_of(std::string_view label) {
  // ASCII letters are compared case-insensitively in DNS; IDNA2008 lists only the lower
  // case ones as PVALID, so they are folded first. Other characters are not mapped.
  std::string text(label);  // NUL-terminated for libidn2
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  uint8_t* ascii = nullptr;
  const int rc = idn2_lookup_u8(reinterpret_cast<const uint8_t*>(text.c_str()), &ascii,
                                IDN2_NO_TR46);
  std::optional<std::string> out;
  if (rc == IDN2_OK && ascii != nullptr) out = std::string(reinterpret_cast<const char*>(ascii));
  idn2_free(ascii);
  return out;
}

std::size_t u_label_a_length(std::string_view label) {
  const auto a_label = a_label_of(label);
  return a_label ? a_label->size() : 0;
}

bool is_u_label(std::string_view label) { return u_label_a_length(label) != 0; }

/// The U-label an A-label stands for ("xn--bcher-kva" -> "bücher", RFC 5890 §2.3.2.1), or
/// nullopt when `label` is no valid A-label: no "xn--" prefix (any case), bad Punycode
/// (RFC 3492), or a decoding that is not a U-label (all ASCII, not NFC, DISALLOWED code
/// points). ASCII letters are folded first: Punycode digits are case-insensitive.
std::optional<std::string> u_label_of(std::string_view label) {
  if (label.size() < 5 || !iequals_ascii(label.substr(0, 4), "xn--") ||
      label.find('*') != std::string_view::npos) {  // a handler pattern's wildcard label
    return std::nullopt;
  }
  std::string text(label);
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  char* unicode = nullptr;
  const int rc = idn2_to_unicode_8z8z(text.c_str(), &unicode, 0);
  std::optional<std::string> out;
  if (rc == IDN2_OK && unicode != nullptr) out = std::string(unicode);
  idn2_free(unicode);
  if (!out || out->find('.') != std::string::npos ||
      std::none_of(out->begin(), out->end(), [](char c) { return (c & 0x80) != 0; }) ||
      !is_u_label(*out)) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::string casefold(std::string_view text) {
  std::string ascii(text);
  for (char& c : ascii) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (std::none_of(text.begin(), text.end(), [](char c) { return (c & 0x80) != 0; }) ||
      !is_valid_utf8(text)) {
    return ascii;
  }
  std::size_t length = 0;
  // The lowercase mapping, not full case folding: folding maps "ß" to "ss" and "ς" to "σ",
  // which IDNA2008 keeps as letters of their own, so straße.example and strasse.example
  // (two domains) would compare equal (probe round 21).
  std::uint8_t* folded = u8_tolower(reinterpret_cast<const std::uint8_t*>(text.data()),
                                    text.size(), nullptr, UNINORM_NFC, nullptr, &length);
  if (folded == nullptr) return ascii;  // out of memory: at least ASCII folded
  std::string out(reinterpret_cast<const char*>(folded), length);
  std::free(folded);
  return out;
}

std::optional<std::string> ascii_domain(std::string_view domain) {
  if (!is_valid_domain(domain, /*allow_utf8=*/true)) return std::nullopt;
  std::string out;
  std::size_t start = 0;
  while (start <= domain.size()) {
    const std::size_t dot = std::min(domain.find('.', start), domain.size());
    const std::string_view label = domain.substr(start, dot - start);
    if (!out.empty() || start != 0) out += '.';
    if (std::any_of(label.begin(), label.end(), [](char c) { return (c & 0x80) != 0; })) {
      auto a_label = a_label_of(label);
      if (!a_label) return std::nullopt;
      out += *a_label;
    } else {
      out += label;
    }
    start = dot + 1;
  }
  return out;
}

std::string comparable_domain(std::string_view domain) {
  if (!domain.empty() && domain.front() == '[') {
    if (auto canonical = canonical_address_literal(domain)) return *canonical;
    return std::string(domain);
  }
  std::string out;
  out.reserve(domain.size());
  std::size_t start = 0;
  while (start <= domain.size()) {
    const std::size_t dot = std::min(domain.find('.', start), domain.size());
    const std::string_view label = domain.substr(start, dot - start);
    if (auto u_label = u_label_of(label)) {
      out += *u_label;
    } else {
      out.append(label);
    }
    if (dot == domain.size()) break;
    out += '.';
    start = dot + 1;
  }
  // Domains are case-insensitive (RFC 5321 §2.4): "a@Example.com" and "a@example.com" give
  // one attribute value, so a regex policy sees one spelling (probe round 36).
  return casefold(out);
}

bool is_valid_domain(std::string_view domain, bool allow_utf8) {
  // The limits are those of the domain in DNS, its A-label form: 63 octets a label, 255 in
  // all (RFC 5321 §4.5.3.1.2, RFC 5890 §2.3.2.1). A U-label is measured by its A-label.
  if (domain.empty() || domain.size() > (allow_utf8 ? 4 * kMaxDomain : kMaxDomain)) return false;
  std::size_t dns_length = 0;  // the A-label form's octets, dots included
  std::size_t start = 0;
  while (true) {
    std::size_t dot = domain.find('.', start);
    std::string_view label =
        domain.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > (allow_utf8 ? 4 * 63 : 63)) return false;
    bool all_digits = true;
    bool non_ascii = false;
    for (std::size_t i = 0; i < label.size();) {
      unsigned char c = static_cast<unsigned char>(label[i]);
      if (c >= 0x80) {
        if (!allow_utf8) return false;
        std::size_t n = common::utf8_sequence_length(label, i);
        if (n == 0) return false;
        all_digits = false;
        non_ascii = true;
        i += n;
        continue;
      }
      if (!is_digit(c)) all_digits = false;
      if (c == '-') {
        if (i == 0 || i + 1 == label.size()) return false;
      } else if (!is_let_dig(c)) {
        return false;
      }
      ++i;
    }
    std::size_t label_length = label.size();
    if (non_ascii) {
      label_length = u_label_a_length(label);  // libidn2 holds the A-label to 63 octets
      if (label_length == 0) return false;
    } else if (label_length > 63) {
      return false;
    }
    dns_length += label_length + (dot == std::string_view::npos ? 0 : 1);
    if (dns_length > kMaxDomain) return false;
    if (dot == std::string_view::npos) return !all_digits;
    start = dot + 1;
  }
}

bool is_valid_address_literal(std::string_view literal) {
  if (literal.size() < 3 || literal.front() != '[' || literal.back() != ']') return false;
  std::string_view body = literal.substr(1, literal.size() - 2);
  if (body.size() > 5 && iequals_ascii(body.substr(0, 5), "IPv6:")) {
    return is_ipv6_literal_body(body.substr(5));
  }
  return is_ipv4_literal_body(body);
}

bool is_valid_helo_argument(std::string_view argument) {
  if (!argument.empty() && argument.front() == '[') return is_valid_address_literal(argument);
  return is_valid_domain(argument, /*allow_utf8=*/false);
}

PathArgument parse_mail_from(std::string_view args) {
  return parse_path_argument(args, "FROM:", PathKind::kReverse);
}

PathArgument parse_rcpt_to(std::string_view args) {
  return parse_path_argument(args, "TO:", PathKind::kForward);
}

namespace {

/// "a.b.c.d" of a valid IPv4 literal body with each octet's leading zeros dropped.
std::string canonical_ipv4(std::string_view body) {
  std::string out;
  std::size_t i = 0;
  while (i < body.size()) {
    int value = 0;
    while (i < body.size() && body[i] != '.') value = value * 10 + (body[i++] - '0');
    if (!out.empty()) out += '.';
    out += std::to_string(value);
    ++i;  // the dot
  }
  return out;
}

}  // namespace

std::optional<std::string> canonical_address_literal(std::string_view literal) {
  if (!is_valid_address_literal(literal)) return std::nullopt;
  std::string_view body = literal.substr(1, literal.size() - 2);
  if (!iequals_ascii(body.substr(0, 5), "IPv6:")) return "[" + canonical_ipv4(body) + "]";
  std::string address(body.substr(5));
  // An IPv4 tail (IPv6v4-full/comp) may carry leading zeros, which inet_pton refuses.
  if (const std::size_t colon = address.rfind(':');
      address.find('.', colon) != std::string::npos) {
    address = address.substr(0, colon + 1) +
              canonical_ipv4(std::string_view(address).substr(colon + 1));
  }
  in6_addr parsed{};
  char text[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET6, address.c_str(), &parsed) != 1) return std::nullopt;
  if (IN6_IS_ADDR_V4MAPPED(&parsed)) {
    // ::ffff:a.b.c.d is the IPv4 host a.b.c.d (RFC 4291 §2.5.5.2): one spelling for both,
    // or a handler for *@[192.0.2.9] misses b@[IPv6:::ffff:192.0.2.9] (probe round 36).
    const std::uint8_t* octets = parsed.s6_addr;
    return "[" + std::to_string(octets[12]) + "." + std::to_string(octets[13]) + "." +
           std::to_string(octets[14]) + "." + std::to_string(octets[15]) + "]";
  }
  if (inet_ntop(AF_INET6, &parsed, text, sizeof text) == nullptr) return std::nullopt;
  return "[IPv6:" + std::string(text) + "]";
}

namespace {

/// `text` in Unicode NFC when it is well-formed UTF-8 with non-ASCII in it, else as it is.
std::string nfc(std::string_view text) {
  if (std::none_of(text.begin(), text.end(), [](char c) { return (c & 0x80) != 0; }) ||
      !is_valid_utf8(text)) {
    return std::string(text);
  }
  std::size_t length = 0;
  std::uint8_t* normal = u8_normalize(UNINORM_NFC, reinterpret_cast<const std::uint8_t*>(text.data()),
                                      text.size(), nullptr, &length);
  if (normal == nullptr) return std::string(text);
  std::string out(reinterpret_cast<const char*>(normal), length);
  std::free(normal);
  return out;
}

}  // namespace

std::string comparable_mailbox(std::string_view mailbox) {
  const std::size_t at = mailbox.rfind('@');
  if (at == std::string_view::npos) return std::string(mailbox);
  std::string out;
  out.reserve(mailbox.size());
  if (mailbox.front() == '"' && at >= 2 && mailbox[at - 1] == '"') {
    for (std::size_t i = 1; i + 1 < at; ++i) {
      if (mailbox[i] == '\\' && i + 2 < at) ++i;  // quoted-pair: the escaped octet itself
      out += mailbox[i];
    }
  } else {
    out.append(mailbox.substr(0, at));
  }
  out = nfc(out);
  out += '@';
  out += comparable_domain(mailbox.substr(at + 1));
  return out;
}

}  // namespace gw::smtp
