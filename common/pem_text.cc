// PEM block extraction.
#include "common/pem_text.h"

namespace gw::common {

std::optional<std::string> pem_blocks(std::string_view text, std::string& why) {
  std::string out;
  bool inside = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const bool dashes = line.size() > 10 && line.ends_with("-----");
    if (!inside && dashes && line.starts_with("-----BEGIN ")) inside = true;
    if (!inside) continue;  // explanatory text: any octets, left out
    for (char c : line) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u > 0x7e) {
        why = "a PEM block holds octets outside printable ASCII";
        return std::nullopt;
      }
    }
    out.append(line);
    out.push_back('\n');
    if (dashes && line.starts_with("-----END ")) inside = false;
  }
  if (inside) {
    why = "a PEM block has no -----END line";
    return std::nullopt;
  }
  if (out.empty()) {
    why =
        "no PEM block (-----BEGIN ...-----) in it; a DER file converts with "
        "\"openssl x509 -inform der\" (certificates) or \"openssl pkey -inform der\" (keys)";
    return std::nullopt;
  }
  return out;
}

}  // namespace gw::common
