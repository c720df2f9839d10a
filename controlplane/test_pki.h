// Test helper: a throw-away PKI made with OpenSSL in memory (EC P-256 keys, X.509 v3
// certificates with SANs), so tests need no openssl(1) and no checked-in keys.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace gw::controlplane::testing {

/// A certificate and its private key, both PEM.
struct TestCert {
  std::string cert_pem;
  std::string key_pem;
};

/// What to put into a certificate. Times are seconds relative to now.
struct CertSpec {
  std::string common_name = "localhost";
  std::vector<std::string> sans = {"DNS:localhost", "IP:127.0.0.1"};  // openssl syntax
  bool is_ca = false;
  long not_before_s = -3600;
  long not_after_s = 86400;
  std::string key_type = "EC";      // "EC" (P-256) or "RSA-<bits>", e.g. "RSA-2048"
  std::string extended_key_usage;   // openssl syntax, e.g. "clientAuth"; none when empty
  std::string key_usage;            // openssl syntax, e.g. "keyEncipherment"; none when empty
};

namespace detail {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};

inline void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what + " failed");
}

inline std::string drain(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

inline std::unique_ptr<EVP_PKEY, PkeyFree> read_key(const std::string& pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  check(key != nullptr, "reading the issuer key");
  return key;
}

inline std::unique_ptr<X509, X509Free> read_cert(const std::string& pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  check(cert != nullptr, "reading the issuer certificate");
  return cert;
}

inline void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  check(ext != nullptr, "building an extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

}  // namespace detail

/// A fresh private key, PKCS#8 PEM: EC P-256, or RSA with `type` "RSA-<bits>".
inline std::string make_key(const std::string& type = "EC") {
  std::unique_ptr<EVP_PKEY, detail::PkeyFree> key(
      type.rfind("RSA-", 0) == 0
          ? EVP_RSA_gen(static_cast<unsigned>(std::stoul(type.substr(4))))
          : EVP_EC_gen("P-256"));
  detail::check(key != nullptr, "generating a key");
  std::unique_ptr<BIO, detail::BioFree> bio(BIO_new(BIO_s_mem()));
  detail::check(
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1,
      "writing a key");
  return detail::drain(bio.get());
}

/// A certificate for `spec`, signed by `issuer` (self-signed when issuer is null).
inline TestCert make_cert(const CertSpec& spec, const TestCert* issuer = nullptr) {
  TestCert out;
  out.key_pem = make_key(spec.key_type);
  auto key = detail::read_key(out.key_pem);
  std::unique_ptr<X509, detail::X509Free> cert(X509_new());
  X509_set_version(cert.get(), 2);
  static long serial = 1000;
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after_s);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("gw test"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  std::unique_ptr<X509, detail::X509Free> issuer_cert;
  std::unique_ptr<EVP_PKEY, detail::PkeyFree> issuer_key;
  if (issuer != nullptr) {
    issuer_cert = detail::read_cert(issuer->cert_pem);
    issuer_key = detail::read_key(issuer->key_pem);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert.get()));
  } else {
    X509_set_issuer_name(cert.get(), name);
  }
  X509* signer_cert = issuer != nullptr ? issuer_cert.get() : cert.get();
  detail::add_extension(cert.get(), signer_cert, NID_basic_constraints,
                        spec.is_ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (spec.is_ca)
    detail::add_extension(cert.get(), signer_cert, NID_key_usage, "keyCertSign,cRLSign");
  if (!spec.key_usage.empty()) {
    detail::add_extension(cert.get(), signer_cert, NID_key_usage, spec.key_usage);
  }
  if (!spec.extended_key_usage.empty()) {
    detail::add_extension(cert.get(), signer_cert, NID_ext_key_usage, spec.extended_key_usage);
  }
  detail::add_extension(cert.get(), signer_cert, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) {
    detail::add_extension(cert.get(), signer_cert, NID_authority_key_identifier, "keyid");
  }
  if (!spec.sans.empty()) {
    std::string sans;
    for (const auto& san : spec.sans) sans += (sans.empty() ? "" : ",") + san;
    detail::add_extension(cert.get(), signer_cert, NID_subject_alt_name, sans);
  }
  EVP_PKEY* signer_key = issuer != nullptr ? issuer_key.get() : key.get();
  detail::check(X509_sign(cert.get(), signer_key, EVP_sha256()) > 0, "X509_sign");
  std::unique_ptr<BIO, detail::BioFree> bio(BIO_new(BIO_s_mem()));
  detail::check(PEM_write_bio_X509(bio.get(), cert.get()) == 1, "writing a certificate");
  out.cert_pem = detail::drain(bio.get());
  return out;
}

/// 16 base64 characters from the private scalar of a PEM key made by make_key() (an EC
/// PKCS#8 key's first 36 DER octets are the same for every key): what must never show up
/// where keys are banned.
inline std::string secret_part(const std::string& key_pem) {
  constexpr std::size_t kHeader = sizeof("-----BEGIN " "PRIVATE KEY-----\n") - 1;
  return key_pem.substr(kHeader + 48, 16);
}

/// A self-signed CA certificate named `common_name`.
inline TestCert make_ca(const std::string& common_name = "gw test CA") {
  CertSpec spec;
  spec.common_name = common_name;
  spec.sans.clear();
  spec.is_ca = true;
  return make_cert(spec);
}

}  // namespace gw::controlplane::testing
