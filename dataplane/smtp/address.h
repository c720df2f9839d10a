// Envelope address grammar: EHLO/HELO arguments, reverse- and forward-paths, ESMTP
// parameters (RFC 5321 §4.1.1.1–§4.1.1.3, §4.1.2, §4.1.3; RFC 6531 §3.3 for UTF-8).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gw::smtp {

/// RFC 5321 Domain: dot-separated labels of letters, digits and inner hyphens, each 1–63
/// octets, at most 255 in all, whose last label is not all digits (RFC 1123 §2.1: a host
/// name is never dotted-decimal, so "192.0.2.7" is refused). With `allow_utf8`, a label may
/// also be a U-label (RFC 6531 §3.3): IDNA2008-valid per libidn2, NFC, no mapping.
bool is_valid_domain(std::string_view domain, bool allow_utf8 = false);

/// RFC 5321 §4.1.3 address literal including the brackets: "[192.0.2.7]" or
/// "[IPv6:2001:db8::25]" (tag case-insensitive, RFC 5234 §2.3). General (other-tag)
/// literals and untagged IPv6 are refused.
bool is_valid_address_literal(std::string_view literal);

/// EHLO/HELO argument: a Domain or an address literal (RFC 5321 §4.1.1.1). ASCII only.
bool is_valid_helo_argument(std::string_view argument);

/// True if `text` is well-formed UTF-8 (no overlong forms, surrogates or code points over
/// U+10FFFF).
bool is_valid_utf8(std::string_view text);

/// One ESMTP parameter of MAIL or RCPT (RFC 5321 §4.1.2 esmtp-param).
struct EsmtpParam {
  std::string keyword;  // upper-cased
  std::string value;    // as sent
  bool has_value = false;
};

/// Why a MAIL/RCPT argument was refused; the session maps these to replies
/// (kSyntax → 501 5.5.4, kBadAddress → 501 5.1.7 for MAIL / 501 5.1.3 for RCPT,
/// kBadParameter → 501 5.5.4, kInvalidUtf8 → 501 5.5.2).
enum class PathError { kNone, kSyntax, kBadAddress, kBadParameter, kInvalidUtf8 };

/// A parsed reverse- or forward-path.
struct Path {
  /// The mailbox as it goes upstream between "<" and ">": local part exactly as written
  /// (quoted strings keep their quotes and escapes, field case BR-17), "@", domain; the
  /// source route is dropped (RFC 5321 §4.1.1.3, Appendix C). Empty for the null path.
  std::string mailbox;
  bool is_null = false;        // "<>" (MAIL only)
  bool is_postmaster = false;  // "<postmaster>" without domain (RCPT only, any case)
  bool non_ascii = false;      // holds UTF-8 beyond ASCII (needs SMTPUTF8, RFC 6531)
};

/// Result of parsing the arguments of MAIL ("FROM:<path> params") or RCPT ("TO:<path> ...").
struct PathArgument {
  PathError error = PathError::kNone;
  Path path;
  std::vector<EsmtpParam> params;
};

/// Parses what follows "MAIL " (`args`), e.g. "FROM:<alice@example.com> SIZE=100".
/// One space after the colon is tolerated (field case BR-17). Shell-significant characters
/// "`" and "|" are refused in unquoted local parts (field case BR-16; quoting them is fine).
PathArgument parse_mail_from(std::string_view args);

/// Parses what follows "RCPT " (`args`), e.g. "TO:<@a.example:bob@example.org>". The null
/// path is refused (kBadAddress); "<postmaster>" is accepted.
PathArgument parse_rcpt_to(std::string_view args);

/// RFC 3461 §4 xtext (the value of MAIL's AUTH= parameter, RFC 4954 §5): printable ASCII
/// 33–126 except "+" and "=", and "+" followed by two upper-case hex digits. "<>" is xtext.
/// Empty text is not.
bool is_xtext(std::string_view text);

/// Case-insensitive ASCII comparison.
bool iequals_ascii(std::string_view a, std::string_view b);

/// The canonical spelling of a valid address literal (RFC 5321 §4.1.3): "[192.0.2.1]" for
/// "[192.000.002.001]" (leading zeros dropped, the value is decimal), "[IPv6:2001:db8::1]"
/// for any spelling of that IPv6 address (RFC 5952 form as inet_ntop writes it, tag spelled
/// "IPv6:"), and an IPv4-mapped IPv6 address as its IPv4 literal ("[IPv6:::ffff:192.0.2.9]"
/// -> "[192.0.2.9]", RFC 4291 §2.5.5.2: the same host). nullopt when `literal` is not a
/// valid IPv4 or IPv6 address literal.
std::optional<std::string> canonical_address_literal(std::string_view literal);

/// `text` in lower case (the Unicode lowercase mapping, libunistring u8_tolower; Unicode
/// §3.13) and NFC, for comparisons that ignore case beyond ASCII: "JÜRGEN" and "jürgen"
/// give the same result. Not full case folding: "ß" and "ς" stay themselves (IDNA2008 keeps
/// them distinct: straße.example is not strasse.example). Text that is not well-formed
/// UTF-8 comes back with only its ASCII letters lowered.
std::string casefold(std::string_view text);

/// The domain (or address literal) in the form every spelling of it shares: an address
/// literal in its canonical_address_literal() spelling; otherwise each label that is a valid
/// A-label replaced by its U-label ("xn--bcher-kva.example" -> "bücher.example": the two
/// are one name, RFC 5890 §2.3.2.1, RFC 6531 §3.2), other labels (and "*" wildcards) as
/// written; then in lower case (casefold(): domains are case-insensitive, RFC 5321 §2.4).
/// Never fails: what is not recognised comes back unchanged but for its case.
std::string comparable_domain(std::string_view domain);

/// `domain` with each U-label replaced by its A-label ("bücher.example" ->
/// "xn--bcher-kva.example", RFC 5890 §2.3.2.1): the form for where only ASCII may go (an
/// EHLO argument, RFC 5321 §4.1.1.1). nullopt unless `domain` is valid per
/// is_valid_domain(domain, /*allow_utf8=*/true).
std::optional<std::string> ascii_domain(std::string_view domain);

/// The mailbox (Path::mailbox: local part as written, "@", domain) in the form two
/// spellings of the same mailbox share: a quoted-string local part unquoted (quotes
/// dropped, quoted-pairs resolved: "\"c\\eo\"@x" -> "ceo@x"; RFC 5321 §4.1.2: all quoted
/// forms of a local part MUST be treated as equivalent), in Unicode NFC (RFC 6532 §3.1; its
/// case is kept: a local part may be case-sensitive, RFC 5321 §2.4), and the domain in its
/// comparable_domain() spelling (address literal canonical, A-labels as U-labels, lower
/// case: probe round 16, a deny handler for *@bücher.example passed MAIL
/// FROM:<a@xn--bcher-kva.example>; probe round 36, a regex on smtp.rcpt.to missed
/// a@Example.com and an NFD local part).
/// Handler selection and policy attributes use
/// this form, so no other spelling slips past a handler, while the upstream still gets the
/// mailbox as written (field case BR-17). Other mailboxes (and "<>", "postmaster") come
/// back unchanged.
std::string comparable_mailbox(std::string_view mailbox);

}  // namespace gw::smtp
