// PEM chains and keys through OpenSSL: block-by-block parsing, key match, display fields.
#include "controlplane/certificate_pem.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <ctime>
#include <memory>

#include "controlplane/openssl_ptr.h"

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;

struct NamesFree {
  void operator()(GENERAL_NAMES* names) const noexcept { GENERAL_NAMES_free(names); }
};
// PEM_read_bio hands out OPENSSL_malloc'd name, header and data. The data of a key block is
// cleansed before it is freed.
struct PemBlock {
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long size = 0;
  PemBlock() = default;
  PemBlock(const PemBlock&) = delete;
  PemBlock& operator=(const PemBlock&) = delete;
  ~PemBlock() {
    if (data != nullptr) OPENSSL_clear_free(data, static_cast<std::size_t>(size));
    OPENSSL_free(name);
    OPENSSL_free(header);
  }
};
using openssl::Bio;
using openssl::memory_bio;
using openssl::Pkey;
using openssl::X509Ptr;

// The reason of the newest OpenSSL error (static text, never input data); clears the queue.
std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  ERR_clear_error();
  return reason == nullptr ? "unknown error" : reason;
}

enum class Next { kBlock, kEnd, kBroken };

// Reads the next PEM block; kEnd when only text without a BEGIN line is left.
Next read_block(BIO* bio, PemBlock& block, std::string& reason) {
  ERR_clear_error();
  if (PEM_read_bio(bio, &block.name, &block.header, &block.data, &block.size) == 1) {
    return Next::kBlock;
  }
  const unsigned long code = ERR_peek_last_error();
  if (ERR_GET_LIB(code) == ERR_LIB_PEM && ERR_GET_REASON(code) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
    return Next::kEnd;
  }
  reason = openssl_reason();
  return Next::kBroken;
}

bool is_key_block(std::string_view name) {
  constexpr std::string_view kSuffix = "PRIVATE KEY";
  return name.size() >= kSuffix.size() && name.substr(name.size() - kSuffix.size()) == kSuffix;
}

// Printable ASCII as is; anything else as '?' (names and SANs are shown on terminals).
std::string displayable(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return out;
}

std::string name_text(const X509_NAME* name) {
  Bio bio(BIO_new(BIO_s_mem()));
  // RFC 2253 order and escaping, but UTF-8 kept as UTF-8 instead of \XX escapes.
  if (bio == nullptr ||
      X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    ERR_clear_error();
    return "";
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return displayable(std::string_view(data, static_cast<std::size_t>(size)));
}

std::int64_t time_ms(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

std::vector<std::string> alt_names(X509* cert) {
  std::vector<std::string> out;
  std::unique_ptr<GENERAL_NAMES, NamesFree> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      const ASN1_STRING* dns = name->d.dNSName;
      out.push_back("DNS:" + displayable(std::string_view(
                                 reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                 static_cast<std::size_t>(ASN1_STRING_length(dns)))));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      const int length = ASN1_STRING_length(ip);
      char text[INET6_ADDRSTRLEN] = {};
      const int family = length == 4 ? AF_INET : length == 16 ? AF_INET6 : 0;
      if (family != 0 &&
          inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof text) != nullptr) {
        out.push_back(std::string("IP:") + text);
      }
    }
  }
  return out;
}

std::string fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (X509_digest(cert, EVP_sha256(), md, &size) != 1) {
    ERR_clear_error();
    return "";
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    if (i > 0) out += ':';
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

Result<void> check_size(std::string_view what, std::string_view pem) {
  if (pem.empty()) return fail(Code::kInvalidArgument, std::string(what) + " is empty");
  if (pem.size() > kMaxPemSize) {
    return fail(Code::kInvalidArgument,
                std::string(what) + " is larger than " + std::to_string(kMaxPemSize) + " octets");
  }
  return ok();
}

// Every block of `cert_pem` as X.509; the first one is returned.
Result<X509Ptr> parse_chain(std::string_view cert_pem, int& count) {
  if (auto sized = check_size("certificate PEM", cert_pem); !sized) return sized.as_failure();
  Bio bio = memory_bio(cert_pem);
  if (bio == nullptr) return fail(Code::kInternal, "out of memory");
  X509Ptr first;
  count = 0;
  for (int index = 1;; ++index) {
    PemBlock block;
    std::string reason;
    const Next next = read_block(bio.get(), block, reason);
    if (next == Next::kEnd) break;
    const std::string where = "PEM block " + std::to_string(index);
    if (next == Next::kBroken) {
      return fail(Code::kInvalidArgument,
                  where + " of the certificate is not valid PEM (" + reason + ")");
    }
    const std::string_view name(block.name);
    if (name != "CERTIFICATE") {
      std::string message =
          where + " is a \"" + displayable(name.substr(0, 40)) + "\" block, not a CERTIFICATE";
      if (is_key_block(name)) message += ": give the private key separately (key_pem, --key)";
      return fail(Code::kInvalidArgument, std::move(message));
    }
    const unsigned char* cursor = block.data;
    X509Ptr cert(d2i_X509(nullptr, &cursor, block.size));
    if (cert == nullptr || cursor != block.data + block.size) {
      const std::string why = cert == nullptr ? openssl_reason() : "trailing data";
      return fail(Code::kInvalidArgument, "certificate " + std::to_string(index) +
                                              " of the chain cannot be parsed (" + why + ")");
    }
    ++count;
    if (first == nullptr) first = std::move(cert);
  }
  if (first == nullptr) {
    return fail(Code::kInvalidArgument,
                "certificate PEM holds no \"-----BEGIN CERTIFICATE-----\" block");
  }
  return first;
}

int refuse_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) {
  return -1;
}

