// Protocol trace lines with AUTH payloads redacted.
#include "dataplane/smtp/protocol_trace.h"

#include <string>

#include "common/logging.h"
#include "dataplane/smtp/address.h"
#include "dataplane/smtp/command.h"

namespace gw::smtp {
namespace {

constexpr std::string_view kRedactedResponse = "[SASL response redacted]";

// The SASL mechanisms of IANA's registry a mail client may name (RFC 4422 §3.1 and the
// "SASL Mechanisms" registry; SCRAM families with and without -PLUS). Only these are shown:
// a token that is not one may be a credential sent in its place (probe rounds 48 and 49:
// "AUTH <base64>", "AUTH SECRETPASS7").
constexpr std::string_view kKnownMechanisms[] = {
    "PLAIN",         "LOGIN",           "CRAM-MD5",        "DIGEST-MD5",
    "SCRAM-SHA-1",   "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256",  "SCRAM-SHA-256-PLUS",
    "SCRAM-SHA-512", "SCRAM-SHA-512-PLUS", "XOAUTH2",      "OAUTHBEARER",
    "GSSAPI",        "GS2-KRB5",        "GS2-KRB5-PLUS",   "NTLM",
    "EXTERNAL",      "ANONYMOUS",       "OTP",             "SECURID",
    "KERBEROS_V4",   "KERBEROS_V5",     "9798-U-RSA-SHA1-ENC", "EAP-AES128"};

bool is_known_mechanism(std::string_view token) {
  for (std::string_view known : kKnownMechanisms) {
    if (iequals_ascii(token, known)) return true;
  }
  return false;
}

/// The traced form of a command line: AUTH keeps its mechanism only; a line that is no SMTP
/// command at all (a SASL response sent out of turn, a password typed at the wrong prompt)
/// is not shown, only its length.
std::string redact_command(std::string_view line) {
  const Command cmd = parse_command(line);
  if (cmd.verb == Verb::kUnknown) {
    return "[unrecognized line redacted, " + std::to_string(line.size()) + " octets]";
  }
  if (cmd.verb != Verb::kAuth) return std::string(line);
  // The verb as sent, then the mechanism only: cmd.args has trailing SP/HTAB dropped, so
  // nothing is measured from the end of the line (probe round 48: trailing blanks moved
  // the cut into the initial response).
  std::string out(line.substr(0, verb_name(Verb::kAuth).size()));
  const std::string_view args = cmd.args;
  if (args.empty()) return out;
  out += ' ';
  const std::size_t space = args.find(' ');
  const std::string_view mechanism = args.substr(0, space);
  if (!is_known_mechanism(mechanism)) {
    out += "[redacted]";
    return out;
  }
  out += mechanism;
  if (space != std::string_view::npos) out += " [redacted]";
  return out;
}

/// Calls `each` with every line of `octets`, CRLF removed; a last line without CRLF too.
template <typename Each>
void for_each_line(std::string_view octets, Each each) {
  while (!octets.empty()) {
    const std::size_t end = octets.find("\r\n");
    if (end == std::string_view::npos) {
      each(octets);
      return;
    }
    each(octets.substr(0, end));
    octets.remove_prefix(end + 2);
  }
}

}  // namespace

std::string_view trace_direction_name(TraceDirection direction) {
  switch (direction) {
    case TraceDirection::kFromClient:
      return "c>g";
    case TraceDirection::kToClient:
      return "g>c";
    case TraceDirection::kToUpstream:
      return "g>u";
    case TraceDirection::kFromUpstream:
      return "u>g";
  }
  return "?";
}

void ProtocolTrace::emit(TraceDirection direction, std::string_view line) {
  sink_(direction, common::log_escape(line, kMaxLineOctets));
}

void ProtocolTrace::emit_reply_line(TraceDirection direction, std::string_view line) {
  // "334 " or "334-": a SASL challenge, whatever the mechanism puts in it.
  if (line.size() >= 3 && line.substr(0, 3) == "334") {
    emit(direction, std::string(line.substr(0, std::min<std::size_t>(line.size(), 4))) +
                        "[challenge redacted]");
    return;
  }
  emit(direction, line);
}

void ProtocolTrace::client_line(std::string_view line, bool sasl_response) {
  if (sasl_response) {
    emit(TraceDirection::kFromClient, line == "*" ? std::string_view("*") : kRedactedResponse);
    return;
  }
  emit(TraceDirection::kFromClient, redact_command(line));
}

void ProtocolTrace::client_line_refused(std::string_view why) {
  emit(TraceDirection::kFromClient, "[line refused: " + std::string(why) + "]");
}

void ProtocolTrace::to_client(std::string_view octets) {
  for_each_line(octets, [this](std::string_view line) {
    emit_reply_line(TraceDirection::kToClient, line);
  });
}

void ProtocolTrace::to_upstream(std::string_view octets) {
  for_each_line(octets, [this](std::string_view line) {
    if (parse_command(line).verb == Verb::kAuth) {
      upstream_sasl_ = true;
      emit(TraceDirection::kToUpstream, redact_command(line));
    } else if (upstream_sasl_) {
      emit(TraceDirection::kToUpstream, line == "*" ? std::string_view("*") : kRedactedResponse);
    } else {
      emit(TraceDirection::kToUpstream, redact_command(line));
    }
  });
}

void ProtocolTrace::from_upstream(const Reply& reply) {
  if (reply.code != 334) upstream_sasl_ = false;
  for_each_line(reply.wire(), [this](std::string_view line) {
    emit_reply_line(TraceDirection::kFromUpstream, line);
  });
}

void ProtocolTrace::tls(TraceDirection direction, bool established, std::string_view detail) {
  emit(direction, std::string(established ? "[TLS established: " : "[TLS handshake failed: ") +
                      std::string(detail) + "]");
}

void ProtocolTrace::message(TraceDirection direction, std::uint64_t octets) {
  emit(direction, "[message content, " + std::to_string(octets) + " octets]");
}

}  // namespace gw::smtp
