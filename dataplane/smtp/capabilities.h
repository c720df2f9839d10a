// SMTP service extensions: what an upstream's EHLO reply offers, and the capability list the
// gateway computes for its own clients (DESIGN.md §3.2, RFC 5321 §4.1.1.1).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/smtp/reply.h"

namespace gw::smtp {

/// Extensions read from a 250 EHLO reply (keywords case-insensitive, RFC 5321 §4.1.1.1).
struct Capabilities {
  bool pipelining = false;           // RFC 2920
  bool eightbitmime = false;         // RFC 6152
  bool smtputf8 = false;             // RFC 6531
  bool enhanced_status_codes = false;  // RFC 2034
  bool starttls = false;             // RFC 3207
  bool chunking = false;             // RFC 3030 (never relayed: BDAT is not implemented)
  std::optional<std::uint64_t> size;  // RFC 1870: octets, 0 = no fixed limit
  std::vector<std::string> auth_mechanisms;  // RFC 4954, upper-cased, in upstream order
};

/// Parses the keyword lines (all but the first) of an EHLO reply. Unknown keywords are
/// ignored; a malformed SIZE value is treated as "no SIZE".
Capabilities parse_ehlo_reply(const Reply& reply);

/// What the gateway decides for one session before computing its EHLO reply.
struct GatewayOffer {
  std::uint64_t max_message_size = 0;  // the service's limit, octets (0 = none)
  bool data_policy = false;            // a DATA handler may change the message
  bool offer_starttls = false;         // starttls interface, not yet encrypted
  std::vector<std::string> auth_mechanisms;  // empty: do not advertise AUTH
};

/// Octets of the upstream's SIZE held back, when a DATA handler may change the message, for
/// what its policy adds (fields, a footer): min(kDataPolicyReserve, the upstream's SIZE / 4).
/// A client that keeps to the SIZE the gateway offers must not get the upstream's 552 for
/// octets the gateway added (RFC 1870 §4, §6; probe round 34).
inline constexpr std::uint64_t kDataPolicyReserve = 64 * 1024;

/// The message size limit the gateway offers and enforces, in octets (0 = none): the
/// smaller non-zero of `service_limit` and the upstream's SIZE (less the reserve above when
/// `data_policy`).
std::uint64_t message_size_limit(const Capabilities& upstream, std::uint64_t service_limit,
                                 bool data_policy);

/// True if `name` (upper case) is an RFC 4422 §3.1 sasl-mech: 1 to 20 characters of A-Z,
/// 0-9, "-" and "_".
bool is_sasl_mechanism_name(std::string_view name);

/// True for a SASL mechanism (upper case) whose proof is the connection it runs on, which a
/// gateway that terminates the client's TLS cannot relay: EXTERNAL (RFC 4422 appendix A:
/// the identity is the channel's, and the upstream channel is the gateway's own, with its
/// client certificate) and channel-binding mechanisms, named "...-PLUS" (RFC 5056, RFC 5802
/// §6, RFC 7677: bound to the client↔gateway TLS session the upstream never sees).
bool is_channel_bound_mechanism(std::string_view name);

/// The upstream's mechanisms a client's AUTH may be relayed with (DESIGN.md §4, pass-through
/// AUTH), in upstream order: all but is_channel_bound_mechanism. A client's AUTH naming
/// another one gets 504 5.5.4 and nothing goes upstream (probe round 44: "AUTH EXTERNAL ="
/// logged an anonymous client in as the gateway's client certificate).
std::vector<std::string> relayable_mechanisms(const Capabilities& upstream);

/// The keyword lines the gateway advertises, in a fixed order: SIZE (message_size_limit),
/// 8BITMIME, SMTPUTF8 and ENHANCEDSTATUSCODES only when the
/// upstream offers them (the gateway relays, it cannot downgrade), PIPELINING always (the
/// gateway reads pipelined commands and serialises them itself, RFC 2920), STARTTLS and
/// AUTH as `offer` says. CHUNKING, DSN, BINARYMIME and anything unknown are never offered.
std::vector<std::string> client_capabilities(const Capabilities& upstream, const GatewayOffer& offer);

}  // namespace gw::smtp
