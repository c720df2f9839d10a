// gctld's --listen value: parsing, and whether it stays on the local host (the rule that
// a non-loopback gRPC port needs TLS, issue 3).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gw::controlplane {

/// A parsed "HOST:PORT". `host` is as written (an IPv6 address keeps its brackets).
struct ListenAddress {
  std::string host;
  int port = 0;
};

/// Parses "HOST:PORT" with a decimal port 0..65535; HOST may be a bracketed IPv6 address.
/// nullopt for anything else.
std::optional<ListenAddress> parse_listen(std::string_view listen);

/// True when `host` can only be reached from this machine: "localhost", an IPv4 address in
/// 127.0.0.0/8, "::1" (bracketed or not) or an IPv4-mapped loopback address. Wildcards
/// (0.0.0.0, ::) and every other name or address are false: a name may resolve anywhere.
bool is_loopback_host(std::string_view host);

}  // namespace gw::controlplane
