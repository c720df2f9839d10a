// One line of printable text from untrusted octets: what may go into an SMTP reply or a
// header field value (RFC 5321 §4.2, §4.5.3.1.5; RFC 6531 §3.7.4.2 for UTF-8), and the
// UTF-8 well-formedness rule both ends of the gateway use (RFC 3629 §4).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gw::common {

/// Length in octets (2..4, or 1 for an ASCII octet) of the UTF-8 sequence starting at
/// `text[i]` if it is well-formed (RFC 3629 §4: no overlong forms, no surrogates, nothing
/// above U+10FFFF, not cut off by the end of `text`), else 0. `i` must be < text.size().
std::size_t utf8_sequence_length(std::string_view text, std::size_t i);

/// True if any octet of `text` is >= 0x80: what a 7-bit transaction or a part labelled 7bit
/// may not carry (RFC 5321 §2.4, RFC 6152 §3, RFC 2045 §2.7).
bool has_8bit(std::string_view text);

/// True if all of `text` is well-formed UTF-8 (utf8_sequence_length at every character).
bool is_valid_utf8(std::string_view text);

/// `text` with every octet that does not start a well-formed UTF-8 sequence replaced by
/// U+FFFD (the replacement character, RFC 3629 §3 / Unicode §3.9): what may go into a
/// protobuf `string` field, which must be UTF-8 (a node sending anything else breaks the
/// whole gRPC stream it rides on). Well-formed text comes back unchanged.
std::string to_valid_utf8(std::string_view text);

/// `text` made one printable line of at most `max_octets` octets: printable ASCII and
/// well-formed UTF-8 are kept; each control character is replaced by '?' — C0 (CR, LF, HT,
/// NUL ...), DEL, the C1 controls U+0080..U+009F (U+0085 is a line break to many readers,
/// U+009B a terminal's CSI), U+2028/U+2029 (line and paragraph separators) and the
/// bidirectional embeddings, overrides and isolates (U+202A..E, U+2066..9) — and so is
/// every octet that does not start a well-formed UTF-8 sequence. The line is cut before the
/// first character that would not fit, never inside one, so the result is valid UTF-8.
std::string printable_line(std::string_view text, std::size_t max_octets);

}  // namespace gw::common
