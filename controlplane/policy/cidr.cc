// Address and prefix parsing with inet_pton (no sockets involved) and bitwise prefix tests.
#include "controlplane/policy/cidr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace gw::controlplane::policy {
namespace {

bool all_digits(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Folds an IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) into IPv4.
IpAddress unmap(IpAddress a) {
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (a.v6 && std::memcmp(a.bytes.data(), kMapped, 12) == 0) {
    IpAddress v4;
    std::memcpy(v4.bytes.data(), a.bytes.data() + 12, 4);
    return v4;
  }
  return a;
}

// A plain address: dotted IPv4 or IPv6 text, optional zone on IPv6.
std::optional<IpAddress> parse_plain(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string s(text);
  IpAddress a;
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    return a;
  }
  if (auto zone = s.find('%'); zone != std::string::npos) s.resize(zone);
  a.v6 = true;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  return unmap(a);
}

}  // namespace

std::optional<IpAddress> parse_ip_address(std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !all_digits(rest.substr(1)))) {
      return std::nullopt;
    }
    auto a = parse_plain(text.substr(1, close - 1));
    if (a && !a->v6 && text.substr(1, close - 1).find(':') == std::string_view::npos) {
      return std::nullopt;  // "[192.0.2.1]" is not an IPv6 literal
    }
    return a;
  }
  const auto first = text.find(':');
  if (first != std::string_view::npos && text.find(':', first + 1) == std::string_view::npos) {
    // Exactly one colon: IPv4 "address:port".
    if (!all_digits(text.substr(first + 1))) return std::nullopt;
    auto a = parse_plain(text.substr(0, first));
    if (!a || a->v6) return std::nullopt;
    return a;
  }
  return parse_plain(text);
}

Result<Cidr, std::string> Cidr::parse(std::string_view text) {
  using boost::outcome_v2::failure;
  const auto slash = text.find('/');
  const std::string_view address_text = text.substr(0, slash);
  if (address_text.find('%') != std::string_view::npos) {
    return failure("CIDR \"" + std::string(text) + "\" must not carry an IPv6 zone");
  }
  const bool written_v6 = address_text.find(':') != std::string_view::npos;
  auto address = parse_plain(address_text);
  if (!address) {
    // (Built by append: g++ 12 -O3 reports a false -Wrestrict on "x" + string + "y" here.)
    std::string message(1, '"');
    message.append(text).append("\" is not an IPv4 or IPv6 CIDR prefix");
    return failure(std::move(message));
  }
  unsigned length = written_v6 ? 128 : 32;
  if (slash != std::string_view::npos) {
    const std::string_view len = text.substr(slash + 1);
    unsigned parsed = 0;
    auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), parsed);
    if (len.empty() || len.size() > 3 || ec != std::errc() || end != len.data() + len.size() ||
        parsed > length) {
      return failure("CIDR \"" + std::string(text) + "\" has a prefix length outside 0.." +
                     std::to_string(length));
    }
    length = parsed;
  }
  if (written_v6 && !address->v6) {
    // An IPv4-mapped prefix: only meaningful when it covers the mapped range.
    if (length < 96) {
      return failure("CIDR \"" + std::string(text) +
                     "\" mixes the IPv4-mapped range with other IPv6 addresses");
    }
    length -= 96;
  }
  Cidr cidr;
  cidr.network_ = *address;
  cidr.length_ = length;
  const unsigned total = address->v6 ? 128 : 32;
  for (unsigned bit = length; bit < total; ++bit) {
    if (address->bytes[bit / 8] & (0x80u >> (bit % 8))) {
      return failure("CIDR \"" + std::string(text) +
                     "\" has host bits set after the prefix length (write the network "
                     "address)");
    }
  }
  return cidr;
}

bool Cidr::contains(const IpAddress& address) const {
  if (address.v6 != network_.v6) return false;
  const unsigned full = length_ / 8;
  if (std::memcmp(address.bytes.data(), network_.bytes.data(), full) != 0) return false;
  const unsigned rest = length_ % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xffu << (8 - rest));
  return (address.bytes[full] & mask) == (network_.bytes[full] & mask);
}

}  // namespace gw::controlplane::policy
