// The TLS files a client of gctld gives on its command line (--tls-ca, --tls-cert,
// --tls-key of gctl and grelayd), loaded into an OpenSSL client context, with the local
// cause when one cannot be used: a wrong file fails here, with its name, not later as a
// connection that never comes up (probe rounds 42 and 45).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace gw::common {

/// An SSL_CTX owned by a unique_ptr.
using SslCtxPtr = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;

/// A TLS client context that verifies the peer against `ca_file` (PEM, one or more
/// certificates) and, when `cert_file` is not empty, presents `cert_file` (PEM chain, leaf
/// first) with `key_file` (unencrypted PEM key; an encrypted one is refused, never prompted
/// for). `cause` is set to one lower-case phrase naming the flag and file when a file cannot
/// be used ("--tls-ca FILE holds no PEM certificate", "--tls-key FILE is not the key of
/// --tls-cert", "--tls-key FILE holds no unencrypted PEM private key"), else left empty.
/// The context is returned either way (null only when OpenSSL cannot allocate one). Never
/// prints a file's content.
SslCtxPtr load_client_tls_files(const std::string& ca_file, const std::string& cert_file,
                                const std::string& key_file, std::string& cause);

}  // namespace gw::common
