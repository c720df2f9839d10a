// Certificates table <-> gateway.v1.Certificate; private keys sealed with the SecretBox.
#include "storage/certificate_repository.h"

#include <spdlog/spdlog.h>

#include "storage/quoted_name.h"

namespace gw::storage {
namespace {

namespace v1 = gateway::v1;

constexpr std::string_view kSelect =
    "SELECT name, cert_pem, key_pem_sealed, created_at_ms FROM certificates ";

// One row per (referrer, field): UNION also folds a trusted CA a service lists twice.
constexpr std::string_view kReferences =
    "SELECT s.name, s.instance, 0, 'trusted_cas' FROM service_trusted_cas t "
    "  JOIN services s ON s.id = t.service_id WHERE t.ca_name = ?1 "
    "UNION SELECT s.name, s.instance, 0, 'client_cert' FROM services s WHERE s.client_cert = ?1 "
    "UNION SELECT s.name, s.instance, i.id, 'cert' FROM interfaces i "
    "  JOIN services s ON s.id = i.service_id WHERE i.cert = ?1 "
    "UNION SELECT s.name, s.instance, i.id, 'client_ca' FROM interfaces i "
    "  JOIN services s ON s.id = i.service_id WHERE i.client_ca = ?1 "
    "UNION SELECT s.name, s.instance, i.id, 'sni_certs' FROM interface_sni_certs n "
    "  JOIN interfaces i ON i.id = n.interface_id JOIN services s ON s.id = i.service_id "
    "  WHERE n.cert = ?1 "
    "ORDER BY 1, 3, 4";

}  // namespace

Result<v1::Certificate> CertificateRepository::read_row(const Statement& row, Secrets secrets) {
  v1::Certificate c;
  c.set_name(row.column_text(0));
  c.set_cert_pem(row.column_text(1));
  if (!row.column_is_null(2)) {
    c.set_has_key(true);
    if (secrets == Secrets::kInclude) {
      auto key = secrets_.open(row.column_blob(2));
      if (key) {
        c.set_key_pem(std::move(key).value());
      } else {
        spdlog::error("storage: private key of certificate {} cannot be decrypted: {}",
                      quoted_name(c.name()), key.error().message);
      }
    }
  }
  c.set_created_at_ms(row.column_int64(3));
  return c;
}

Result<v1::Certificate> CertificateRepository::create(const v1::Certificate& certificate,
                                                      std::int64_t now_ms) {
  auto insert = db_.prepare(
      "INSERT INTO certificates (name, cert_pem, key_pem_sealed, created_at_ms) "
      "VALUES (?1, ?2, ?3, ?4)");
  if (!insert) return insert.as_failure();
  Statement& stmt = insert.value();
  stmt.bind_text(1, certificate.name()).bind_text(2, certificate.cert_pem()).bind_int64(4, now_ms);
  if (certificate.key_pem().empty()) {
    stmt.bind_null(3);
  } else {
    auto sealed = secrets_.seal(certificate.key_pem());
    if (!sealed) return sealed.as_failure();
    stmt.bind_blob(3, sealed.value());
  }
  if (auto done = stmt.run(); !done) {
    if (done.error().code == Errc::kAlreadyExists) {
      return fail(Errc::kAlreadyExists,
                  "certificate " + quoted_name(certificate.name()) + " already exists");
    }
    return done.as_failure();
  }
  return get(certificate.name(), Secrets::kOmit);
}

Result<v1::Certificate> CertificateRepository::get(std::string_view name, Secrets secrets) {
  auto stmt = db_.prepare(std::string(kSelect) + "WHERE name = ?1");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, name);
  auto row = stmt.value().step();
  if (!row) return row.as_failure();
  if (!row.value()) {
    return fail(Errc::kNotFound, "certificate " + quoted_name(name) + " not found");
  }
  return read_row(stmt.value(), secrets);
}

Result<std::vector<v1::Certificate>> CertificateRepository::list(Secrets secrets) {
  auto stmt = db_.prepare(std::string(kSelect) + "ORDER BY name");
  if (!stmt) return stmt.as_failure();
  std::vector<v1::Certificate> out;
  for (;;) {
    auto row = stmt.value().step();
    if (!row) return row.as_failure();
    if (!row.value()) break;
    auto certificate = read_row(stmt.value(), secrets);
    if (!certificate) return certificate.as_failure();
    out.push_back(std::move(certificate).value());
  }
  return out;
}

Result<void> CertificateRepository::remove(std::string_view name) {
  auto stmt = db_.prepare("DELETE FROM certificates WHERE name = ?1");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, name);
  if (auto done = stmt.value().run(); !done) return done;
  if (db_.changes() == 0) {
    return fail(Errc::kNotFound, "certificate " + quoted_name(name) + " not found");
  }
  return ok();
}

Result<std::vector<CertificateReference>> CertificateRepository::references(std::string_view name) {
  std::vector<CertificateReference> out;
  if (name.empty()) return out;  // an unset field ('') names no certificate
  auto stmt = db_.prepare(kReferences);
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, name);
  for (;;) {
    auto row = stmt.value().step();
    if (!row) return row.as_failure();
    if (!row.value()) break;
    const Statement& r = stmt.value();
    out.push_back({r.column_text(0), r.column_text(1), r.column_int64(2), r.column_text(3)});
  }
  return out;
}

}  // namespace gw::storage
