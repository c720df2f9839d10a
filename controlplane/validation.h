// Validation of services, interfaces and node identities received on the admin and node
// APIs. Every refusal is kInvalidArgument with a message naming the field and the rule.
#pragma once

#include <string>
#include <string_view>

#include "controlplane/error.h"
#include "gateway/v1/config.pb.h"

namespace gw::controlplane {

/// True for names of services, instances and certificates: [A-Za-z0-9._-]{1,64}.
bool is_valid_name(std::string_view name);

/// True for a DNS host name: dot-separated labels of [A-Za-z0-9_-]{1,63}, at most 253
/// octets, an optional final dot.
bool is_valid_host_name(std::string_view name);

/// Parses an IPv4 or IPv6 address (IPv6 may be written in brackets) and returns its
/// canonical text (inet_ntop), e.g. "[::0001]" -> "::1". Errors: kInvalidArgument.
Result<std::string> canonical_ip(std::string_view address);

/// Checks a service whose defaults are filled in (fill_service_defaults): name, host (IP
/// address or host name), port 1..65535, security, instance, banner host name, ciphers,
/// credentials (no control characters), certificate names. Limits are not bounded
/// beyond "zero means default": operators may choose small values.
Result<void> validate_service(const gateway::v1::Service& service);

/// Checks an interface whose defaults are filled in (fill_interface_defaults) and rewrites
/// its bind address to canonical form: service name, type, port 1..65535, bind address an
/// IP address, a certificate name for ssl/starttls (DESIGN.md §2 "interface").
Result<void> validate_interface(gateway::v1::Interface& iface);

/// Checks the identity a relay node presents: node id 1..128 of [A-Za-z0-9._:@-], an
/// instance name per is_valid_name.
Result<void> validate_node_identity(std::string_view node_id, std::string_view instance);

/// Checks an informational text of a node (host name, version): at most 255 octets of
/// printable ASCII. `field` names it in the message.
Result<void> validate_node_text(std::string_view field, std::string_view text);

}  // namespace gw::controlplane
