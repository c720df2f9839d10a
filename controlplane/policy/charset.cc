// Charset plans for DATA policies: a small table of Python's names, iconv(3) for the rest.
#include "controlplane/policy/charset.h"

#include <iconv.h>

#include <array>
#include <cctype>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "common/printable_line.h"

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

// How far an invalid sequence is skipped, as Python's decoders (errors="replace", the
// email package's default) do: a whole code unit of UTF-16/32, so that the text after it
// stays aligned, and a whole ISO 2022 escape sequence, which Python's ISO-2022 decoders
// may take as a designation or shift with no output where glibc's refuse it (others glibc
// passes through as text: without_iso2022_controls() covers those; probe round 32).
struct Recovery {
  std::size_t unit = 1;     // octets per code unit
  bool iso2022 = false;     // escape sequences: ESC, intermediates 0x20-0x2F, final 0x30-0x7E
  /// UTF-7: an error ends the base64 run, as in Python's decoder (and ICU's, Perl's), so the
  /// text after it is read as plain text again; glibc stays in base64 and turns the rest of
  /// the part into other characters (probe round 33: "+AE-SECRET+AE0-ARK").
  bool reset_state = false;
};

Recovery recovery_for(std::string_view iconv_name) {
  std::string upper(iconv_name);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper.starts_with("UTF-16") || upper.starts_with("UCS-2")) return {2, false};
  if (upper.starts_with("UTF-32") || upper.starts_with("UCS-4")) return {4, false};
  if (upper.find("2022") != std::string::npos) return {1, true, false};
  if (upper.starts_with("UTF-7") || upper.starts_with("UTF7")) return {1, false, true};
  return {};
}

// Octets to skip at an invalid sequence starting at `at` (at least 1, at most `left`), and
// whether readers show a replacement character for them.
std::size_t skip_invalid(const char* at, std::size_t left, const Recovery& r, bool& replaced) {
  replaced = true;
  if (r.iso2022 && at[0] == '\x1b') {
    std::size_t n = 1;
    while (n < left && at[n] >= 0x20 && at[n] <= 0x2f) ++n;
    if (n < left && at[n] >= 0x30 && at[n] <= 0x7e) {
      replaced = false;  // a well-formed escape sequence: no text of its own
      return n + 1;
    }
    return 1;
  }
  return std::min(r.unit, left);
}

// ISO 2022 text with its escape sequences (ESC, intermediates 0x20-0x2F, final 0x30-0x7E)
// and shift controls (SO, SI) removed: the ASCII a reader shows that takes each of them for a
// designation or shift without output. Readers differ on which escapes they know (probe
// round 32, with Python 3.11: "ESC $ ) C" is a designation in ISO-2022-JP-2 and KR,
// replaced by U+FFFD in JP; glibc passes it through as text), so this reading is matched
// besides glibc's decoding and the octets.
std::string without_iso2022_controls(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '\x0e' || c == '\x0f') continue;
    if (c == '\x1b') {
      std::size_t n = i + 1;
      while (n < in.size() && in[n] >= 0x20 && in[n] <= 0x2f) ++n;
      if (n < in.size() && in[n] >= 0x30 && in[n] <= 0x7e) {
        i = n;
        continue;
      }
    }
    out += c;
  }
  return out;
}

