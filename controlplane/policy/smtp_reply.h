// SMTP replies of policy decisions: basic code (RFC 5321 §4.2), enhanced status code
// (RFC 3463) and text; the per-command defaults of DESIGN.md §6; parsing of a policy's
// `reply` ("550 5.7.1 text with ${attr}").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "controlplane/policy/attributes.h"
#include "controlplane/policy/result.h"

namespace gw::controlplane::policy {

/// One SMTP reply line. `code` is 0 when there is no reply (a decision that continues).
struct SmtpReply {
  unsigned code = 0;
  std::string enhanced_code;  // "c.s.d" (RFC 3463 §2), class digit == code / 100
  std::string text;

  bool operator==(const SmtpReply&) const = default;
};

/// The subject and detail of an RFC 3463 status; the class digit comes from the basic code.
struct StatusDetail {
  unsigned subject;
  unsigned detail;
};
/// X.7.1 "Delivery not authorized, message refused" (RFC 3463 §3.8).
inline constexpr StatusDetail kDeliveryNotAuthorized{7, 1};
/// X.7.8 "Authentication credentials invalid" (RFC 4954 §6).
inline constexpr StatusDetail kCredentialsInvalid{7, 8};
/// X.6.0 "Other or undefined media error" (RFC 3463 §3.7): the message's MIME structure
/// cannot be handled (field cases BR-25, BR-29).
inline constexpr StatusDetail kMediaError{6, 0};

/// "c.s.d" for a reply `code` (4xx → class 4, 5xx → class 5) and a status detail.
std::string enhanced_code(unsigned code, StatusDetail detail);

/// The reply of a failed policy that sets none (DESIGN.md §6): HELO 550 5.7.1, AUTH 535
/// 5.7.8, MAIL 550 5.7.1, RCPT 550 5.7.1, DATA 554 5.7.1, each with a short text.
SmtpReply default_reply(Command command);

/// 554 5.6.0 with `text`: the DATA decision when the message's MIME structure is over a
/// limit or cannot be changed as the policy asks (fail closed, field case BR-29).
SmtpReply media_error_reply(std::string_view text);

/// The longest reply text that still fits one reply line of 512 octets with code, enhanced
/// code and CRLF (RFC 5321 §4.5.3.1.5).
std::size_t max_reply_text(const SmtpReply& reply);

/// nullopt when `code` (4yz or 5yz) may refuse `command`, else a one-line reason. The codes
/// the RFCs give each command, plus 421 (any command, RFC 5321 §3.8) and 554 (the policy
/// refusal Postfix and others use for every command):
/// HELO 451, 501, 504, 550 (RFC 5321 §4.3.2); MAIL and RCPT 450, 451, 452, 455, 530, 550,
/// 551 (RCPT only), 552, 553, 555 (§4.3.2, RFC 4954 §6); DATA (its end) 450, 451, 452, 550,
/// 552; AUTH 432, 454, 500, 501, 504, 530, 534, 535, 538 (RFC 4954 §6). A refusal with another
/// code reads as something else (probe round 45: "535" to a RCPT, "451" to an AUTH).
std::optional<std::string> reply_code_misfit(Command command, unsigned code);

/// A policy's configured reply: code and enhanced code fixed, the text still a template.
struct ReplyTemplate {
  unsigned code = 0;
  std::string enhanced_code;
  std::string text;  // may hold ${attr} references; may be empty (the command's text)
};

/// Parses "NNN X.Y.Z text": NNN a 4xx or 5xx code, X.Y.Z an enhanced code whose class is
/// the code's first digit (subject and detail 0..999, RFC 3463 §2), then optionally one
/// space and the text (no control characters, at most 400 octets). Error: a one-line
/// reason naming the rule that was broken.
Result<ReplyTemplate, std::string> parse_reply(std::string_view text);

}  // namespace gw::controlplane::policy