// A server's chain is sent as stored, and "each following certificate MUST directly certify
// the one preceding it" (RFC 5246 §7.4.2; RFC 8446 §4.4.2 asks the same of senders): a
// bundle in another order, or an intermediate of another CA, makes clients that need the
// intermediate fail the handshake. Checks names, key identifiers and the signature.
Result<void> check_chain_order(std::string_view cert_pem) {
  Bio bio = memory_bio(cert_pem);
  if (bio == nullptr) return fail(Code::kInternal, "out of memory");
  X509Ptr previous;
  for (int index = 1;; ++index) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, refuse_passphrase, nullptr));
    if (cert == nullptr) break;
    if (previous != nullptr) {
      EVP_PKEY* issuer_key = X509_get0_pubkey(cert.get());
      const bool issued = X509_check_issued(cert.get(), previous.get()) == X509_V_OK &&
                          issuer_key != nullptr && X509_verify(previous.get(), issuer_key) == 1;
      if (!issued) {
        ERR_clear_error();
        return fail(Code::kInvalidArgument,
                    "certificate " + std::to_string(index) + " of the chain (" +
                        name_text(X509_get_subject_name(cert.get())) + ") did not issue certificate " +
                        std::to_string(index - 1) + " (issuer " +
                        name_text(X509_get_issuer_name(previous.get())) +
                        "): a server's chain is its certificate first, then each issuer in "
                        "order (RFC 5246 §7.4.2)");
      }
    }
    previous = std::move(cert);
  }
  ERR_clear_error();
  return ok();
}

}  // namespace

Result<CertificateDetails> inspect_certificate_chain(std::string_view cert_pem) {
  int count = 0;
  auto leaf = parse_chain(cert_pem, count);
  if (!leaf) return leaf.as_failure();
  X509* cert = leaf.value().get();
  CertificateDetails details;
  details.subject = name_text(X509_get_subject_name(cert));
  details.issuer = name_text(X509_get_issuer_name(cert));
  details.subject_alt_names = alt_names(cert);
  details.not_before_ms = time_ms(X509_get0_notBefore(cert));
  details.not_after_ms = time_ms(X509_get0_notAfter(cert));
  details.fingerprint_sha256 = fingerprint(cert);
  details.chain_length = count;
  ERR_clear_error();
  return details;
}

Result<std::string> check_private_key(std::string_view cert_pem, std::string_view key_pem) {
  int count = 0;
  auto leaf = parse_chain(cert_pem, count);
  if (!leaf) return leaf.as_failure();
  if (auto sized = check_size("private key PEM", key_pem); !sized) return sized.as_failure();

  // First pass: find the key block(s) and refuse what OpenSSL would only ask a passphrase for.
  int keys = 0;
  {
    Bio bio = memory_bio(key_pem);
    if (bio == nullptr) return fail(Code::kInternal, "out of memory");
    for (;;) {
      PemBlock block;
      std::string reason;
      const Next next = read_block(bio.get(), block, reason);
      if (next == Next::kEnd) break;
      if (next == Next::kBroken) {
        return fail(Code::kInvalidArgument, "private key is not valid PEM (" + reason + ")");
      }
      const std::string_view name(block.name);
      if (!is_key_block(name)) continue;
      const bool encrypted = name == "ENCRYPTED PRIVATE KEY" ||
                             (block.header != nullptr && std::strstr(block.header, "ENCRYPTED"));
      if (encrypted) {
        return fail(Code::kInvalidArgument,
                    "the private key is encrypted: store it unencrypted (for example "
                    "openssl pkey -in KEY -out PLAIN.pem); gctld seals it at rest");
      }
      ++keys;
    }
  }
  if (keys == 0) {
    return fail(Code::kInvalidArgument, "private key PEM holds no PRIVATE KEY block");
  }
  if (keys > 1) {
    return fail(Code::kInvalidArgument,
                "private key PEM holds " + std::to_string(keys) + " keys; give exactly one");
  }

  Bio bio = memory_bio(key_pem);
  if (bio == nullptr) return fail(Code::kInternal, "out of memory");
  ERR_clear_error();
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, nullptr));
  if (key == nullptr) {
    return fail(Code::kInvalidArgument, "private key cannot be parsed (" + openssl_reason() + ")");
  }
  if (X509_check_private_key(leaf.value().get(), key.get()) != 1) {
    ERR_clear_error();
    return fail(Code::kInvalidArgument,
                "the private key does not match the first certificate of the chain (" +
                    name_text(X509_get_subject_name(leaf.value().get())) + ")");
  }
  if (auto ordered = check_chain_order(cert_pem); !ordered) return ordered.as_failure();

  Bio out(BIO_new(BIO_s_secmem()));
  if (out == nullptr ||
      PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return fail(Code::kInternal, "cannot encode the private key (" + openssl_reason() + ")");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(out.get(), &data);
  std::string pkcs8(data, static_cast<std::size_t>(size));
  ERR_clear_error();
  return pkcs8;
}

void set_details(const CertificateDetails& details, v1::Certificate& certificate) {
  certificate.set_subject(details.subject);
  certificate.set_issuer(details.issuer);
  certificate.clear_subject_alt_names();
  for (const std::string& san : details.subject_alt_names) certificate.add_subject_alt_names(san);
  certificate.set_not_before_ms(details.not_before_ms);
  certificate.set_not_after_ms(details.not_after_ms);
  certificate.set_fingerprint_sha256(details.fingerprint_sha256);
}

}  // namespace gw::controlplane