// Converts `in` with `cd`; an invalid or truncated sequence is skipped as skip_invalid()
// says and shows as U+FFFD. nullopt if the converter fails otherwise.
std::optional<std::string> convert(iconv_t cd, std::string_view in, const Recovery& recovery) {
  std::string out;
  out.resize(in.size() * 4 + 16);
  char* src = const_cast<char*>(in.data());  // iconv(3) takes char** but does not write
  std::size_t src_left = in.size();
  char* dst = out.data();
  std::size_t dst_left = out.size();
  const char* reset_at = nullptr;  // where the last UTF-7 state reset happened
  while (src_left > 0) {
    if (iconv(cd, &src, &src_left, &dst, &dst_left) != static_cast<std::size_t>(-1)) break;
    if (errno == EILSEQ || errno == EINVAL) {
      bool replaced = false;
      if (recovery.reset_state && src != reset_at) {
        iconv(cd, nullptr, nullptr, nullptr, nullptr);
        reset_at = src;  // an error here again (invalid in plain text too) is skipped
        // The octet that ended the run ('-' or another non-base64 one) is text of its own
        // in direct mode: only a base64 octet is skipped.
        const auto octet = static_cast<unsigned char>(*src);
        const bool base64 = std::isalnum(octet) || octet == '+' || octet == '/';
        if (!base64 && octet != '-') {
          if (dst_left < 3) grow(out, dst, dst_left);
          std::memcpy(dst, "\xef\xbf\xbd", 3);  // U+FFFD for what was lost
          dst += 3;
          dst_left -= 3;
          continue;
        }
      }
      const std::size_t n = skip_invalid(src, src_left, recovery, replaced);
      src += n;
      src_left -= n;
      if (replaced) {
        if (dst_left < 3) grow(out, dst, dst_left);
        std::memcpy(dst, "\xef\xbf\xbd", 3);  // U+FFFD
        dst += 3;
        dst_left -= 3;
      }
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

// A charset name in Python's normalized form and the iconv(3) name it stands for.
struct NamePair {
  std::string_view python;
  std::string_view iconv;
};

// IBM's EBCDIC single-byte code pages (CDRA), three digits at least.
bool is_ebcdic_code_page(std::string_view number) {
  static constexpr std::array<std::string_view, 44> kPages = {
      "037", "273", "277", "278", "280", "284", "285", "290", "297", "420", "423",
      "424", "500", "803", "833", "836", "838", "870", "871", "875", "880", "905",
      "918", "924", "1025", "1026", "1027", "1047", "1097", "1112", "1122", "1123",
      "1130", "1132", "1137", "1140", "1141", "1142", "1143", "1144", "1145", "1146",
      "1147", "1148"};
  for (auto page : kPages) {
    if (number == page) return true;
  }
  // Mixed and other EBCDIC CCSIDs ICU and Java know (Japanese 930/931/939/5026/5035,
  // Korean 933, Chinese 935/937, Thai 9067...): their single-byte letters are CP037's.
  static constexpr std::array<std::string_view, 22> kMore = {
      "930", "931", "933", "935", "937", "939", "1364", "1371", "1388", "1390", "1399",
      "4971", "5026", "5035", "5123", "8482", "9067", "9580", "12712", "16804", "20780",
      "1149"};
  for (auto page : kMore) {
    if (number == page) return true;
  }
  return number.size() == 4 && number >= "1153" && number <= "1166";
}

// The iconv names other spellings of a charset stand for: Java's and IANA's ("x-" prefix,
// "IBM01140", "ibm-1140", "ccsid01140", "cp01140", "ebcdic-us-037+euro", "UnicodeBig",
// "ISO-10646-UCS-2", "x-UTF-16LE-BOM"). `py` is python_name(). Probe round 32 listed 146
// names Java's Charset decodes that neither glibc nor Python knows.
std::vector<std::string> other_spellings(std::string py) {
  std::vector<std::string> out;
  if (py.starts_with("x_")) py.erase(0, 2);
  auto dashed = [](std::string s) {
    for (char& c : s) c = c == '_' ? '-' : c;
    return s;
  };
  out.push_back(dashed(py));
  // A code page number: "ibm_01140", "cp01140", "ccsid01140", "csibm037", "01140".
  std::size_t digits = py.find_first_of("0123456789");
  if (digits != std::string::npos) {
    const std::string prefix = py.substr(0, digits);
    std::size_t end = digits;
    while (end < py.size() && std::isdigit(static_cast<unsigned char>(py[end]))) ++end;
    std::string number = py.substr(digits, end - digits);
    // glibc writes code pages with at least three digits: IBM037, IBM1140.
    number.erase(0, std::min(number.find_first_not_of('0'), number.size() - 1));
    if (number.size() < 3) number.insert(0, 3 - number.size(), '0');
    if (prefix.empty() || prefix == "ibm" || prefix == "ibm_" || prefix == "cp" ||
        prefix == "cp_" || prefix == "ccsid" || prefix == "ccsid_" || prefix == "csibm" ||
        prefix == "cpibm" || prefix.starts_with("ebcdic")) {
      out.push_back("IBM" + number);
      out.push_back("CP" + number);
      // EBCDIC code pages glibc lacks (Thai 838, Korean 833...): their letters and digits
      // sit where CP037 has them.
      if (is_ebcdic_code_page(number)) out.emplace_back("CP037");
    }
    // ISO-2022 under Windows and IBM code page numbers, whatever the prefix ("cp50220",
    // "x-windows-50220", "ms50221", CCSID 5054 and 25546).
    if (number.starts_with("5022") || number == "5054" || number == "25546") {
      out.emplace_back("ISO-2022-JP-2");
    }
  }
  if (py == "ibm_thai") out.emplace_back("CP037");  // Java's name of IBM838
  if (py == "windows_65000" || py == "cp65000") out.emplace_back("UTF-7");  // ICU, .NET
  // Names that start so, with any suffix ("x-UTF-16LE-BOM" is "utf_16le_bom").
  static constexpr std::array<NamePair, 14> kPrefixes = {{
      {"utf_16le", "UTF-16LE"}, {"utf_16_le", "UTF-16LE"}, {"utf_16be", "UTF-16BE"},
      {"utf_16_be", "UTF-16BE"}, {"utf_32le", "UTF-32LE"}, {"utf_32_le", "UTF-32LE"},
      {"utf_32be", "UTF-32BE"}, {"utf_32_be", "UTF-32BE"}, {"unicodelittle", "UTF-16LE"},
      {"unicodebig", "UTF-16BE"}, {"iso_10646_ucs_2", "UCS-2"}, {"iso_10646_ucs_4", "UCS-4"},
      {"csunicode", "UCS-2"}, {"csucs4", "UCS-4"},
  }};
  for (const auto& p : kPrefixes) {
    if (py.starts_with(p.python)) out.emplace_back(p.iconv);
  }
  return out;
}

bool contains_any(std::string_view s, std::initializer_list<std::string_view> parts) {
  for (auto p : parts) {
    if (s.find(p) != std::string_view::npos) return true;
  }
  return false;
}

// The decoder for a name of a non-ASCII-compatible family that nothing here knows by that
// name ("" for any other name).
std::string family_fallback(const std::string& py) {
  // UTF-7 first: "unicode-2-0-utf-7" is UTF-7, not UTF-16 (probe round 33); UTF-8 under
  // another name ("x-unicode20utf8") is ASCII-compatible.
  if (contains_any(py, {"utf_7", "utf7"})) return "UTF-7";
  if (contains_any(py, {"utf_8", "utf8"})) return {};
  if (contains_any(py, {"utf_32", "utf32", "ucs_4", "ucs4"})) return "UTF-32";
  if (contains_any(py, {"utf_16", "utf16", "ucs_2", "ucs2", "unicode", "10646"})) {
    return "UTF-16";
  }
  // ISO-2022-JP under Java's, ICU's and Perl's names: "jis", "JIS7", "csJISEncoding",
  // "7bit-jis", "JISAutoDetect" (Shift_JIS and EUC-JP are known to glibc before this).
  if (contains_any(py, {"2022", "jis"})) return "ISO-2022-JP-2";
  if (contains_any(py, {"ebcdic", "posix_bc", "csibmthai"})) return "CP037";
  return {};
}

}  // namespace

CharsetPlan plan_charset(std::string_view charset) {
  using Reading = CharsetPlan::Reading;
  const std::string py = python_name(charset);
  if (py.empty() || is_plain_ascii_superset(py)) return {};
  // Python-only decoders that can turn ASCII into other ASCII ("\x53", "~{~}", "xn--").
  // Also ICU's and Perl's (probe round 33): SCSU and BOCU-1 compress Unicode so that ASCII
  // letters are other octets, Perl's MIME-Header decodes encoded words, and Perl's
  // iso-ir-165 reads the text otherwise than glibc's.
  static constexpr std::array<std::string_view, 23> kPythonOnly = {
      "unicode_escape", "raw_unicode_escape", "hz", "hzgb", "hz_gb", "hz_gb_2312",
      "punycode", "idna", "unicode_internal", "string_escape", "scsu", "bocu_1",
      "csbocu_1", "ibm_1212", "ibm_1213", "ibm_1214", "ibm_1215", "mime_header", "mime_b",
      "mime_q", "mime_header_iso_2022_jp", "iso_ir_165", "csiso165"};
  for (auto n : kPythonOnly) {
    if (py == n) return {Reading::kUndecodable, {}};
  }
  // Python's spellings of the Unicode encodings iconv names differently.
  // (Generated from Python 3.11's encodings.aliases: every alias of a codec that does not
  // decode each ASCII octet to itself.)
  static constexpr std::array<NamePair, 55> kAliases = {{
      {"utf_16", "UTF-16"},    {"u16", "UTF-16"},        {"utf16", "UTF-16"},
      {"utf_16_le", "UTF-16LE"}, {"utf_16le", "UTF-16LE"}, {"utf16le", "UTF-16LE"},
      {"utf_16_be", "UTF-16BE"}, {"utf_16be", "UTF-16BE"}, {"utf16be", "UTF-16BE"},
      {"utf_32", "UTF-32"},    {"u32", "UTF-32"},        {"utf32", "UTF-32"},
      {"utf_32_le", "UTF-32LE"}, {"utf_32le", "UTF-32LE"}, {"utf32le", "UTF-32LE"},
      {"utf_32_be", "UTF-32BE"}, {"utf_32be", "UTF-32BE"}, {"utf32be", "UTF-32BE"},
      {"utf_7", "UTF-7"},      {"u7", "UTF-7"},          {"utf7", "UTF-7"},
      {"unicode_1_1_utf_7", "UTF-7"}, {"csunicode11utf7", "UTF-7"}, {"ucs_2", "UCS-2"},
      {"unicodebigunmarked", "UTF-16BE"}, {"unicodelittleunmarked", "UTF-16LE"},
      {"037", "CP037"},        {"ibm039", "CP037"},      {"ebcdic_cp_ca", "CP037"},
      {"ebcdic_cp_nl", "CP037"}, {"ebcdic_cp_wt", "CP037"}, {"1026", "CP1026"},
      {"1140", "CP1140"},      {"273", "CP273"},         {"424", "CP424"},
      {"500", "CP500"},        {"iso2022_jp", "ISO-2022-JP"}, {"iso2022jp", "ISO-2022-JP"},
      {"iso_2022_jp", "ISO-2022-JP"}, {"csiso2022jp", "ISO-2022-JP"},
      // JP-1 is a subset of JP-2; 2004, 3 and ext decode with JP-3 (glibc has no others).
      {"iso2022_jp_1", "ISO-2022-JP-2"}, {"iso2022jp_1", "ISO-2022-JP-2"},
      {"iso_2022_jp_1", "ISO-2022-JP-2"}, {"iso2022_jp_2", "ISO-2022-JP-2"},
      {"iso2022_jp_2004", "ISO-2022-JP-3"}, {"iso2022jp_2004", "ISO-2022-JP-3"},
      {"iso_2022_jp_2004", "ISO-2022-JP-3"}, {"iso2022_jp_3", "ISO-2022-JP-3"},
      {"iso2022_jp_ext", "ISO-2022-JP-3"}, {"iso2022jp_ext", "ISO-2022-JP-3"},
      {"iso_2022_jp_ext", "ISO-2022-JP-3"}, {"iso2022_kr", "ISO-2022-KR"},
      {"iso2022kr", "ISO-2022-KR"},
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
    std::vector<std::string> candidates = {written, dashed};
    for (std::string& other : other_spellings(py)) candidates.push_back(std::move(other));
    for (const std::string& candidate : candidates) {
      if (open_iconv("UTF-8", candidate)) {
        name = candidate;
        break;
      }
    }
  }
  // A name no decoder here knows, in a family that does not write ASCII as ASCII: decoded
  // with the family's common member (EBCDIC code pages share their letters and digits; the
  // escapes of ISO 2022 are skipped), so the text readers show is matched all the same.
  if (name.empty()) name = family_fallback(py);
  if (name.empty()) return {};  // unknown everywhere: readers show the octets
  // A wide encoding whose name does not fix the byte order ("UTF-16", "UCS-2", "unicode",
  // "csUnicode", "UCS-4", "ISO-10646-UCS-4", "iso-10646-1"): readers honour a byte-order
  // mark, and without one differ (iconv reads big-endian, Python the machine's order), so
  // the mark decides, else both orders are read (probe round 33: glibc's own names for
  // them read one order only). Names that say "10646" without a width are read both ways.
  std::string upper = name;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::string py_name = python_name(name) + " " + py;
  const bool fixed_order = upper.ends_with("LE") || upper.ends_with("BE");
  const bool wide16 = contains_any(py_name, {"utf_16", "utf16", "ucs_2", "ucs2", "unicode"});
  const bool wide32 = contains_any(py_name, {"utf_32", "utf32", "ucs_4", "ucs4"});
  const bool wide_unknown = py_name.find("10646") != std::string::npos && !wide16 && !wide32;
  if (!fixed_order && (wide16 || wide32 || wide_unknown) &&
      py_name.find("utf_7") == std::string::npos && py_name.find("utf7") == std::string::npos) {
    std::vector<std::string> names;
    if (wide16 || wide_unknown) names.insert(names.end(), {"UTF-16", "UTF-16LE", "UTF-16BE"});
    if (wide32 || wide_unknown) names.insert(names.end(), {"UTF-32", "UTF-32LE", "UTF-32BE"});
    return {Reading::kDecode, std::move(names)};
  }
  return {Reading::kDecode, {name}};
}

std::optional<std::string> decoded_text_for_matching(std::string_view octets,
                                                     const CharsetPlan& plan) {
  if (plan.reading != CharsetPlan::Reading::kDecode || plan.iconv_names.empty()) {
    return std::nullopt;
  }
  std::vector<std::string> names = plan.iconv_names;
  if (names.size() % 3 == 0 && names[0].starts_with("UTF-")) {
    // Wide families in threes (either order, LE, BE): the mark decides, else both orders.
    const bool bom16 = octets.starts_with("\xff\xfe") || octets.starts_with("\xfe\xff");
    const bool bom32 = octets.starts_with(std::string_view("\xff\xfe\0\0", 4)) ||
                       octets.starts_with(std::string_view("\0\0\xfe\xff", 4));
    std::vector<std::string> chosen;
    for (std::size_t i = 0; i < names.size(); i += 3) {
      const bool bom = names[i] == "UTF-32" ? bom32 : bom16;
      if (bom) {
        chosen.push_back(names[i]);
      } else {
        chosen.push_back(names[i + 1]);
        chosen.push_back(names[i + 2]);
      }
    }
    names = std::move(chosen);
  }
  std::optional<std::string> out;
  for (const std::string& from : names) {
    Iconv cd = open_iconv("UTF-8", from);
    if (!cd) continue;
    const Recovery recovery = recovery_for(from);
    auto text = convert(static_cast<iconv_t>(cd.get()), octets, recovery);
    if (!text) continue;
    if (recovery.iso2022) {
      *text += "\r\n";
      *text += without_iso2022_controls(octets);
    }
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

namespace gw::controlplane::policy {
namespace {

// All of `in` converted with `cd`. At a sequence `cd` cannot convert: nullopt, or with
// `question_mark` (UTF-8 input) one "?" for the whole character, and on. Linear.
std::optional<std::string> convert_all(iconv_t cd, std::string_view in, bool question_mark) {
  iconv(cd, nullptr, nullptr, nullptr, nullptr);
  std::string out;
  out.resize(in.size() * 4 + 16);
  char* src = const_cast<char*>(in.data());  // iconv(3) takes char** but does not write
  std::size_t src_left = in.size();
  char* dst = out.data();
  std::size_t dst_left = out.size();
  while (src_left > 0) {
    if (iconv(cd, &src, &src_left, &dst, &dst_left) != static_cast<std::size_t>(-1)) break;
    if (errno == E2BIG) {
      grow(out, dst, dst_left);
      continue;
    }
    if (!question_mark) return std::nullopt;
    // The character at src has no equivalent (or is cut short): one "?" for all of it.
    std::size_t len = 1;
    while (len < src_left && len < 4 && (static_cast<unsigned char>(src[len]) & 0xc0) == 0x80) {
      ++len;
    }
    src += len;
    src_left -= len;
    if (dst_left < 1) grow(out, dst, dst_left);
    *dst++ = '?';
    --dst_left;
  }
  while (iconv(cd, nullptr, nullptr, &dst, &dst_left) == static_cast<std::size_t>(-1)) {
    if (errno != E2BIG) return std::nullopt;
    grow(out, dst, dst_left);
  }
  out.resize(out.size() - dst_left);
  return out;
}

std::optional<std::string> convert_strict(iconv_t cd, std::string_view in) {
  return convert_all(cd, in, false);
}

std::string encode_or_question_mark(iconv_t cd, std::string_view in) {
  return convert_all(cd, in, true).value_or(std::string());
}

struct Segment {
  std::string_view text;
  bool inserted = false;  // the policy's text (UTF-8), not octets of the original
};

// `changed` cut into what the policy kept of `original` and what it inserted.
std::vector<Segment> split_changes(std::string_view original, std::string_view changed) {
  if (!original.empty()) {
    if (const auto pos = changed.find(original); pos != std::string_view::npos) {
      return {{changed.substr(0, pos), true},
              {original, false},
              {changed.substr(pos + original.size()), true}};
    }
  }
  const std::size_t limit = std::min(original.size(), changed.size());
  std::size_t prefix = 0;
  while (prefix < limit && original[prefix] == changed[prefix]) ++prefix;
  std::size_t suffix = 0;
  while (suffix < limit - prefix &&
         original[original.size() - 1 - suffix] == changed[changed.size() - 1 - suffix]) {
    ++suffix;
  }
  // An octet shared by chance may belong to a UTF-8 character of the inserted text ("Ã"
  // at the end of the original, "Ã¼" inserted after it): move the cuts back until the
  // inserted text is whole characters.
  for (std::size_t back = 0; back <= 3 && back <= prefix; ++back) {
    for (std::size_t ahead = 0; ahead <= 3 && ahead <= suffix; ++ahead) {
      const std::size_t p = prefix - back;
      const std::size_t s = suffix - ahead;
      const std::string_view middle = changed.substr(p, changed.size() - s - p);
      if (!common::is_valid_utf8(middle)) continue;
      return {{changed.substr(0, p), false},
              {middle, true},
              {changed.substr(changed.size() - s), false}};
    }
  }
  return {{changed, true}};
}

bool is_name_of(const std::string& py, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), py) != names.end();
}

}  // namespace

std::optional<CharsetRewrite> fit_to_charset(std::string_view original, std::string_view changed,
                                             std::string_view charset) {
  const std::string py = python_name(charset);
  if (py.empty() || is_name_of(py, {"utf_8", "utf8", "u8", "utf", "cp65001", "utf8_ucs2",
                                    "utf8_ucs4", "unicode_1_1_utf_8", "csutf8"})) {
    return std::nullopt;
  }
  if (plan_charset(charset).reading != CharsetPlan::Reading::kAsIs) return std::nullopt;
  const std::vector<Segment> segments = split_changes(original, changed);
  bool eight_bit = false;
  for (const Segment& s : segments) {
    if (!s.inserted) continue;
    if (!common::is_valid_utf8(s.text)) return std::nullopt;
    eight_bit = eight_bit || common::has_8bit(s.text);
  }
  if (!eight_bit) return std::nullopt;

  std::string name(charset);
  const auto first = name.find_first_not_of(" \t\"");
  const auto last = name.find_last_not_of(" \t\"");
  name = first == std::string::npos ? std::string() : name.substr(first, last - first + 1);
  const bool ascii = is_name_of(py, {"us_ascii", "ascii", "us", "ansi_x3.4_1968", "646",
                                     "csascii", "iso646_us", "iso_646.irv_1991", "cp367",
                                     "ibm367", "iso_ir_6", "default"});
  if (ascii) name = "US-ASCII";
  const Iconv encoder = open_iconv(name, "UTF-8");
  const Iconv decoder = open_iconv("UTF-8", name);
  if (!encoder || !decoder) return std::nullopt;  // a name iconv does not know

  CharsetRewrite out;
  bool fits = true;
  for (const Segment& s : segments) {
    if (!s.inserted) {
      out.body += s.text;
    } else if (auto encoded = convert_strict(static_cast<iconv_t>(encoder.get()), s.text)) {
      out.body += *encoded;
    } else {
      fits = false;
      break;
    }
  }
  if (fits) return out;

  out.body.clear();
  out.relabel_utf8 = true;
  for (const Segment& s : segments) {
    if (s.inserted) {
      out.body += s.text;
    } else if (auto decoded = convert_strict(static_cast<iconv_t>(decoder.get()), s.text)) {
      out.body += *decoded;
    } else {
      out.relabel_utf8 = false;
      break;
    }
  }
  if (out.relabel_utf8) return out;

  out.body.clear();
  for (const Segment& s : segments) {
    out.body += s.inserted ? encode_or_question_mark(static_cast<iconv_t>(encoder.get()), s.text)
                           : std::string(s.text);
  }
  return out;
}

}  // namespace gw::controlplane::policy
