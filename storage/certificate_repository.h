// Certificates table <-> gateway.v1.Certificate, with the private key sealed at rest, and the
// lookups of who names a certificate (services and interfaces refer to certificates by name).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/v1/config.pb.h"
#include "storage/database.h"
#include "storage/result.h"
#include "storage/secret_box.h"
#include "storage/service_repository.h"

namespace gw::storage {

/// One place that names a certificate: a field of a service or of one of its interfaces.
struct CertificateReference {
  std::string service;            // the service, or the interface's owning service
  std::string instance;           // that service's instance
  std::int64_t interface_id = 0;  // 0: the reference is the service's own field
  std::string field;              // "trusted_cas", "client_cert", "cert", "sni_certs", "client_ca"

  bool operator==(const CertificateReference&) const = default;
};

/// Maps certificates rows to gateway.v1.Certificate: name, cert_pem, has_key, created_at_ms
/// and, with Secrets::kInclude, key_pem. The fields derived from the PEM (subject, SANs,
/// validity, fingerprint) are the caller's to fill: storage does not parse certificates.
/// The caller checks the PEM and the key before create(). Runs on the thread that owns the
/// Database.
class CertificateRepository {
 public:
  CertificateRepository(Database& db, const SecretBox& secrets) : db_(db), secrets_(secrets) {}

  /// Inserts `certificate` (name, cert_pem, and key_pem sealed when non-empty); the other
  /// fields are ignored. Returns the stored certificate as get(kOmit) would.
  /// Errors: kAlreadyExists (name taken), kBusy, kInternal.
  Result<gateway::v1::Certificate> create(const gateway::v1::Certificate& certificate,
                                          std::int64_t now_ms);

  /// One certificate. With Secrets::kInclude a key that cannot be decrypted (key file lost
  /// or replaced) is logged and left empty, has_key still true.
  /// Errors: kNotFound, kBusy, kInternal.
  Result<gateway::v1::Certificate> get(std::string_view name, Secrets secrets);

  /// Every certificate, ordered by name.
  Result<std::vector<gateway::v1::Certificate>> list(Secrets secrets);

  /// Deletes one certificate; references are not checked here (see references()).
  /// Errors: kNotFound, kBusy, kInternal.
  Result<void> remove(std::string_view name);

  /// Every service field and interface field that names `name`, ordered by service name,
  /// then interface id, then field. A service listing the name twice counts once per field.
  /// The empty name has no references.
  Result<std::vector<CertificateReference>> references(std::string_view name);

 private:
  Result<gateway::v1::Certificate> read_row(const Statement& row, Secrets secrets);

  Database& db_;
  const SecretBox& secrets_;
};

}  // namespace gw::storage
