// In-memory TLS handshakes and purpose checks over stored certificates (OpenSSL).
#include "controlplane/tls_usability.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "controlplane/openssl_ptr.h"

namespace gw::controlplane {
namespace {

using openssl::Bio;
using openssl::Ctx;
using openssl::memory_bio;
using openssl::Pkey;
using openssl::Ssl;
using openssl::X509Ptr;

int refuse_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) {
  return -1;
}

// The reason of the oldest queued OpenSSL error (static text such as "no shared cipher" or
// "ee key too small", never input data); clears the queue.
std::string openssl_reason(const char* fallback) {
  const unsigned long code = ERR_peek_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  ERR_clear_error();
  return reason != nullptr ? reason : fallback;
}

auto invalid(std::string message) { return fail(Code::kInvalidArgument, std::move(message)); }

// Loads the chain (leaf first) and the key into `ctx`. Returns the OpenSSL reason on failure.
std::optional<std::string> load_server_identity(SSL_CTX* ctx, const std::string& cert_pem,
                                                const std::string& key_pem) {
  Bio certs = memory_bio(cert_pem);
  if (certs == nullptr) return "out of memory";
  X509Ptr leaf(PEM_read_bio_X509(certs.get(), nullptr, refuse_passphrase, nullptr));
  if (leaf == nullptr || SSL_CTX_use_certificate(ctx, leaf.get()) != 1) {
    return openssl_reason("the certificate cannot be loaded");
  }
  for (;;) {
    X509Ptr next(PEM_read_bio_X509(certs.get(), nullptr, refuse_passphrase, nullptr));
    if (next == nullptr) break;
    if (SSL_CTX_add1_chain_cert(ctx, next.get()) != 1) {
      return openssl_reason("a chain certificate cannot be loaded");
    }
  }
  ERR_clear_error();  // the end of the chain reads as "no start line"
  Bio key_bio = memory_bio(key_pem);
  if (key_bio == nullptr) return "out of memory";
  Pkey key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, refuse_passphrase, nullptr));
  if (key == nullptr || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
    return openssl_reason("the private key cannot be loaded");
  }
  return std::nullopt;
}

// A server context as grelayd makes one (dataplane/tls_context.cc: cipher list first, so
// that an @SECLEVEL in it applies to the key), allowing exactly `version` when it is not 0.
// Sets `failed` to the OpenSSL reason when the list or the identity is refused.
Ctx server_context(int version, const std::string& cert_pem, const std::string& key_pem,
                   const std::string& ciphers, std::string& failed) {
  Ctx ctx(SSL_CTX_new(TLS_server_method()));
  if (ctx == nullptr) {
    failed = "out of memory";
    return nullptr;
  }
  if (version != 0) {
    SSL_CTX_set_min_proto_version(ctx.get(), version);
    SSL_CTX_set_max_proto_version(ctx.get(), version);
  }
  const std::string list = (ciphers.empty() ? std::string("DEFAULT") : ciphers) + ":!eNULL:!aNULL";
  if (SSL_CTX_set_cipher_list(ctx.get(), list.c_str()) != 1) {
    failed = openssl_reason("no cipher matches the list");
    return nullptr;
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  if (auto refused = load_server_identity(ctx.get(), cert_pem, key_pem)) {
    failed = *refused;
    return nullptr;
  }
  return ctx;
}

// One handshake at exactly `version` between a server set up as grelayd's and a permissive
// client, through a BIO pair. nullopt when it completes, else the server's (or client's)
// OpenSSL reason.
std::optional<std::string> handshake(int version, const std::string& cert_pem,
                                     const std::string& key_pem, const std::string& ciphers) {
  std::string failed;
  Ctx server_ctx = server_context(version, cert_pem, key_pem, ciphers, failed);
  if (server_ctx == nullptr) return failed;
  Ctx client_ctx(SSL_CTX_new(TLS_client_method()));
  if (client_ctx == nullptr) return "out of memory";
  SSL_CTX_set_min_proto_version(client_ctx.get(), version);
  SSL_CTX_set_max_proto_version(client_ctx.get(), version);
  SSL_CTX_set_cipher_list(client_ctx.get(), "ALL:@SECLEVEL=0");
  SSL_CTX_set_security_level(client_ctx.get(), 0);

  Ssl server(SSL_new(server_ctx.get()));
  Ssl client(SSL_new(client_ctx.get()));
  if (server == nullptr || client == nullptr) return "out of memory";
  BIO* server_end = nullptr;
  BIO* client_end = nullptr;
  if (BIO_new_bio_pair(&server_end, 0, &client_end, 0) != 1) return "out of memory";
  SSL_set_bio(server.get(), server_end, server_end);  // one reference each, owned by the SSL
  SSL_set_bio(client.get(), client_end, client_end);
  SSL_set_accept_state(server.get());
  SSL_set_connect_state(client.get());

  auto stuck = [](SSL* ssl, int rc) {
    const int error = SSL_get_error(ssl, rc);
    return error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE;
  };
  // A TLS 1.2 handshake takes two round trips, 1.3 one; each pass moves every pending flight.
  for (int pass = 0; pass < 16; ++pass) {
    const int client_rc = SSL_do_handshake(client.get());
    if (client_rc != 1 && stuck(client.get(), client_rc)) {
      return openssl_reason("the client gave up");
    }
    const int server_rc = SSL_do_handshake(server.get());
    if (server_rc != 1 && stuck(server.get(), server_rc)) {
      return openssl_reason("the server gave up");
    }
    if (client_rc == 1 && server_rc == 1) {
      ERR_clear_error();
      return std::nullopt;
    }
  }
  ERR_clear_error();
  return "the handshake did not finish";
}

}  // namespace

