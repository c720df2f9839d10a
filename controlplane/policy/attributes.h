// Message attributes and SMTP commands as the policy engine sees them (DESIGN.md §2
// "message attributes"; reference "Configure policy handlers for SMTP commands").
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/attribute_template.h"

namespace gw::controlplane::policy {

/// The SMTP command a policy runs for. kHelo covers HELO and EHLO.
enum class Command { kHelo, kAuth, kMail, kRcpt, kData };

/// "HELO", "AUTH", "MAIL", "RCPT" or "DATA", for reasons and logs.
std::string_view command_name(Command command);

/// Attribute name → value. Ordered, so that attribute changes and audit records come out
/// in a deterministic order; the transparent comparator allows lookups by string_view.
using Attributes = std::map<std::string, std::string, std::less<>>;

/// The attribute names the reference fixes (DESIGN.md §2), plus the two this gateway adds:
/// `client.address` ("ip:port" of the client, for CIDR matches) and
/// `authentication.authorization.id` (the SASL authorization identity, RFC 4616 §2).
namespace attr {
inline constexpr std::string_view kHeloDomain = "smtp.helo.domain";
inline constexpr std::string_view kHeloGreeting = "smtp.helo.greeting";
inline constexpr std::string_view kSubjectId = "authentication.subject.id";
inline constexpr std::string_view kSubjectPassword = "authentication.subject.password";
inline constexpr std::string_view kAuthorizationId = "authentication.authorization.id";
inline constexpr std::string_view kMailFrom = "smtp.mail.from";
inline constexpr std::string_view kRcptTo = "smtp.rcpt.to";
inline constexpr std::string_view kRcptRecipients = "smtp.rcpt.recipients";
inline constexpr std::string_view kContentBody = "content.body";
inline constexpr std::string_view kMessageSource = "message.source";
inline constexpr std::string_view kProtocolType = "message.protocol.type";
inline constexpr std::string_view kMonitoringEnabled = "monitoring.enabled";
inline constexpr std::string_view kClientAddress = "client.address";
}  // namespace attr

/// The greeting template of a HELO handler that sets none (reference "Add an HELO/EHLO
/// policy handler").
inline constexpr std::string_view kDefaultGreeting = "Hello ${smtp.helo.domain}";

/// True for attributes no filter may write: the recipient list is maintained by the relay
/// node (reference: "This is read-only"), and the client's password is input only (writing
/// it would let a policy plant a password that a later attribute_authentication accepts).
/// The envelope (smtp.mail.from, smtp.rcpt.to) too: the node relays the client's addresses
/// and never rewrites them, so a rewrite would be audited but never happen (probe round 15);
/// and the facts of the connection (client.address, message.source,
/// message.protocol.type, monitoring.enabled), which later filters must be able to trust.
/// Names compare in any case, and every "decision.*" name (the audit's own, such as
/// decision.reason) is read-only as well (probe round 18).
bool is_read_only_attribute(std::string_view name);

/// True if `name` is a well-formed attribute name: 1..128 characters of [A-Za-z0-9._-].
using common::is_valid_attribute_name;

/// The built-in attribute (the attr:: names above) that `name` most likely means when
/// `name` is no built-in but looks like one: a built-in in another case ("SMTP.MAIL.FROM"
/// -> "smtp.mail.from", probe round 19), or any name under a built-in's namespace
/// ("smtp.", "client.", "content.", "message.", "authentication.", "monitoring.", in any
/// case) that is none of them ("smtp.mail.form" -> the nearest built-in by edit distance,
/// smtp.mail.from; probe round 39); outside them, a built-in without its first labels
/// ("mail.from") or within two edits of one ("smtp-mail-from"; probe round 40). nullopt
/// for a built-in as spelled and for names of the operator's own (`sender.alias`). Names compare exactly, so such a name is another
/// attribute, never set: a `match` on it always sees "" and a negated rule always passes.
/// Filters, conditions and templates refuse it at compile time with a "did you mean".
std::optional<std::string_view> misspelled_builtin(std::string_view name);

/// The `smtp.rcpt.recipients` value for a recipient list: the addresses in order, joined by
/// ", ". The list itself travels separately (DecisionRequest.recipients); this text form is
/// what conditions and templates see. The addresses come unquoted (`a b@x`, as in
/// smtp.rcpt.to); a local part that is no dot-atom (RFC 5321 §4.1.2; 8-bit octets count as
/// atext, RFC 6531) is written as a quoted-string again, `"x, evil@bad.example"@x`, so the
/// list splits at ", " only between addresses (probe round 41).
std::string join_recipients(const std::vector<std::string>& recipients);

/// The longest value a single-line attribute (greeting, HELO domain, header value) may
/// carry out of the engine: RFC 5322 §2.1.1's 998-octet line limit.
inline constexpr std::size_t kMaxSingleLineValue = 998;

/// The longest value add_header gives a field (before RFC 2047 encoding), folded onto as
/// many lines as it needs (header_field): a list of recipients, say, is kept, not cut at
/// one line's 998 octets (probe round 17).
inline constexpr std::size_t kMaxHeaderValue = 16 * 1024;

/// `text` made safe for one protocol line (common::printable_line): every control
/// character (C0 such as CR, LF, NUL, TAB; DEL; the C1 controls such as NEL U+0085; U+2028
/// and U+2029) and every octet that is not well-formed UTF-8 becomes '?', and the result is
/// cut to `max_octets` without splitting a character. Applied to every value the engine
/// hands back for use in an SMTP line, so a template that pulls in a multi-line value
/// (content.body, a decoded AUTH identity, a SMTPUTF8 address) can never inject a line.
std::string to_single_line(std::string_view text, std::size_t max_octets = kMaxSingleLineValue);

/// True if `text` holds a C0 control character or DEL.
bool has_control_character(std::string_view text);

}  // namespace gw::controlplane::policy
