// Base64 Content-Transfer-Encoding (RFC 2045 §6.8) as mail needs it: lenient decoding that
// agrees with mainstream MUAs, and strict encoding in 76-character CRLF lines (field case
// BR-28).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gw::controlplane::policy {

/// Decodes `text`, ignoring every character outside the base64 alphabet (whitespace, line
/// breaks of any length, stray bytes; RFC 2045 §6.8). "=" ends the current 4-character
/// group: a group of 2 or 3 characters yields its 1 or 2 octets, and decoding goes on
/// with the characters after the padding, so "QUJDRA==RUZHSA==" is "ABCDEFGH" — the whole
/// text is decoded and scanned, never a prefix that stops at the first "=" (BR-28). A
/// dangling single character is dropped. `defects`, when given, is incremented once per
/// irregularity (padding before the end, a dangling character, a character outside the
/// alphabet that is not whitespace). `misaligned`, when given, is set when padding ends a
/// group of 2 with a single "=" and more data follows: other decoders skip such an "=" and
/// stay in the group, so they read different octets from then on (probe round 6, BR-28);
/// and when a group of 1 character is left over (before padding or at the end; the
/// alphabet count is 4n+1): Python's email package cannot decode that and shows the text
/// raw, others drop the character (probe round 23). A caller that must see what every
/// reader sees refuses.
std::string base64_decode(std::string_view text, std::size_t* defects = nullptr,
                          bool* misaligned = nullptr);

/// Encodes `bytes` as base64 with "=" padding, in lines of at most `line_length` characters
/// (a multiple of 4; 76 per RFC 2045 §6.8), each line ending in CRLF, the last one too.
/// Empty input gives "". line_length 0: one line without a line break.
std::string base64_encode(std::string_view bytes, std::size_t line_length = 76);

}  // namespace gw::controlplane::policy
