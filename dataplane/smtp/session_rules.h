// The session's protocol rules as pure functions: which command is legal in which state
// (OpenSMTPD-style check before filter and proceed; RFC 5321 §4.1.4, §3.3).
#pragma once

#include <optional>

#include "dataplane/smtp/command.h"
#include "dataplane/smtp/reply.h"

namespace gw::smtp {

/// Where an SMTP session is in its dialogue.
enum class SessionState {
  kConnected,  // banner sent, no HELO/EHLO yet (also right after STARTTLS, RFC 3207 §4.2)
  kGreeted,    // HELO/EHLO accepted, no transaction
  kMail,       // MAIL accepted, no recipient yet
  kRcpt,       // at least one RCPT accepted
};

/// Returns the error reply for `verb` in `state`, or nullopt if the command may proceed to
/// its own argument checks. Order errors are 503 5.5.1 (RFC 5321 §4.1.4); DATA with a
/// transaction but no accepted recipient is 554 5.5.1 (RFC 5321 §3.3 "no valid recipients").
std::optional<Reply> check_command_order(SessionState state, Verb verb);

/// True if `verb` may run on a service that requires TLS before TLS is in force: NOOP,
/// EHLO, STARTTLS and QUIT (RFC 3207 §4); every other command gets 530 5.7.0 "Must issue a
/// STARTTLS command first" (field case BR-06). An unknown verb is not refused here (it gets
/// its 500 5.5.1).
bool allowed_before_starttls(Verb verb);

}  // namespace gw::smtp
