// Table-driven base64 codec.
#include "controlplane/policy/base64.h"

#include <array>
#include <cstdint>

namespace gw::controlplane::policy {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_table() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i)
    t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}
constexpr auto kTable = make_table();

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

}  // namespace

std::string base64_decode(std::string_view text, std::size_t* defects, bool* misaligned) {
  std::string out;
  out.reserve(text.size() / 4 * 3 + 3);
  std::uint32_t acc = 0;
  int n = 0;
  bool after_padding = false;
  int group_at_padding = 0;  // characters of the group the current "=" run ended
  int padding_run = 0;
  auto defect = [&] {
    if (defects) ++*defects;
  };
  for (char c : text) {
    const int v = kTable[static_cast<unsigned char>(c)];
    if (v >= 0) {
      if (after_padding) {
        defect();  // padding in the middle: decode across it (BR-28)
        if (misaligned && (group_at_padding == 1 || (group_at_padding == 2 && padding_run == 1))) {
          *misaligned = true;
        }
        after_padding = false;
        padding_run = 0;
      }
      acc = (acc << 6) | static_cast<std::uint32_t>(v);
      if (++n == 4) {
        out += static_cast<char>((acc >> 16) & 0xff);
        out += static_cast<char>((acc >> 8) & 0xff);
        out += static_cast<char>(acc & 0xff);
        acc = 0;
        n = 0;
      }
    } else if (c == '=') {
      if (padding_run++ == 0) group_at_padding = n;
      if (n == 2) {
        out += static_cast<char>((acc >> 4) & 0xff);
      } else if (n == 3) {
        out += static_cast<char>((acc >> 10) & 0xff);
        out += static_cast<char>((acc >> 2) & 0xff);
      } else if (n == 1) {
        defect();
        // A group of one character cannot be decoded: Python's email package then shows
        // the whole part raw, other readers drop the character (probe round 23).
        if (misaligned) *misaligned = true;
      }
      acc = 0;
      n = 0;
      after_padding = true;
    } else if (!is_space(c)) {
      defect();
    }
  }
  if (n == 2) {
    out += static_cast<char>((acc >> 4) & 0xff);
  } else if (n == 3) {
    out += static_cast<char>((acc >> 10) & 0xff);
    out += static_cast<char>((acc >> 2) & 0xff);
  } else if (n == 1) {
    defect();
    if (misaligned) *misaligned = true;  // as above: one character left over
  }
  return out;
}

std::string base64_encode(std::string_view bytes, std::size_t line_length) {
  std::string out;
  const std::size_t chars = (bytes.size() + 2) / 3 * 4;
  out.reserve(chars + (line_length ? chars / line_length * 2 + 2 : 0));
  std::size_t column = 0;
  auto put = [&](char c) {
    out += c;
    if (line_length && ++column == line_length) {
      out += "\r\n";
      column = 0;
    }
  };
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (static_cast<std::uint8_t>(bytes[i]) << 16) |
                            (static_cast<std::uint8_t>(bytes[i + 1]) << 8) |
                            static_cast<std::uint8_t>(bytes[i + 2]);
    put(kAlphabet[(v >> 18) & 63]);
    put(kAlphabet[(v >> 12) & 63]);
    put(kAlphabet[(v >> 6) & 63]);
    put(kAlphabet[v & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = static_cast<std::uint8_t>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
    put(kAlphabet[(v >> 18) & 63]);
    put(kAlphabet[(v >> 12) & 63]);
    put(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    put('=');
  }
  if (line_length && column != 0) out += "\r\n";
  return out;
}

}  // namespace gw::controlplane::policy
