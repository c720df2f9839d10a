// Validation of services, interfaces and node identities received on the admin and node
// APIs. Every refusal is kInvalidArgument with a message naming the field and the rule.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "controlplane/error.h"
#include "controlplane/policy/password_hash.h"
#include "gateway/v1/config.pb.h"

namespace gw::controlplane {

/// The name in trusted_cas that means the operating system's CA bundle (config.proto); no
/// stored certificate may be called so.
inline constexpr std::string_view kSystemTrustStore = "system";

/// True for names of services, instances and certificates: [A-Za-z0-9._-]{1,64}.
bool is_valid_name(std::string_view name);

/// Checks the name of a new certificate: is_valid_name and not "system" in any case
/// (reserved for the OS CA bundle). Errors: kInvalidArgument.
Result<void> validate_certificate_name(std::string_view name);

/// True when OpenSSL's cipher list syntax (TLS 1.2 and below) selects at least one cipher
/// from `ciphers` (SSL_CTX_set_cipher_list), e.g. "HIGH:!aNULL". Unknown words are
/// ignored by OpenSSL as long as something is selected.
bool cipher_list_selects_any(const std::string& ciphers);

/// True for a DNS host name: dot-separated labels of [A-Za-z0-9_-]{1,63}, at most 253
/// octets, an optional final dot.
bool is_valid_host_name(std::string_view name);

/// Parses an IPv4 or IPv6 address (IPv6 may be written in brackets) and returns its
/// canonical text (inet_ntop), e.g. "[::0001]" -> "::1". Errors: kInvalidArgument.
Result<std::string> canonical_ip(std::string_view address);

/// True if `canonical` (an address as canonical_ip gives it) is an IPv4 multicast address
/// (224.0.0.0/4), the limited broadcast address 255.255.255.255 or an IPv6 multicast address
/// (ff00::/8): no TCP peer has such an address (RFC 1112 §4, RFC 4291 §2.7).
bool is_multicast_or_broadcast(std::string_view canonical);

/// Checks a service whose defaults are filled in (fill_service_defaults): name, host (IP
/// address or host name), port 1..65535, security, instance, banner host name, ciphers
/// (printable and selecting at least one cipher), tls_min_version "1.2" or "1.3",
/// tls_server_name (host name or IP), credentials (no control characters), certificate
/// names; security ssl or starttls needs at least one trusted CA (reference: "Connection
/// Security"), and a CA may be listed once. Whether the named certificates exist is
/// check_service_certificates's job. Limits are not bounded beyond "zero means default":
/// operators may choose small values.
Result<void> validate_service(const gateway::v1::Service& service);

/// Checks an interface whose defaults are filled in (fill_interface_defaults) and rewrites
/// it to canonical form (bind address per inet_ntop; SNI server names lower-case without a
/// final dot): service name, type, port 1..65535, bind address an IP address, a
/// certificate name for ssl/starttls (DESIGN.md §2 "interface"), ciphers, tls_min_version;
/// sni_certs (host name or "*.domain", each once, with a certificate name) and client_ca
/// only on ssl/starttls interfaces.
Result<void> validate_interface(gateway::v1::Interface& iface);

/// What the reference checks need to know of a stored certificate.
struct CertificateFacts {
  bool has_key = false;
  std::string cert_pem;  // the chain, leaf first
  std::string key_pem;   // unencrypted PKCS#8; empty without a key or when it cannot be read
};

/// Looks a stored certificate up by name: nullopt when there is none. A storage failure is
/// returned as the error and ends the check.
using CertificateLookup =
    std::function<Result<std::optional<CertificateFacts>>(std::string_view name)>;

/// Checks that the certificates a validated service names exist: every trusted CA but
/// "system", and the client certificate, which must have a private key and allow TLS client
/// authentication (check_leaf_purpose).
/// Errors: kInvalidArgument naming the field and the certificate, or the lookup's error.
Result<void> check_service_certificates(const gateway::v1::Service& service,
                                        const CertificateLookup& lookup);

/// Checks that the certificates a validated interface names exist: cert and each SNI
/// certificate with a private key, client_ca (a trust anchor, key not needed). cert and each
/// SNI certificate must allow TLS server authentication (check_leaf_purpose) and complete a
/// handshake with the interface's ciphers for every version from its tls_min_version
/// (check_server_handshake).
/// Errors: kInvalidArgument naming the field and the certificate, or the lookup's error.
Result<void> check_interface_certificates(const gateway::v1::Interface& iface,
                                          const CertificateLookup& lookup);

/// Checks the identity a relay node presents: node id 1..128 of [A-Za-z0-9._:@-], an
/// instance name per is_valid_name.
Result<void> validate_node_identity(std::string_view node_id, std::string_view instance);

/// Checks an informational text of a node (host name, version): at most 255 octets of
/// printable ASCII. `field` names it in the message.
Result<void> validate_node_text(std::string_view field, std::string_view text);

/// Checks a password hash given as is (`gctl apply`, CreateUser with password_hash): an
/// Argon2id hash (policy::is_password_hash) costing at least `minimum` (memory, passes) and at
/// most policy::kMaxStoredArgon2Cost. Errors: kInvalidArgument naming the cost found and
/// the range.
Result<void> check_hash_cost(std::string_view hash, const policy::Argon2Cost& minimum);

}  // namespace gw::controlplane
