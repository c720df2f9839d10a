// Quoted-printable (RFC 2045 §6.7): decoding for DATA policies, encoding of a body a policy
// rewrote.
#pragma once

#include <string>
#include <string_view>

namespace gw::controlplane::policy {

/// Decodes quoted-printable `text` the way mail readers do (Python's quopri, libmime):
/// trailing spaces and tabs of each line are dropped (RFC 2045 §6.7 rule 3: added in
/// transport), a line that then ends in "=" is a soft line break (joined with the next),
/// "=XX" with two hex digits in either case is the octet, and any other "=" stays as it is.
/// Lines end in CRLF in the output (a final line without one gets none). Never fails.
std::string qp_decode(std::string_view text);

/// Encodes `crlf_text` (lines ending in CRLF) as quoted-printable: "=", control octets other
/// than TAB, octets above 126, and a space or tab that ends a line are written "=XX"; lines
/// longer than 76 characters get soft line breaks (RFC 2045 §6.7 rules 1–5).
/// qp_decode(qp_encode(t)) == t for any such text.
std::string qp_encode(std::string_view crlf_text);

/// RFC 2045 §6.7 rule 5: quoted-printable lines are at most 76 characters; longer ones in
/// `crlf_text` (already quoted-printable) get soft line breaks ("=" CRLF), never inside an
/// "=XX" escape. The decoded text is unchanged.
std::string qp_rewrap(std::string_view crlf_text);

}  // namespace gw::controlplane::policy