Result<void> check_leaf_purpose(std::string_view what, std::string_view cert_pem, TlsRole role) {
  Bio bio = memory_bio(cert_pem);
  if (bio == nullptr) return fail(Code::kInternal, "out of memory");
  X509Ptr leaf(PEM_read_bio_X509(bio.get(), nullptr, refuse_passphrase, nullptr));
  ERR_clear_error();
  if (leaf == nullptr) return invalid(std::string(what) + " holds no readable certificate");
  const bool server = role == TlsRole::kServer;
  const int purpose = server ? X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT;
  const bool allowed = X509_check_purpose(leaf.get(), purpose, 0) == 1;
  const std::uint32_t flags = X509_get_extension_flags(leaf.get());
  const bool has_eku = (flags & EXFLAG_XKUSAGE) != 0;
  const bool eku_ok =
      !has_eku || (X509_get_extended_key_usage(leaf.get()) & (server ? XKU_SSL_SERVER
                                                                      : XKU_SSL_CLIENT)) != 0;
  // Every TLS 1.3 handshake, and every TLS 1.2 one with (EC)DHE, is signed with the key:
  // a key usage without digitalSignature (keyEncipherment alone: RSA key transport) is
  // refused by NSS and GnuTLS peers (RFC 8446 §4.4.2.2, RFC 5280 §4.2.1.3; probe round 45).
  const bool can_sign = (flags & EXFLAG_KUSAGE) == 0 ||
                        (X509_get_key_usage(leaf.get()) & KU_DIGITAL_SIGNATURE) != 0;
  ERR_clear_error();
  if (allowed && can_sign) return ok();
  const std::string role_name = server ? "server" : "client";
  if (!eku_ok) {
    return invalid(std::string(what) + " does not allow TLS " + role_name +
                   " authentication: its extended key usage lacks " +
                   (server ? "serverAuth" : "clientAuth") + " (RFC 5280 §4.2.1.12); peers refuse it");
  }
  return invalid(std::string(what) + " does not allow TLS " + role_name +
                 " authentication: its key usage lacks digitalSignature, which every TLS 1.3 "
                 "handshake needs (RFC 5280 §4.2.1.3, RFC 8446 §4.4.2.2); peers refuse it");
}

Result<void> check_client_identity(std::string_view what, const std::string& cert_pem,
                                   const std::string& key_pem, const std::string& ciphers) {
  Ctx ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) return fail(Code::kInternal, "out of memory");
  const std::string list = (ciphers.empty() ? std::string("DEFAULT") : ciphers) + ":!eNULL:!aNULL";
  SSL_CTX_set_cipher_list(ctx.get(), list.c_str());  // only its @SECLEVEL matters here
  ERR_clear_error();
  if (auto refused = load_server_identity(ctx.get(), cert_pem, key_pem)) {
    return invalid(std::string(what) + " cannot be loaded by a TLS client: " + *refused +
                   (refused->find("too small") != std::string::npos ||
                            refused->find("too weak") != std::string::npos
                        ? " (RSA keys need 2048 bits, signatures SHA-256, at OpenSSL's default "
                          "security level 2)"
                        : ""));
  }
  return ok();
}

Result<void> check_server_handshake(std::string_view what, const std::string& cert_pem,
                                    const std::string& key_pem, const std::string& ciphers,
                                    std::string_view min_version) {
  std::string refused;
  if (server_context(0, cert_pem, key_pem, ciphers, refused) == nullptr) {
    const bool weak = refused.find("too small") != std::string::npos ||
                      refused.find("too weak") != std::string::npos;
    // The list may set its own level ("@SECLEVEL=3" wants 3072-bit RSA keys).
    const bool own_level = ciphers.find("@SECLEVEL=") != std::string::npos;
    return invalid(std::string(what) + " cannot be loaded by a TLS server: " + refused +
                   (!weak       ? ""
                    : own_level ? " (below the security level the cipher list sets)"
                                : " (OpenSSL's default security level 2 refuses RSA and DSA "
                                  "keys under 2048 bits and SHA-1 signatures)"));
  }
  if (auto failed = handshake(TLS1_3_VERSION, cert_pem, key_pem, ciphers)) {
    return invalid(std::string(what) + " cannot serve TLS 1.3: " + *failed);
  }
  if (min_version == "1.3") return ok();  // grelayd allows TLS 1.2 unless told "1.3"
  if (auto failed = handshake(TLS1_2_VERSION, cert_pem, key_pem, ciphers)) {
    return invalid(std::string(what) + " cannot serve TLS 1.2 with ciphers \"" + ciphers +
                   "\": " + *failed +
                   " (no cipher suite of the list fits the certificate's key; choose other "
                   "ciphers, or set tls_min_version 1.3)");
  }
  return ok();
}

}  // namespace gw::controlplane
