// The per-service protocol trace of a relay session: every SMTP line on both legs, with
// AUTH payloads left out (DESIGN.md §8, the reference's "DATA ... rcv/snd" trace).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "dataplane/smtp/reply.h"

namespace gw::smtp {

/// Which leg and way a traced line went (the reference trace's rcv/snd, per leg).
enum class TraceDirection {
  kFromClient,    // "c>g": client to gateway
  kToClient,      // "g>c": gateway to client
  kToUpstream,    // "g>u": gateway to upstream
  kFromUpstream,  // "u>g": upstream to gateway
};

/// "c>g", "g>c", "g>u" or "u>g".
std::string_view trace_direction_name(TraceDirection direction);

/// Turns the SMTP lines of one session into trace lines and hands each to a sink, one call
/// per line, without its CRLF, printable (common::log_escape, at most kMaxLineOctets octets
/// kept). What it leaves out, whatever the mechanism (RFC 4954 §4, DESIGN.md §7 "Secrets"):
/// - the initial response of an AUTH command, either leg: "AUTH PLAIN [redacted]"; the
///   mechanism itself unless it is one of IANA's registered SASL mechanisms (a credential
///   may stand in its place): "AUTH [redacted]";
/// - every SASL response (a client line read while an AUTH exchange waits; a gateway line
///   to the upstream after an AUTH command until the upstream's reply other than 334),
///   "*" (cancel) excepted: "[SASL response redacted]";
/// - the text of every 334 challenge, either leg: "334 [challenge redacted]";
/// - message content: it never passes through here; the session traces its size
///   (message()).
/// Not thread-safe: one per session, on the session's executor.
class ProtocolTrace {
 public:
  /// Receives one trace line: direction and escaped text.
  using Sink = std::function<void(TraceDirection, std::string_view)>;
  /// Octets of one SMTP line kept in the trace (the rest is cut, "..." appended).
  static constexpr std::size_t kMaxLineOctets = 512;

  explicit ProtocolTrace(Sink sink) : sink_(std::move(sink)) {}

  /// A command line from the client (without CRLF). `sasl_response`: the session read it as
  /// the response to a 334 it sent (RFC 4954 §4).
  void client_line(std::string_view line, bool sasl_response);
  /// A client line the session refused unread (too long; bare CR, bare LF or NUL): only
  /// `why` is traced, never the line, which may be a credential.
  void client_line_refused(std::string_view why);
  /// Octets the gateway is about to write to the client: one or more CRLF-ended reply lines
  /// (a partial last line is traced as it is).
  void to_client(std::string_view octets);
  /// Octets the gateway writes to the upstream as commands (one or more CRLF-ended lines:
  /// a pipelined group, an AUTH step). Not for message content.
  void to_upstream(std::string_view octets);
  /// One complete reply read from the upstream.
  void from_upstream(const Reply& reply);
  /// Message content went `direction` (kFromClient or kToUpstream): its size only.
  void message(TraceDirection direction, std::uint64_t octets);
  /// A TLS handshake on the client leg (kFromClient) or the upstream leg (kToUpstream)
  /// ended: `detail` is the protocol and cipher ("TLSv1.3 TLS_AES_256_GCM_SHA384") when
  /// `established`, else why it failed (the reference traces "negotiated SSL cipher").
  void tls(TraceDirection direction, bool established, std::string_view detail);

 private:
  void emit(TraceDirection direction, std::string_view line);
  /// `line` of a reply, 334 text redacted.
  void emit_reply_line(TraceDirection direction, std::string_view line);

  Sink sink_;
  bool upstream_sasl_ = false;  // an AUTH went upstream; its exchange is not over
};

}  // namespace gw::smtp
