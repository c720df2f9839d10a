// iconv(3)-based charset checks for DATA policies.
#include "controlplane/policy/charset.h"

#include <iconv.h>

#include <cctype>
#include <cerrno>
#include <memory>
#include <vector>

namespace gw::controlplane::policy {
namespace {

struct IconvCloser {
  void operator()(void* cd) const noexcept { iconv_close(static_cast<iconv_t>(cd)); }
};
using Iconv = std::unique_ptr<void, IconvCloser>;

// iconv_open(to, from), or null when glibc does not know one of the names.
Iconv open_iconv(const std::string& to, const std::string& from) {
  iconv_t cd = iconv_open(to.c_str(), from.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return nullptr;
  return Iconv(cd);
}

// Converts `in` with `cd`; invalid or incomplete sequences are skipped one octet at a time.
// nullopt if the converter fails otherwise.
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
      ++src;  // skip the octet that starts a bad or truncated sequence
      --src_left;
      continue;
    }
    if (errno == E2BIG) {
      const std::size_t used = out.size() - dst_left;
      out.resize(out.size() * 2);
      dst = out.data() + used;
      dst_left = out.size() - used;
      continue;
    }
    return std::nullopt;
  }
  // Flush a stateful decoder (UTF-7 ends a base64 run here).
  while (iconv(cd, nullptr, nullptr, &dst, &dst_left) == static_cast<std::size_t>(-1) &&
         errno == E2BIG) {
    const std::size_t used = out.size() - dst_left;
    out.resize(out.size() * 2);
    dst = out.data() + used;
    dst_left = out.size() - used;
  }
  out.resize(out.size() - dst_left);
  return out;
}

std::string trimmed_name(std::string_view charset) {
  while (!charset.empty() && (charset.front() == ' ' || charset.front() == '\t')) {
    charset.remove_prefix(1);
  }
  while (!charset.empty() && (charset.back() == ' ' || charset.back() == '\t')) {
    charset.remove_suffix(1);
  }
  // A "//" suffix would give iconv options (//IGNORE, //TRANSLIT): not a charset name.
  if (charset.find('/') != std::string_view::npos) return {};
  return std::string(charset);
}

}  // namespace

bool is_ascii_compatible_charset(std::string_view charset) {
  const std::string name = trimmed_name(charset);
  if (name.empty()) return true;
  Iconv cd = open_iconv(name, "UTF-8");
  if (!cd) return true;
  std::string sample = "\t\r\n";
  for (char c = ' '; c < 127; ++c) sample += c;
  const auto encoded = convert(static_cast<iconv_t>(cd.get()), sample);
  return encoded && *encoded == sample;
}

std::optional<std::string> decoded_text_for_matching(std::string_view octets,
                                                     std::string_view charset) {
  if (is_ascii_compatible_charset(charset)) return std::nullopt;
  std::string name = trimmed_name(charset);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // "utf-16" / "utf-32" without a byte-order mark: iconv reads big-endian, Python's email
  // package the machine's order (little-endian here). Both readings are scanned.
  std::vector<std::string> names{name};
  const bool bom = octets.starts_with("\xff\xfe") || octets.starts_with("\xfe\xff") ||
                   octets.starts_with(std::string_view("\x00\x00\xfe\xff", 4));
  if (!bom && (name == "utf-16" || name == "utf-32" || name == "ucs-2" || name == "ucs-4")) {
    const std::string base = name == "ucs-2" ? "ucs-2" : name == "ucs-4" ? "ucs-4" : name;
    names = {base + "le", base + "be"};
  }
  std::optional<std::string> out;
  for (const std::string& from : names) {
    Iconv cd = open_iconv("UTF-8", from);
    if (!cd) continue;
    auto text = convert(static_cast<iconv_t>(cd.get()), octets);
    if (!text) continue;
    if (out) *out += "\r\n";
    out = out ? std::move(*out) + *text : std::move(*text);
  }
  return out;
}

}  // namespace gw::controlplane::policy
