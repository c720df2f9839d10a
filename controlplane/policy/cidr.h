// IP addresses and CIDR prefixes for `match` conditions on `client.address` (DESIGN.md §6
// "CIDR on an attribute"; RFC 4632 §3.1 for IPv4, RFC 4291 §2.3 for IPv6 prefixes).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "controlplane/policy/result.h"

namespace gw::controlplane::policy {

/// An IPv4 or IPv6 address in network byte order (IPv4 uses the first 4 bytes).
struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};
};

/// Parses an attribute value holding an address: "192.0.2.1", "192.0.2.1:2525",
/// "2001:db8::1", "[2001:db8::1]:2525" or "[2001:db8::1]"; an IPv6 zone ("%eth0") is
/// dropped. IPv4-mapped IPv6 addresses ("::ffff:192.0.2.1", what a dual-stack socket
/// reports) become IPv4, so IPv4 prefixes match them. Anything else: nullopt.
std::optional<IpAddress> parse_ip_address(std::string_view text);

/// An address prefix. Immutable; contains() is thread-safe.
class Cidr {
 public:
  /// Parses "192.0.2.0/24", "2001:db8::/32", or a bare address (a /32 or /128 prefix).
  /// IPv4-mapped IPv6 prefixes of length >= 96 become IPv4 prefixes. Errors (one-line
  /// reason): not an address, prefix length out of range, host bits set ("10.0.0.1/8" is
  /// refused as a probable typo: it names the network 10.0.0.0/8).
  static Result<Cidr, std::string> parse(std::string_view text);

  /// True if `address` is of the same family and within the prefix.
  bool contains(const IpAddress& address) const;

  bool v6() const { return network_.v6; }
  unsigned prefix_length() const { return length_; }

 private:
  IpAddress network_;
  unsigned length_ = 0;
};

}  // namespace gw::controlplane::policy
