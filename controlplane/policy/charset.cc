// Charset plans for DATA policies: a small table of Python's names, iconv(3) for the rest.
#include "controlplane/policy/charset.h"

#include <iconv.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <memory>

namespace gw::controlplane::policy {
namespace {

struct IconvCloser {
  void operator()(void* cd) const noexcept { iconv_close(static_cast<iconv_t>(cd)); }
};
using Iconv = std::unique_ptr<void, IconvCloser>;

// iconv_open(to, from), or null when glibc does not know a name.
Iconv open_iconv(const std::string& to, const std::string& from) {
  if (from.empty() || from.find('/') != std::string::npos) return nullptr;  // "//" = options
  iconv_t cd = iconv_open(to.c_str(), from.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return nullptr;
  return Iconv(cd);
}

void grow(std::string& out, char*& dst, std::size_t& dst_left) {
  const std::size_t used = out.size() - dst_left;
  out.resize(out.size() * 2);
  dst = out.data() + used;
  dst_left = out.size() - used;
}

// Converts `in` with `cd`; an invalid or truncated sequence skips one octet. nullopt if
// the converter fails otherwise.
std::optional<std::string> convert(iconv_t cd, std::string_view in) {
  std::string out;
  out.resize(in.size() * 4 + 16);
  char* src = const_cast<char*>(in.data());  // iconv(3) takes char** but does not write
  std::size_t src_left = in.size();
  char* dst = out.data();
  std::size_t dst_left = out.size();
  while (src_left > 0) {
    if (iconv(cd, &src, &src_left, &dst, &dst_left) != static_cast<std::size_t>(-1)) break;
    if (errno == EILSEQ || errno == EINVAL) {
      ++src;
      --src_left;
    } else if (errno == E2BIG) {
      grow(out, dst, dst_left);
    } else {
      return std::nullopt;
    }
  }
  // Flush a stateful decoder (UTF-7 ends a base64 run here).
  while (iconv(cd, nullptr, nullptr, &dst, &dst_left) == static_cast<std::size_t>(-1) &&
         errno == E2BIG) {
    grow(out, dst, dst_left);
  }
  out.resize(out.size() - dst_left);
  return out;
}

// Python's encodings.normalize_encoding, lowercased: runs of characters other than
// letters, digits and "." become one "_", none at either end.
std::string python_name(std::string_view charset) {
  std::string out;
  bool gap = false;
  for (char c : charset) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '.') {
      if (gap && !out.empty()) out += '_';
      gap = false;
      out += static_cast<char>(std::tolower(u));
    } else {
      gap = true;
    }
  }
  return out;
}

bool starts_with_any(std::string_view s, std::initializer_list<std::string_view> prefixes) {
  for (auto p : prefixes) {
    if (s.starts_with(p)) return true;
  }
  return false;
}

// Stateless charsets where an ASCII octet is always that character and no sequence
// decodes to one: matching the octets sees all ASCII text a reader shows.
bool is_plain_ascii_superset(const std::string& py) {
  static constexpr std::array<std::string_view, 12> kNames = {
      "us_ascii", "ascii", "utf_8", "utf8", "us", "ansi_x3.4_1968", "646",
      "koi8_r", "koi8_u", "cp819", "iso_ir_100", "csascii"};
  for (auto n : kNames) {
    if (py == n) return true;
  }
  // iso-8859-N, iso8859-N, latin-N, windows-125N, cp125N
  return starts_with_any(py, {"iso_8859_", "iso8859_", "latin", "windows_125", "cp125"});
}

}  // namespace

