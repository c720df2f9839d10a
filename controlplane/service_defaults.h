// The defaults the control plane fills into every stored service and interface, so relay
// nodes receive explicit values (config.proto "Limits", DESIGN.md §2).
#pragma once

#include <cstdint>
#include <string_view>

#include "gateway/v1/config.pb.h"

namespace gw::controlplane {

inline constexpr std::uint32_t kDefaultUpstreamPort = 25;       // RFC 5321 §4.5.4
inline constexpr std::string_view kDefaultCiphers = "DEFAULT";  // OpenSSL cipher list
inline constexpr std::string_view kDefaultInstance = "default";
inline constexpr std::string_view kDefaultBindAddress = "127.0.0.1";
inline constexpr std::string_view kDefaultTlsMinVersion = "1.2";  // issue 3: TLS 1.2 or newer

/// The limit used for every zero field of Limits (values as commented in config.proto).
gateway::v1::Limits default_limits();

/// Replaces unset (zero / empty / UNSPECIFIED) fields by their defaults: port 25, security
/// none, ciphers "DEFAULT", tls_min_version "1.2", instance "default", each zero limit by
/// default_limits(). Fields without a default (name, host, credentials, certificates,
/// flags) are left alone.
void fill_service_defaults(gateway::v1::Service& service);

/// Interface defaults: type tcp, bind address 127.0.0.1, ciphers "DEFAULT", tls_min_version
/// "1.2". The port and the certificates have no default.
void fill_interface_defaults(gateway::v1::Interface& iface);

}  // namespace gw::controlplane
