// The policy decision point: one compiled policy over one command's message attributes →
// a decision (DESIGN.md §2 "decision", §6; reference "Configure policy handlers for SMTP
// commands", "SMTP Content-Transfer-Encoding"). Pure: no I/O, no clock, no locks.
#pragma once

#include <string>
#include <string_view>

#include "controlplane/policy/attributes.h"
#include "controlplane/policy/compiled_policy.h"
#include "controlplane/policy/mime_message.h"
#include "controlplane/policy/smtp_reply.h"
#include "controlplane/policy/user_directory.h"

namespace gw::controlplane::policy {

/// What the relay node does with the command.
enum class Verdict {
  kContinue,  // the command goes on
  kReject,    // permanent failure with the decision's reply (5xx)
  kTempfail,  // temporary failure with the decision's reply (4xx)
};

/// "continue", "reject" or "tempfail".
std::string_view verdict_name(Verdict verdict);

/// The outcome of one evaluation.
struct Decision {
  Verdict verdict = Verdict::kContinue;
  SmtpReply reply;  // set for kReject / kTempfail; code 0 for kContinue
  /// Final values of the attributes the policy wrote (set_attribute), and for HELO always
  /// smtp.helo.greeting. Never authentication.subject.password (read-only) nor
  /// content.body (a changed body comes back as a replaced message instead).
  Attributes changes;
  /// DATA only: *message now holds the new message. False whenever nothing changed — an
  /// unchanged message is never re-serialised (DESIGN.md §7 "Byte exact").
  bool message_replaced = false;
  /// Why the policy failed, for the audit trail: "filter 2 (match): condition not met: ...".
  /// Names attributes and patterns, never an attribute's value. Empty on kContinue.
  std::string reason;
  int failed_filter = 0;  // 1-based position of the failing filter; 0 if none
};

/// Evaluates `policy` for `command`.
///
/// - `attributes` are the command's message attributes (names as in attributes.h); the
///   policy's changes are applied to them, so afterwards they hold the final values (what
///   the audit record shows, minus the password). Values the engine writes for use in SMTP
///   lines are single safe lines (to_single_line).
/// - HELO: smtp.helo.greeting holds the handler's greeting template (kDefaultGreeting when
///   absent or empty); it is expanded before the first filter and always reported.
/// - DATA: `message` is the whole unstuffed message, headers and body, CRLF lines. Its
///   MIME structure is parsed first under `limits`; over a limit the decision is reject
///   554 5.6.0 whatever the policy (fail closed, BR-29). content.body is then the decoded
///   body (decode_content_body) for the policy's filters, and is removed from
///   `attributes` at the end. When the policy passes, header edits are applied to the top
///   header block, and a changed content.body is re-encoded: base64 in 76-character CRLF
///   lines for a single base64 part, the text as is (line endings made CRLF, a final CRLF
///   added) for any other single part, except that 8-bit octets in the result leave a
///   part as quoted-printable or base64 unless the part is labelled 8bit/binary and
///   `eight_bit_allowed` (the MAIL went upstream with BODY=8BITMIME; RFC 6152 §3); changing
///   the body of a multipart message is
///   refused with reject 554 5.6.0 (this build does not rebuild multiparts). `message`
///   may be null (no message: nothing to parse or replace).
/// - Filters run in order; one whose `when` is false is skipped; the first failure ends
///   the policy with the policy's reply (its text expanded) or default_reply(command). A
///   4xx reply gives kTempfail, a 5xx reply kReject.
///
/// Thread-safe for distinct `attributes`/`message`; costs one Argon2id verification per
/// attribute_authentication filter reached, so callers run it off event-loop threads.
Decision evaluate(const CompiledPolicy& policy, Command command, Attributes& attributes,
                  const UserDirectory& users, std::string* message, const MimeLimits& limits = {},
                  bool eight_bit_allowed = false);

}  // namespace gw::controlplane::policy
