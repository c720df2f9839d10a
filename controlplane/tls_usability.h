// Whether a stored certificate can do the TLS job a configuration gives it, checked when the
// configuration is written, so that a relay node never receives a listener it cannot open or
// one no client can complete a handshake with (a probe round: an ECDSA-only cipher list on
// an RSA certificate, accepted by gctl, left every TLS 1.2 client with "no shared cipher").
#pragma once

#include <string>
#include <string_view>

#include "controlplane/error.h"

namespace gw::controlplane {

/// What a certificate with a key is used for; the leaf's key usage and extended key usage
/// must allow it (RFC 5280 §4.2.1.3, §4.2.1.12: serverAuth, clientAuth).
enum class TlsRole { kServer, kClient };

/// Checks the leaf (first certificate of `cert_pem`) for `role`, as OpenSSL's X509_check_purpose
/// (X509_PURPOSE_SSL_SERVER / _CLIENT) does, and more strictly: an extended key usage without
/// serverAuth (clientAuth), or a key usage without digitalSignature (TLS 1.3 signs every
/// handshake), is refused. A CA certificate used as a leaf is allowed: `openssl req -x509`
/// makes self-signed certificates with CA:TRUE by default.
/// Errors: kInvalidArgument "`what` ... does not allow ..." .
Result<void> check_leaf_purpose(std::string_view what, std::string_view cert_pem, TlsRole role);

/// Checks that a TLS server holding `cert_pem` (leaf first) and `key_pem` completes a handshake
/// for each protocol version it allows: TLS 1.3, and TLS 1.2 too unless `min_version` is
/// "1.3". Empty `ciphers` means DEFAULT, as in grelayd.
/// The server is set up as grelayd sets up its listeners (dataplane/tls_context.cc: OpenSSL's
/// default security level unless the list sets one, the cipher list with ":!eNULL:!aNULL"
/// appended); the client offers every cipher suite OpenSSL has at security level 0 and does
/// not verify, so a failure is the server's: a key too small for the security level, a cipher
/// list with no suite for the key type (aECDSA on an RSA key), PSK or SRP only. The handshake
/// runs in memory (a BIO pair), in about a millisecond; no socket is opened.
/// Errors: kInvalidArgument "`what` cannot serve TLS 1.2 with ciphers "...": <OpenSSL reason>"
/// with a hint; kInternal when OpenSSL cannot allocate.
Result<void> check_server_handshake(std::string_view what, const std::string& cert_pem,
                                    const std::string& key_pem, const std::string& ciphers,
                                    std::string_view min_version);

/// Checks that a TLS client (the upstream leg of a service: its --client-cert) can load
/// `cert_pem` with `key_pem` under `ciphers` (an @SECLEVEL there applies), as grelayd does.
/// Errors: kInvalidArgument "`what` cannot be loaded by a TLS client: ee key too small (...)".
Result<void> check_client_identity(std::string_view what, const std::string& cert_pem,
                                   const std::string& key_pem, const std::string& ciphers);

}  // namespace gw::controlplane
