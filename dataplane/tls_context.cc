// TLS contexts from PEM strings.
#include "dataplane/tls_context.h"

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <stdexcept>
#include <string>

#include "dataplane/smtp/address.h"

namespace gw::dataplane {
namespace {

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

void check(int ok, const char* what) {
  if (ok != 1) throw std::runtime_error(std::string(what) + ": " + openssl_error());
}

void apply_common(asio::ssl::context& ctx, const std::string& ciphers,
                  const std::string& min_version) {
  SSL_CTX* native = ctx.native_handle();
  int version = TLS1_2_VERSION;
  if (min_version == "1.3") {
    version = TLS1_3_VERSION;
  } else if (!min_version.empty() && min_version != "1.2") {
    throw std::runtime_error("unsupported minimum TLS version " + min_version + " (1.2 or 1.3)");
  }
  check(SSL_CTX_set_min_proto_version(native, version), "minimum TLS version");
  // Never a suite without encryption (eNULL) or without server authentication (aNULL),
  // whatever the list says: AUTH and the mail would cross in clear or to anyone in the
  // middle (design §3.2; probe round 38: "eNULL:@SECLEVEL=0" got AUTH PLAIN offered and
  // accepted over ECDHE-RSA-NULL-SHA). gctld refuses a list left with nothing else
  // (controlplane/validation.cc, the same suffix).
  const std::string list = (ciphers.empty() ? std::string("DEFAULT") : ciphers) + ":!eNULL:!aNULL";
  check(SSL_CTX_set_cipher_list(native, list.c_str()), "cipher list");
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
}

void use_certificate_key(asio::ssl::context& ctx, const CertificateKey& ck) {
  boost::system::error_code ec;
  ctx.use_certificate_chain(asio::buffer(ck.cert_pem), ec);
  if (ec) throw std::runtime_error("certificate chain: " + ec.message());
  ctx.use_private_key(asio::buffer(ck.key_pem), asio::ssl::context::pem, ec);
  if (ec) throw std::runtime_error("private key: " + ec.message());
  check(SSL_CTX_check_private_key(ctx.native_handle()), "private key does not match certificate");
}

// A trust anchor need not be a self-signed root (RFC 5280 §6.1.1(d)): an operator who
// names an intermediate CA, or pins a peer's own certificate, means that certificate.
// OpenSSL otherwise insists on building the chain up to a self-signed root and fails with
// "unable to get issuer certificate" (probe round 45).
// With any certificate a trust anchor, an issuer must still be a CA: OpenSSL (without
// X509_STRICT) takes a certificate whose key usage allows keyCertSign as one even without
// basicConstraints cA, so a pinned client certificate of that kind vouched for whatever its
// key signed (RFC 5280 §4.2.1.9; probe round 46). A v1 self-signed root still counts.
int issuers_must_be_cas(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok != 1 || X509_STORE_CTX_get_error_depth(store) == 0) return preverify_ok;
  const int ca = X509_check_ca(X509_STORE_CTX_get_current_cert(store));
  if (ca == 1 || ca == 3) return 1;
  X509_STORE_CTX_set_error(store, X509_V_ERR_INVALID_CA);
  return 0;
}

void trust_any_anchor(asio::ssl::context& ctx) {
  SSL_CTX* native = ctx.native_handle();
  X509_STORE_set_flags(SSL_CTX_get_cert_store(native), X509_V_FLAG_PARTIAL_CHAIN);
  SSL_CTX_set_verify(native, SSL_CTX_get_verify_mode(native), &issuers_must_be_cas);
}

void add_authorities(asio::ssl::context& ctx, const std::string& pem) {
  // add_certificate_authority takes one certificate per call: split the bundle.
  std::size_t pos = 0;
  static const std::string kEnd = "-----END CERTIFICATE-----";
  while (true) {
    std::size_t begin = pem.find("-----BEGIN CERTIFICATE-----", pos);
    if (begin == std::string::npos) break;
    std::size_t end = pem.find(kEnd, begin);
    if (end == std::string::npos) throw std::runtime_error("truncated CA certificate");
    end += kEnd.size();
    boost::system::error_code ec;
    ctx.add_certificate_authority(asio::buffer(pem.data() + begin, end - begin), ec);
    if (ec) throw std::runtime_error("CA certificate: " + ec.message());
    pos = end;
  }
}

std::unique_ptr<asio::ssl::context> make_server(const CertificateKey& ck,
                                                const ServerTlsSettings& settings) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  apply_common(*ctx, settings.ciphers, settings.min_version);
  use_certificate_key(*ctx, ck);
  if (!settings.client_ca_pem.empty()) {
    add_authorities(*ctx, settings.client_ca_pem);
    trust_any_anchor(*ctx);
    ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }
  // No session is resumed: a resumption skips the SNI choice of certificate, so a session
  // made under one server name would be resumed under another (RFC 6066 §3 forbids it;
  // probe round 45), and an SMTP session is long enough for a full handshake. A client
  // offering a session id or ticket gets a full handshake.
  SSL_CTX_set_session_cache_mode(ctx->native_handle(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(ctx->native_handle(), 0);
  // A session may only be resumed where it was made: the context is a digest of the
  // client-certificate trust, the same for the default and every SNI context of the
  // interface. Without it OpenSSL aborts every resumption attempt on an interface that
  // verifies client certificates ("session id context uninitialized", an internal_error
  // alert) instead of falling back to a full handshake (RFC 8446 §4.6.1, RFC 5077 §3.1).
  unsigned char sid_context[SHA256_DIGEST_LENGTH];
  const std::string scope = "grelayd client-ca:" + settings.client_ca_pem;
  SHA256(reinterpret_cast<const unsigned char*>(scope.data()), scope.size(), sid_context);
  static_assert(sizeof sid_context <= SSL_MAX_SID_CTX_LENGTH);
  if (SSL_CTX_set_session_id_context(ctx->native_handle(), sid_context, sizeof sid_context) != 1) {
    throw std::runtime_error("cannot set the TLS session id context");
  }
  return ctx;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

TlsServerContext::TlsServerContext(const ServerTlsSettings& settings)
    : default_(make_server(settings.certificate, settings)),
      requires_client_certificate_(!settings.client_ca_pem.empty()),
      client_ca_pem_(settings.client_ca_pem) {
  for (const auto& [name, ck] : settings.by_sni) by_sni_.emplace(lower(name), make_server(ck, settings));
  SSL_CTX* native = default_->native_handle();
  SSL_CTX_callback_ctrl(native, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                        reinterpret_cast<void (*)()>(&TlsServerContext::on_server_name));
  SSL_CTX_ctrl(native, SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG, 0, this);
}

int TlsServerContext::on_server_name(SSL* ssl, int* alert, void* arg) {
  auto* self = static_cast<TlsServerContext*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_OK;  // no SNI: default certificate
  std::string_view sni(name);
  if (!smtp::is_valid_domain(sni)) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  std::string key = lower(sni);
  auto it = self->by_sni_.find(key);
  if (it == self->by_sni_.end()) {
    std::size_t dot = key.find('.');
    if (dot != std::string::npos) it = self->by_sni_.find("*" + key.substr(dot));
  }
  if (it != self->by_sni_.end()) SSL_set_SSL_CTX(ssl, it->second->native_handle());
  return SSL_TLSEXT_ERR_OK;
}

std::shared_ptr<asio::ssl::context> make_client_tls_context(const ClientTlsSettings& settings) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  apply_common(*ctx, settings.ciphers, settings.min_version);
  if (settings.system_cas) ctx->set_default_verify_paths();
  for (const auto& pem : settings.trusted_ca_pems) add_authorities(*ctx, pem);
  if (!settings.trusted_ca_pems.empty()) trust_any_anchor(*ctx);
  if (!settings.client_certificate.cert_pem.empty()) use_certificate_key(*ctx, settings.client_certificate);
  ctx->set_verify_mode(asio::ssl::verify_peer);
  return ctx;
}

}  // namespace gw::dataplane
