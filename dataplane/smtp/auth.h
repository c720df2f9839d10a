// SMTP AUTH (RFC 4954) without I/O: the reference's AUTH scenario matrix, strict base64 for
// SASL responses, and the PLAIN (RFC 4616) and LOGIN message rules.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gw::smtp {

/// The three AUTH decisions of the reference's "SMTP authentication" matrix (DESIGN.md §4).
struct AuthDecision {
  bool advertise = false;               // offer AUTH to the client
  bool proxy = false;                   // relay the client's AUTH exchange to the upstream
  bool gateway_authenticates = false;   // log in to the upstream with the service's credentials
  /// MAIL needs a successful client AUTH first (530 5.7.0, RFC 4954 §6): the gateway lends
  /// its own upstream login only to the clients it authenticated itself. Without this an
  /// auth handler would guard nothing, since a client that never sent AUTH (or failed it)
  /// would send as the service account (probe round 35).
  bool require_client_auth = false;
};

/// `handler`: an auth handler is configured; `credentials`: the service has an upstream user
/// name and password; `upstream_offers_auth`: the upstream's EHLO lists AUTH.
/// advertise ⇔ handler ∨ (¬credentials ∧ upstream); proxy ⇔ ¬handler ∧ ¬credentials ∧
/// upstream; gateway_authenticates ⇔ credentials ∧ upstream (DESIGN.md §4);
/// require_client_auth ⇔ handler ∧ gateway_authenticates. (Whether AUTH may be used on an
/// unencrypted connection is a separate rule, applied by the session.)
AuthDecision auth_matrix(bool handler, bool credentials, bool upstream_offers_auth);

/// Where a SASL response stands in the AUTH exchange (RFC 4954 §4).
enum class SaslPosition {
  /// On the AUTH line: "=" alone is a present, empty response; nothing is no response.
  kInitialResponse,
  /// After a 334: the empty line is the empty response; "=" is taken as one too (field
  /// case BR-08 reads it so, and clients send it), and relayed as the empty line.
  kContinuation,
};

/// Decodes a SASL response strictly (RFC 4648 §4 alphabet, length a multiple of 4, "="
/// padding only at the end, the pad bits before it zero as RFC 4648 §3.5 allows a decoder
/// to insist) with the zero-length form of its `position` (RFC 4954 §4).
/// Returns nullopt for anything else (the caller answers 501 5.5.2). Never reads past `text`.
std::optional<std::string> decode_sasl_base64(std::string_view text, SaslPosition position);

/// base64 of `bytes` (RFC 4648 §4, with padding, no line breaks).
std::string encode_base64(std::string_view bytes);

/// A decoded PLAIN message: [authzid] NUL authcid NUL passwd (RFC 4616 §2).
struct PlainCredentials {
  std::string authzid;  // may be empty
  std::string authcid;
  std::string password;
};

/// True if `identity` (a SASL authentication or authorization identity, PLAIN or LOGIN) is
/// well-formed UTF-8 without a control character: no C0 (TAB included), DEL, C1
/// (U+0080..U+009F, NEL among them), U+2028/U+2029 or bidirectional control — the set
/// common::printable_line replaces (probe round 23: NEL and U+2028 got through). Such an
/// identity never names a user and would break the lines it is logged or audited on.
bool is_printable_identity(std::string_view identity);

/// Why a PLAIN message was refused: kMalformed → 501 5.5.2 (not exactly two NULs, empty
/// authentication identity or password, an identity that is not is_printable_identity(), a
/// password that is not well-formed UTF-8: RFC 4616 §2 defines all three as UTF8SAFE).
enum class PlainError { kNone, kMalformed };

/// Splits a decoded PLAIN message. Returns kMalformed for a message that cannot carry
/// credentials, including the zero-length one ("AUTH PLAIN =", field case BR-08).
PlainError parse_plain(std::string_view decoded, PlainCredentials& out);

/// RFC 4954 §4: AUTH must be the last command of a pipelined group, except when it carries
/// an initial response for a mechanism in which the client speaks first and that completes
/// in one round trip without a security layer: PLAIN (RFC 4616) and EXTERNAL (RFC 4422
/// appendix A). Commands pipelined behind such an AUTH run after its reply. `mechanism` is
/// upper-case; "=" (an empty initial response) counts as one.
bool auth_ends_pipeline_group(std::string_view mechanism, bool has_initial_response);

/// auth_ends_pipeline_group for the arguments of an AUTH command line ("mechanism
/// [initial-response]", RFC 4954 §4); the mechanism is compared case-insensitively.
bool auth_command_ends_pipeline_group(std::string_view args);

/// The longest command line an SMTP client may send, CRLF included (RFC 5321 §4.5.3.1.4).
inline constexpr std::size_t kMaxClientCommandLine = 512;

/// The AUTH command line a client sends for `mechanism` with `initial_response` (base64,
/// or "=" for an empty one), CRLF included: "AUTH MECH IR\r\n" when that fits in
/// kMaxClientCommandLine octets, else "AUTH MECH\r\n" and `deferred` gets the response,
/// to send as the answer to the server's (empty) 334 challenge. RFC 4954 §4: "If use of
/// the initial response argument would cause the AUTH command to exceed this length, the
/// client MUST NOT use the initial response parameter" (probe round 31: a 400-octet
/// password made a 561-octet line, which upstreams answer 500). An empty
/// `initial_response` means none: "AUTH MECH\r\n", `deferred` empty.
std::string auth_command_line(std::string_view mechanism, std::string_view initial_response,
                              std::string& deferred);

/// True for a line that cancels a SASL exchange ("*", RFC 4954 §4: the server answers 501).
inline bool is_sasl_cancel(std::string_view line) { return line == "*"; }

}  // namespace gw::smtp
