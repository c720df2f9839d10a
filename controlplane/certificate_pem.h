// Reading certificate chains and private keys given as PEM (OpenSSL): the checks of
// CreateCertificate and of gctld's own --tls-* files, and the fields the admin API shows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/error.h"
#include "gateway/v1/config.pb.h"

namespace gw::controlplane {

/// Largest PEM text accepted for a chain or a key (octets). A chain of ten 4096-bit RSA
/// certificates is about 20 KiB.
inline constexpr std::size_t kMaxPemSize = 1 << 20;

/// What the admin API shows of a chain: the fields of its first (leaf) certificate.
struct CertificateDetails {
  std::string subject;  // RFC 2253, e.g. "CN=localhost,O=Example"
  std::string issuer;
  std::vector<std::string> subject_alt_names;  // "DNS:localhost", "IP:127.0.0.1", "IP:::1"
  std::int64_t not_before_ms = 0;              // Unix milliseconds
  std::int64_t not_after_ms = 0;
  std::string fingerprint_sha256;  // SHA-256 of the DER, "AB:CD:...", 32 octets
  int chain_length = 0;            // certificates in the chain
};

/// Parses `cert_pem`: one or more PEM blocks, each a CERTIFICATE that parses as X.509 with
/// nothing left over. Text outside the blocks (comments of a bundle file) is allowed; any
/// other block (a PRIVATE KEY pasted into the chain) is refused, so a key can never end up
/// in the public cert_pem. Errors: kInvalidArgument naming the block and the reason.
Result<CertificateDetails> inspect_certificate_chain(std::string_view cert_pem);

/// Parses `key_pem` (exactly one unencrypted private key block: PKCS#8 "PRIVATE KEY" or a
/// traditional "RSA/EC PRIVATE KEY"; other blocks such as EC PARAMETERS are ignored) and
/// checks that it belongs to the first certificate of `cert_pem` (X509_check_private_key) and
/// that each further certificate of the chain issued the one before it (RFC 5246 §7.4.2: the
/// chain is what a server sends; a bundle of CAs without a key is not checked).
/// Returns the key re-encoded as unencrypted PKCS#8 PEM, the form stored and sent to nodes.
/// Errors: kInvalidArgument (no key, two keys, an encrypted key, unparsable, or a key that
/// does not match); the message never contains key material.
Result<std::string> check_private_key(std::string_view cert_pem, std::string_view key_pem);

/// Copies `details` into the output-only fields of `certificate`.
void set_details(const CertificateDetails& details, gateway::v1::Certificate& certificate);

}  // namespace gw::controlplane