CharsetPlan plan_charset(std::string_view charset) {
  using Reading = CharsetPlan::Reading;
  const std::string py = python_name(charset);
  if (py.empty() || is_plain_ascii_superset(py)) return {};
  // Python-only decoders that can turn ASCII into other ASCII ("\x53", "~{~}", "xn--").
  static constexpr std::array<std::string_view, 10> kPythonOnly = {
      "unicode_escape", "raw_unicode_escape", "hz", "hzgb", "hz_gb", "hz_gb_2312",
      "punycode", "idna", "unicode_internal", "string_escape"};
  for (auto n : kPythonOnly) {
    if (py == n) return {Reading::kUndecodable, {}};
  }
  // Python's spellings of the Unicode encodings iconv names differently.
  struct Alias {
    std::string_view python;
    std::string_view iconv;
  };
  static constexpr std::array<Alias, 24> kAliases = {{
      {"utf_16", "UTF-16"},    {"u16", "UTF-16"},        {"utf16", "UTF-16"},
      {"utf_16_le", "UTF-16LE"}, {"utf_16le", "UTF-16LE"}, {"utf16le", "UTF-16LE"},
      {"utf_16_be", "UTF-16BE"}, {"utf_16be", "UTF-16BE"}, {"utf16be", "UTF-16BE"},
      {"utf_32", "UTF-32"},    {"u32", "UTF-32"},        {"utf32", "UTF-32"},
      {"utf_32_le", "UTF-32LE"}, {"utf_32le", "UTF-32LE"}, {"utf32le", "UTF-32LE"},
      {"utf_32_be", "UTF-32BE"}, {"utf_32be", "UTF-32BE"}, {"utf32be", "UTF-32BE"},
      {"utf_7", "UTF-7"},      {"u7", "UTF-7"},          {"utf7", "UTF-7"},
      {"unicode_1_1_utf_7", "UTF-7"}, {"csunicode11utf7", "UTF-7"}, {"ucs_2", "UCS-2"},
  }};
  std::string name;
  for (const auto& a : kAliases) {
    if (py == a.python) name = a.iconv;
  }
  if (name.empty()) {
    // iconv's own names: as written (trimmed), then Python's form with "-" for "_".
    std::string written(charset);
    while (!written.empty() && std::isspace(static_cast<unsigned char>(written.back()))) written.pop_back();
    while (!written.empty() && std::isspace(static_cast<unsigned char>(written.front()))) written.erase(0, 1);
    std::string dashed = py;
    for (char& c : dashed) c = c == '_' ? '-' : c;
    for (const std::string& candidate : {written, dashed}) {
      if (open_iconv("UTF-8", candidate)) {
        name = candidate;
        break;
      }
    }
  }
  if (name.empty()) return {};  // unknown everywhere: readers show the octets
  std::string upper = name;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "UTF-16" || upper == "UTF-32" || upper == "UCS-2") {
    // Without a byte-order mark iconv reads big-endian, Python the machine's order.
    const std::string base = upper == "UCS-2" ? "UCS-2" : upper;
    return {Reading::kDecode, {upper, base + "LE", base + "BE"}};
  }
  return {Reading::kDecode, {name}};
}

std::optional<std::string> decoded_text_for_matching(std::string_view octets,
                                                     const CharsetPlan& plan) {
  if (plan.reading != CharsetPlan::Reading::kDecode || plan.iconv_names.empty()) {
    return std::nullopt;
  }
  std::vector<std::string> names = plan.iconv_names;
  if (names.size() == 3) {  // UTF-16/32 family: the mark decides, else both orders
    const bool bom = octets.starts_with("\xff\xfe") || octets.starts_with("\xfe\xff");
    names = bom ? std::vector<std::string>{names[0]}
                : std::vector<std::string>{names[1], names[2]};
  }
  std::optional<std::string> out;
  for (const std::string& from : names) {
    Iconv cd = open_iconv("UTF-8", from);
    if (!cd) continue;
    auto text = convert(static_cast<iconv_t>(cd.get()), octets);
    if (!text) continue;
    if (!out) {
      out = std::move(text);
    } else {
      *out += "\r\n";
      *out += *text;
    }
  }
  return out;
}

}  // namespace gw::controlplane::policy
