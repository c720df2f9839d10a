// Quoted-printable codec.
#include "controlplane/policy/quoted_printable.h"

namespace gw::controlplane::policy {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

void append_escaped(std::string& out, unsigned char octet) {
  out += '=';
  out += kHex[octet >> 4];
  out += kHex[octet & 0xf];
}

}  // namespace

std::string qp_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    const bool has_break = end != std::string_view::npos;
    if (!has_break) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = has_break ? end + 1 : end;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    while (!line.empty() && is_wsp(line.back())) line.remove_suffix(1);
    bool soft_break = false;
    if (!line.empty() && line.back() == '=') {
      soft_break = true;
      line.remove_suffix(1);
    }
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '=' && i + 2 < line.size() && hex_value(line[i + 1]) >= 0 &&
          hex_value(line[i + 2]) >= 0) {
        out += static_cast<char>(hex_value(line[i + 1]) * 16 + hex_value(line[i + 2]));
        i += 2;
      } else {
        out += line[i];
      }
    }
    if (has_break && !soft_break) out += "\r\n";
  }
  return out;
}

std::string qp_encode(std::string_view crlf_text) {
  std::string encoded;
  encoded.reserve(crlf_text.size() + crlf_text.size() / 8);
  std::size_t start = 0;
  while (start < crlf_text.size()) {
    std::size_t end = crlf_text.find("\r\n", start);
    const bool has_crlf = end != std::string_view::npos;
    if (!has_crlf) end = crlf_text.size();
    const std::string_view line = crlf_text.substr(start, end - start);
    start = has_crlf ? end + 2 : end;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const auto octet = static_cast<unsigned char>(line[i]);
      const bool last = i + 1 == line.size();
      const bool literal = (octet >= 33 && octet <= 126 && octet != '=') ||
                           (is_wsp(line[i]) && !last);
      if (literal) {
        encoded += line[i];
      } else {
        append_escaped(encoded, octet);
      }
    }
    if (has_crlf) encoded += "\r\n";
  }
  return qp_rewrap(encoded);
}

std::string qp_rewrap(std::string_view crlf_text) {
  constexpr std::size_t kMax = 76;
  std::string out;
  out.reserve(crlf_text.size() + crlf_text.size() / 64 * 3);
  std::size_t start = 0;
  while (start < crlf_text.size()) {
    std::size_t end = crlf_text.find("\r\n", start);
    const bool has_crlf = end != std::string_view::npos;
    if (!has_crlf) end = crlf_text.size();
    std::string_view line = crlf_text.substr(start, end - start);
    while (line.size() > kMax) {
      std::size_t cut = kMax - 1;  // room for the "="
      if (line[cut - 1] == '=') {
        cut -= 1;
      } else if (line[cut - 2] == '=') {
        cut -= 2;
      }
      out.append(line.substr(0, cut));
      out += "=\r\n";
      line.remove_prefix(cut);
    }
    out.append(line);
    if (has_crlf) out += "\r\n";
    start = has_crlf ? end + 2 : end;
  }
  return out;
}

}  // namespace gw::controlplane::policy
