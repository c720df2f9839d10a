// OpenSSL contexts built from the PEM material of a configuration snapshot: one server
// context per TLS interface (with SNI alternatives and optional client-certificate checks)
// and one client context per service with a secure upstream (DESIGN.md §2, issue 3).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dataplane/asio.h"

namespace gw::dataplane {

/// A certificate chain (leaf first) with its private key, both PEM.
struct CertificateKey {
  std::string cert_pem;
  std::string key_pem;
};

/// What a TLS interface needs.
struct ServerTlsSettings {
  CertificateKey certificate;                    // default certificate
  std::map<std::string, CertificateKey> by_sni;  // lower-case host name or "*.domain"
  std::string client_ca_pem;                     // non-empty: require a client certificate
  std::string ciphers = "DEFAULT";               // OpenSSL cipher list for TLS <= 1.2
  std::string min_version = "1.2";               // "1.2" or "1.3"
};

/// The server side of TLS for one interface. The SNI callback picks a certificate by the
/// client's server name (RFC 6066 §3); a name that is not a syntactically valid host name
/// aborts the handshake (field case BR-36: SNI is untrusted input). Client-initiated
/// renegotiation is refused (RFC 5746 / SSL_OP_NO_RENEGOTIATION), and no session is
/// resumed (a resumption would skip the SNI choice). Client certificates are verified
/// against client_ca_pem as trust anchors, self-signed or not (X509_V_FLAG_PARTIAL_CHAIN).
class TlsServerContext {
 public:
  /// Throws std::runtime_error with OpenSSL's reason for unusable material (bad PEM, key
  /// not matching the certificate, unknown cipher list or version).
  explicit TlsServerContext(const ServerTlsSettings& settings);
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  asio::ssl::context& context() { return *default_; }

  /// True when the interface requires a client certificate (client_ca_pem given): a session
  /// on it must be encrypted before it may do anything but EHLO, STARTTLS, NOOP and QUIT
  /// (RFC 3207 §4; probe round 45: a starttls client without a certificate skipped
  /// STARTTLS and relayed mail).
  bool requires_client_certificate() const { return requires_client_certificate_; }
  /// The client CAs (PEM) client certificates are verified against; empty: none asked for.
  const std::string& client_ca_pem() const { return client_ca_pem_; }

 private:
  static int on_server_name(SSL* ssl, int* alert, void* arg);
  std::unique_ptr<asio::ssl::context> default_;
  std::map<std::string, std::unique_ptr<asio::ssl::context>> by_sni_;
  bool requires_client_certificate_ = false;
  std::string client_ca_pem_;
};

/// The TLS server context a listener serves now, shared with its sessions: one still in
/// plaintext takes the current one at each command, so its STARTTLS uses the certificate
/// and client-certificate rule in force then, not those of when it connected (probe round
/// 46: after a rotation a plaintext session did STARTTLS with the old certificate and no
/// client-certificate check). Thread-safe.
class LiveTls {
 public:
  void set(std::shared_ptr<TlsServerContext> tls) {
    std::lock_guard lock(mu_);
    tls_ = std::move(tls);
  }
  [[nodiscard]] std::shared_ptr<TlsServerContext> get() const {
    std::lock_guard lock(mu_);
    return tls_;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<TlsServerContext> tls_;  // guarded by mu_
};

/// What the upstream leg of a service needs.
struct ClientTlsSettings {
  std::vector<std::string> trusted_ca_pems;
  bool system_cas = false;            // also trust the OS bundle ("system")
  CertificateKey client_certificate;  // empty: none
  std::string ciphers = "DEFAULT";
  std::string min_version = "1.2";
};

/// Builds a client context that verifies the peer's chain against the trusted CAs.
/// Throws std::runtime_error like TlsServerContext.
std::shared_ptr<asio::ssl::context> make_client_tls_context(const ClientTlsSettings& settings);

}  // namespace gw::dataplane
