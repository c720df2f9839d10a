// Interfaces table <-> gateway.v1.Interface.
#include "storage/interface_repository.h"

#include <string>

#include "common/logging.h"

namespace gw::storage {
namespace {

namespace v1 = gateway::v1;

constexpr std::string_view kSelect =
    "SELECT i.id, s.name, i.type, i.bind_address, i.port, i.cert, i.client_ca, i.ciphers, "
    "i.tls_min_version FROM interfaces i JOIN services s ON s.id = i.service_id ";

Result<std::string_view> type_name(v1::InterfaceType type) {
  switch (type) {
    case v1::INTERFACE_TYPE_UNSPECIFIED:
    case v1::INTERFACE_TYPE_TCP:
      return std::string_view("tcp");
    case v1::INTERFACE_TYPE_SSL:
      return std::string_view("ssl");
    case v1::INTERFACE_TYPE_STARTTLS:
      return std::string_view("starttls");
    default:
      return fail(Errc::kConstraint, "unknown interface type " + std::to_string(type));
  }
}

v1::InterfaceType type_from(std::string_view name) {
  if (name == "ssl") return v1::INTERFACE_TYPE_SSL;
  if (name == "starttls") return v1::INTERFACE_TYPE_STARTTLS;
  return v1::INTERFACE_TYPE_TCP;
}

v1::Interface read_row(const Statement& row) {
  v1::Interface iface;
  iface.set_id(row.column_int64(0));
  iface.set_service(row.column_text(1));
  iface.set_type(type_from(row.column_text(2)));
  iface.set_bind_address(row.column_text(3));
  iface.set_port(static_cast<std::uint32_t>(row.column_int64(4)));
  iface.set_cert(row.column_text(5));
  iface.set_client_ca(row.column_text(6));
  iface.set_ciphers(row.column_text(7));
  iface.set_tls_min_version(row.column_text(8));
  return iface;
}

// Adds the SNI certificates of each interface in `interfaces` (in the operator's order).
Result<void> attach_sni_certs(Database& db, std::vector<v1::Interface>& interfaces) {
  for (v1::Interface& iface : interfaces) {
    auto stmt = db.prepare(
        "SELECT server_name, cert FROM interface_sni_certs WHERE interface_id = ?1 "
        "ORDER BY position");
    if (!stmt) return stmt.as_failure();
    stmt.value().bind_int64(1, iface.id());
    for (;;) {
      auto row = stmt.value().step();
      if (!row) return row.as_failure();
      if (!row.value()) break;
      v1::SniCertificate* sni = iface.add_sni_certs();
      sni->set_server_name(stmt.value().column_text(0));
      sni->set_cert(stmt.value().column_text(1));
    }
  }
  return ok();
}

}  // namespace

std::string format_endpoint(std::string_view address, std::uint32_t port) {
  // Appended piece by piece: g++ 12 -O3 reports a false -Wrestrict on "[" + string + "]".
  const bool v6 = address.find(':') != std::string_view::npos;
  std::string out;
  out.reserve(address.size() + 8);
  if (v6) out += '[';
  out.append(address);
  if (v6) out += ']';
  out += ':';
  out += std::to_string(port);
  return out;
}

Result<v1::Interface> InterfaceRepository::create(const v1::Interface& iface, std::int64_t now_ms) {
  auto type = type_name(iface.type());
  if (!type) return type.as_failure();
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.as_failure();

  auto owner = db_.prepare("SELECT id FROM services WHERE name = ?1");
  if (!owner) return owner.as_failure();
  owner.value().bind_text(1, iface.service());
  auto found = owner.value().step();
  if (!found) return found.as_failure();
  if (!found.value()) {
    return fail(Errc::kNotFound,
                "service \"" + common::log_escape(iface.service(), 80) + "\" not found");
  }
  const std::int64_t service_id = owner.value().column_int64(0);

  // The UNIQUE constraint sees equal addresses only; a wildcard listener overlaps every
  // address on its port (bind() would fail with EADDRINUSE on the node).
  auto clash = db_.prepare(std::string(kSelect) +
                           "WHERE i.port = ?1 AND (i.bind_address = ?2 "
                           "OR i.bind_address IN ('0.0.0.0', '::') OR ?2 IN ('0.0.0.0', '::')) "
                           "ORDER BY i.id LIMIT 1");
  if (!clash) return clash.as_failure();
  clash.value().bind_int64(1, iface.port()).bind_text(2, iface.bind_address());
  auto clashing = clash.value().step();
  if (!clashing) return clashing.as_failure();
  if (clashing.value()) {
    v1::Interface other = read_row(clash.value());
    return fail(Errc::kAlreadyExists,
                format_endpoint(iface.bind_address(), iface.port()) + " overlaps interface " +
                    std::to_string(other.id()) + " (" +
                    format_endpoint(other.bind_address(), other.port()) + ") of service \"" +
                    common::log_escape(other.service(), 80) + "\"");
  }

  auto insert = db_.prepare(
      "INSERT INTO interfaces (service_id, type, bind_address, port, cert, created_at_ms, "
      "client_ca, ciphers, tls_min_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!insert) return insert.as_failure();
  insert.value()
      .bind_int64(1, service_id)
      .bind_text(2, type.value())
      .bind_text(3, iface.bind_address())
      .bind_int64(4, iface.port())
      .bind_text(5, iface.cert())
      .bind_int64(6, now_ms)
      .bind_text(7, iface.client_ca())
      .bind_text(8, iface.ciphers())
      .bind_text(9, iface.tls_min_version());
  if (auto done = insert.value().run(); !done) {
    if (done.error().code == Errc::kAlreadyExists) {
      return fail(Errc::kAlreadyExists, format_endpoint(iface.bind_address(), iface.port()) +
                                            " is already used by another interface");
    }
    return done.as_failure();
  }
  const std::int64_t id = db_.last_insert_rowid();
  std::int64_t position = 0;
  for (const v1::SniCertificate& sni : iface.sni_certs()) {
    auto row = db_.prepare(
        "INSERT INTO interface_sni_certs (interface_id, position, server_name, cert) "
        "VALUES (?1, ?2, ?3, ?4)");
    if (!row) return row.as_failure();
    row.value()
        .bind_int64(1, id)
        .bind_int64(2, position++)
        .bind_text(3, sni.server_name())
        .bind_text(4, sni.cert());
    if (auto done = row.value().run(); !done) {
      if (done.error().code == Errc::kAlreadyExists) {
        return fail(Errc::kAlreadyExists, "server name \"" +
                                              common::log_escape(sni.server_name(), 80) +
                                              "\" is given twice in sni_certs");
      }
      return done.as_failure();
    }
  }
  if (auto committed = tx.value().commit(); !committed) return committed.as_failure();
  return get(id);
}

Result<v1::Interface> InterfaceRepository::get(std::int64_t id) {
  auto stmt = db_.prepare(std::string(kSelect) + "WHERE i.id = ?1");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_int64(1, id);
  auto row = stmt.value().step();
  if (!row) return row.as_failure();
  if (!row.value()) return fail(Errc::kNotFound, "interface " + std::to_string(id) + " not found");
  std::vector<v1::Interface> one{read_row(stmt.value())};
  if (auto attached = attach_sni_certs(db_, one); !attached) return attached.as_failure();
  return std::move(one.front());
}

Result<std::vector<v1::Interface>> InterfaceRepository::query(std::string_view where,
                                                              std::string_view argument) {
  auto stmt = db_.prepare(std::string(kSelect) + std::string(where) + " ORDER BY i.id");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, argument);
  std::vector<v1::Interface> out;
  for (;;) {
    auto row = stmt.value().step();
    if (!row) return row.as_failure();
    if (!row.value()) break;
    out.push_back(read_row(stmt.value()));
  }
  if (auto attached = attach_sni_certs(db_, out); !attached) return attached.as_failure();
  return out;
}

Result<std::vector<v1::Interface>> InterfaceRepository::list(std::string_view service) {
  return query("WHERE ?1 = '' OR s.name = ?1", service);
}

Result<std::vector<v1::Interface>> InterfaceRepository::list_by_instance(
    std::string_view instance) {
  return query("WHERE s.instance = ?1", instance);
}

Result<void> InterfaceRepository::remove(std::int64_t id) {
  auto stmt = db_.prepare("DELETE FROM interfaces WHERE id = ?1");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_int64(1, id);
  if (auto done = stmt.value().run(); !done) return done;
  if (db_.changes() == 0) {
    return fail(Errc::kNotFound, "interface " + std::to_string(id) + " not found");
  }
  return ok();
}

}  // namespace gw::storage
