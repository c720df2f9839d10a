// Loading gctld clients' TLS files with OpenSSL.
#include "common/tls/client_tls_files.h"

#include <openssl/err.h>
#include <openssl/x509.h>

namespace gw::common {

SslCtxPtr load_client_tls_files(const std::string& ca_file, const std::string& cert_file,
                                const std::string& key_file, std::string& cause) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  if (!ctx) return ctx;
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  // An encrypted key is refused, never asked about: OpenSSL's default prompt read the
  // terminal and blocked (probe round 43).
  SSL_CTX_set_default_passwd_cb(ctx.get(), [](char*, int, int, void*) { return 0; });
  ERR_clear_error();
  if (SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) != 1) {
    cause = "--tls-ca " + ca_file + " holds no PEM certificate";
  } else if (!cert_file.empty() &&
             SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1) {
    // A certificate OpenSSL's security level refuses is there, just too weak (probe round
    // 46: an RSA-1024 one was reported as missing).
    const int reason = ERR_GET_REASON(ERR_peek_last_error());
    cause = reason == SSL_R_EE_KEY_TOO_SMALL || reason == SSL_R_CA_KEY_TOO_SMALL ||
                    reason == SSL_R_CA_MD_TOO_WEAK
                ? "--tls-cert " + cert_file + " is below OpenSSL's security level (" +
                      ERR_reason_error_string(ERR_peek_last_error()) +
                      "; RSA keys need 2048 bits, signatures SHA-256)"
                : "--tls-cert " + cert_file + " holds no PEM certificate";
  } else if (!cert_file.empty() &&
             SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL also checks here that the key is the certificate's.
    const int reason = ERR_GET_REASON(ERR_peek_last_error());
    cause = reason == X509_R_KEY_VALUES_MISMATCH || reason == X509_R_KEY_TYPE_MISMATCH
                ? "--tls-key " + key_file + " is not the key of --tls-cert"
                : "--tls-key " + key_file + " holds no unencrypted PEM private key";
  }
  ERR_clear_error();
  return ctx;
}

}  // namespace gw::common
