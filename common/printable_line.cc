// UTF-8 sequences and printable single lines.
#include "common/printable_line.h"

#include <algorithm>
#include <cstdint>

namespace gw::common {

std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  auto octet = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = octet(i);
  std::size_t length = 0;
  std::uint32_t code_point = 0;
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
    code_point = lead & 0x1fu;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    code_point = lead & 0x0fu;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    code_point = lead & 0x07u;
  } else {
    return 0;  // a continuation octet, 0xc0/0xc1 (always overlong) or 0xf5..0xff
  }
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((octet(i + k) & 0xc0) != 0x80) return 0;
    code_point = (code_point << 6) | (octet(i + k) & 0x3fu);
  }
  if ((length == 3 && code_point < 0x800) || (length == 4 && code_point < 0x10000) ||
      code_point > 0x10ffff || (code_point >= 0xd800 && code_point <= 0xdfff)) {
    return 0;
  }
  return length;
}

bool has_8bit(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

bool is_valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = utf8_sequence_length(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string to_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = utf8_sequence_length(text, i);
    if (length == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

namespace {

/// True if the well-formed sequence text[i, i + length) is a character printable_line
/// keeps: not a C0/DEL/C1 control, not U+2028/U+2029, and not a bidirectional embedding,
/// override or isolate (U+202A..U+202E, U+2066..U+2069: they reorder the rest of a line on
/// screen, "Trojan Source"; probe round 20 saw U+202E from an AUTH identity reverse a
/// `gctl audit` row). The marks U+200E/U+200F/U+061C stay: Hebrew and Arabic text uses
/// them, and they reorder nothing beyond themselves.
bool printable(std::string_view text, std::size_t i, std::size_t length) {
  const auto lead = static_cast<unsigned char>(text[i]);
  if (length == 1) return lead >= 0x20 && lead != 0x7f;
  const auto second = static_cast<unsigned char>(text[i + 1]);
  if (lead == 0xc2 && second <= 0x9f) return false;  // U+0080..U+009F
  if (length == 3 && lead == 0xe2) {
    const auto third = static_cast<unsigned char>(text[i + 2]);
    if (second == 0x80 && (third == 0xa8 || third == 0xa9)) return false;  // U+2028, U+2029
    if (second == 0x80 && third >= 0xaa && third <= 0xae) return false;  // U+202A..U+202E
    if (second == 0x81 && third >= 0xa6 && third <= 0xa9) return false;  // U+2066..U+2069
  }
  return true;
}

}  // namespace

std::string printable_line(std::string_view text, std::size_t max_octets) {
  std::string out;
  out.reserve(std::min(text.size(), max_octets));
  for (std::size_t i = 0; i < text.size();) {
    // A control character becomes one '?'; so does each octet of an ill-formed sequence.
    const std::size_t length = utf8_sequence_length(text, i);
    const bool keep = length != 0 && printable(text, i, length);
    if (out.size() + (keep ? length : 1) > max_octets) break;
    if (keep) {
      out.append(text.substr(i, length));
    } else {
      out.push_back('?');
    }
    i += length != 0 ? length : 1;
  }
  return out;
}

}  // namespace gw::common
