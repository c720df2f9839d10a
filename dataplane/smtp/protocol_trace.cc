// Protocol trace lines with AUTH payloads redacted.
#include "dataplane/smtp/protocol_trace.h"

#include <string>

#include "common/logging.h"
#include "dataplane/smtp/command.h"

namespace gw::smtp {
namespace {

constexpr std::string_view kRedactedResponse = "[SASL response redacted]";
constexpr std::size_t kMaxMechanismName = 20;  // RFC 4422 §3.1

bool is_mechanism_char(char c) {
  // RFC 4422 §3.1: SASL mechanism names are upper-case letters, digits, "-" and "_"
  // (any case accepted here: the session matches them case-insensitively).
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_';
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
  std::size_t n = 0;
  bool upper = false;
  bool lower = false;
  while (n < args.size() && is_mechanism_char(args[n])) {
    upper = upper || (args[n] >= 'A' && args[n] <= 'Z');
    lower = lower || (args[n] >= 'a' && args[n] <= 'z');
    ++n;
  }
  // RFC 4422 §3.1: a mechanism name is 1-20 upper-case letters, digits, "-" and "_" (sent
  // in either case). Anything longer, or in mixed case, is taken for a credential sent in
  // its place (base64 without "=", "+" or "/"; probe round 48) and not shown.
  if (n == 0 || n > kMaxMechanismName || (upper && lower) ||
      (n < args.size() && args[n] != ' ')) {
    out += "[redacted]";
    return out;
  }
  out += args.substr(0, n);
  if (n < args.size()) out += " [redacted]";
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
