// Services table family <-> gateway.v1.Service, with the upstream password sealed at rest.
#include "storage/service_repository.h"

#include <spdlog/spdlog.h>

#include <string>

#include "storage/quoted_name.h"

namespace gw::storage {
namespace {

namespace v1 = gateway::v1;

// The column list shared by every SELECT; read_row() depends on this order.
constexpr std::string_view kColumns =
    "id, name, host, port, security, client_cert, ciphers, username, password_sealed, "
    "monitoring, instance, fail_open, allow_plaintext_auth, require_tls, hostname, "
    "max_command_line, max_auth_line, max_text_line, max_message_size, max_recipients, "
    "max_sessions, max_sessions_per_client, idle_timeout_ms, session_timeout_ms, "
    "data_timeout_ms, upstream_connect_timeout_ms, upstream_timeout_ms, "
    "upstream_data_timeout_ms, max_errors, max_idle_commands, created_at_ms, updated_at_ms, "
    "tls_min_version, no_verify_hostname, tls_server_name, decision_timeout_ms, max_mime_parts, "
    "max_mime_depth, max_mime_header_block, protocol_trace";

std::string select_sql(std::string_view where) {
  return "SELECT " + std::string(kColumns) + " FROM services " + std::string(where);
}

Result<std::string_view> security_name(v1::Security security) {
  switch (security) {
    case v1::SECURITY_UNSPECIFIED:
    case v1::SECURITY_NONE:
      return std::string_view("none");
    case v1::SECURITY_SSL:
      return std::string_view("ssl");
    case v1::SECURITY_STARTTLS:
      return std::string_view("starttls");
    default:
      return fail(Errc::kConstraint, "unknown security " + std::to_string(security));
  }
}

v1::Security security_from(std::string_view name) {
  if (name == "ssl") return v1::SECURITY_SSL;
  if (name == "starttls") return v1::SECURITY_STARTTLS;
  return v1::SECURITY_NONE;
}

// Binds the fields common to INSERT and UPDATE: ?1 name ... ?28 max_idle_commands (the
// order of kColumns without id, password_sealed, and the timestamps), ?29 is the time,
// ?30 tls_min_version, ?31 no_verify_hostname, ?32 tls_server_name, ?33 decision_timeout_ms,
// ?34 max_mime_parts, ?35 max_mime_depth, ?36 max_mime_header_block, ?37 protocol_trace.
Result<void> bind_fields(Statement& stmt, const v1::Service& s) {
  auto security = security_name(s.security());
  if (!security) return security.as_failure();
  const v1::Limits& l = s.limits();
  stmt.bind_text(1, s.name())
      .bind_text(2, s.host())
      .bind_int64(3, s.port())
      .bind_text(4, security.value())
      .bind_text(5, s.client_cert())
      .bind_text(6, s.ciphers())
      .bind_text(7, s.username())
      .bind_bool(8, s.monitoring())
      .bind_text(9, s.instance())
      .bind_bool(10, s.fail_open())
      .bind_bool(11, s.allow_plaintext_auth())
      .bind_bool(12, s.require_tls())
      .bind_text(13, s.hostname())
      .bind_int64(14, l.max_command_line())
      .bind_int64(15, l.max_auth_line())
      .bind_int64(16, l.max_text_line())
      .bind_int64(17, static_cast<std::int64_t>(l.max_message_size()))
      .bind_int64(18, l.max_recipients())
      .bind_int64(19, l.max_sessions())
      .bind_int64(20, l.max_sessions_per_client())
      .bind_int64(21, l.idle_timeout_ms())
      .bind_int64(22, l.session_timeout_ms())
      .bind_int64(23, l.data_timeout_ms())
      .bind_int64(24, l.upstream_connect_timeout_ms())
      .bind_int64(25, l.upstream_timeout_ms())
      .bind_int64(26, l.upstream_data_timeout_ms())
      .bind_int64(27, l.max_errors())
      .bind_int64(28, l.max_idle_commands())
      .bind_text(30, s.tls_min_version())
      .bind_bool(31, s.no_verify_hostname())
      .bind_text(32, s.tls_server_name())
      .bind_int64(33, l.decision_timeout_ms())
      .bind_int64(34, l.max_mime_parts())
      .bind_int64(35, l.max_mime_depth())
      .bind_int64(36, l.max_mime_header_block())
      .bind_bool(37, s.protocol_trace());
  return ok();
}

constexpr std::string_view kInsert =
    "INSERT INTO services (name, host, port, security, client_cert, ciphers, username, "
    "monitoring, instance, fail_open, allow_plaintext_auth, require_tls, hostname, "
    "max_command_line, max_auth_line, max_text_line, max_message_size, max_recipients, "
    "max_sessions, max_sessions_per_client, idle_timeout_ms, session_timeout_ms, "
    "data_timeout_ms, upstream_connect_timeout_ms, upstream_timeout_ms, "
    "upstream_data_timeout_ms, max_errors, max_idle_commands, created_at_ms, updated_at_ms, "
    "tls_min_version, no_verify_hostname, tls_server_name, decision_timeout_ms, max_mime_parts, "
    "max_mime_depth, max_mime_header_block, protocol_trace) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
    "?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?29, ?30, ?31, ?32, ?33, ?34, ?35, "
    "?36, ?37)";

constexpr std::string_view kUpdate =
    "UPDATE services SET host = ?2, port = ?3, security = ?4, client_cert = ?5, ciphers = ?6, "
    "username = ?7, monitoring = ?8, instance = ?9, fail_open = ?10, "
    "allow_plaintext_auth = ?11, require_tls = ?12, hostname = ?13, max_command_line = ?14, "
    "max_auth_line = ?15, max_text_line = ?16, max_message_size = ?17, max_recipients = ?18, "
    "max_sessions = ?19, max_sessions_per_client = ?20, idle_timeout_ms = ?21, "
    "session_timeout_ms = ?22, data_timeout_ms = ?23, upstream_connect_timeout_ms = ?24, "
    "upstream_timeout_ms = ?25, upstream_data_timeout_ms = ?26, max_errors = ?27, "
    "max_idle_commands = ?28, updated_at_ms = ?29, tls_min_version = ?30, "
    "no_verify_hostname = ?31, tls_server_name = ?32, decision_timeout_ms = ?33, "
    "max_mime_parts = ?34, max_mime_depth = ?35, max_mime_header_block = ?36, "
    "protocol_trace = ?37 "
    "WHERE name = ?1";

}  // namespace

Result<v1::Service> ServiceRepository::read_row(Statement& row, Secrets secrets) {
  v1::Service s;
  const std::int64_t id = row.column_int64(0);
  s.set_name(row.column_text(1));
  s.set_host(row.column_text(2));
  s.set_port(static_cast<std::uint32_t>(row.column_int64(3)));
  s.set_security(security_from(row.column_text(4)));
  s.set_client_cert(row.column_text(5));
  s.set_ciphers(row.column_text(6));
  s.set_username(row.column_text(7));
  if (!row.column_is_null(8)) {
    s.set_has_password(true);
    if (secrets == Secrets::kInclude) {
      auto password = secrets_.open(row.column_blob(8));
      if (password) {
        s.set_password(std::move(password).value());
      } else {
        spdlog::error("storage: password of service {} cannot be decrypted: {}",
                      quoted_name(s.name()), password.error().message);
      }
    }
  }
  s.set_monitoring(row.column_bool(9));
  s.set_instance(row.column_text(10));
  s.set_fail_open(row.column_bool(11));
  s.set_allow_plaintext_auth(row.column_bool(12));
  s.set_require_tls(row.column_bool(13));
  s.set_hostname(row.column_text(14));
  v1::Limits* l = s.mutable_limits();
  auto u32 = [&row](int index) { return static_cast<std::uint32_t>(row.column_int64(index)); };
  l->set_max_command_line(u32(15));
  l->set_max_auth_line(u32(16));
  l->set_max_text_line(u32(17));
  l->set_max_message_size(static_cast<std::uint64_t>(row.column_int64(18)));
  l->set_max_recipients(u32(19));
  l->set_max_sessions(u32(20));
  l->set_max_sessions_per_client(u32(21));
  l->set_idle_timeout_ms(u32(22));
  l->set_session_timeout_ms(u32(23));
  l->set_data_timeout_ms(u32(24));
  l->set_upstream_connect_timeout_ms(u32(25));
  l->set_upstream_timeout_ms(u32(26));
  l->set_upstream_data_timeout_ms(u32(27));
  l->set_max_errors(u32(28));
  l->set_max_idle_commands(u32(29));
  s.set_created_at_ms(row.column_int64(30));
  s.set_updated_at_ms(row.column_int64(31));
  s.set_tls_min_version(row.column_text(32));
  s.set_no_verify_hostname(row.column_bool(33));
  s.set_tls_server_name(row.column_text(34));
  l->set_decision_timeout_ms(u32(35));
  l->set_max_mime_parts(u32(36));
  l->set_max_mime_depth(u32(37));
  l->set_max_mime_header_block(u32(38));
  s.set_protocol_trace(row.column_bool(39));

  auto cas = db_.prepare(
      "SELECT ca_name FROM service_trusted_cas WHERE service_id = ?1 ORDER BY position");
  if (!cas) return cas.as_failure();
  cas.value().bind_int64(1, id);
  for (;;) {
    auto more = cas.value().step();
    if (!more) return more.as_failure();
    if (!more.value()) break;
    s.add_trusted_cas(cas.value().column_text(0));
  }
  return s;
}

Result<void> ServiceRepository::write_trusted_cas(
    std::int64_t service_id, const google::protobuf::RepeatedPtrField<std::string>& cas) {
  auto clear = db_.prepare("DELETE FROM service_trusted_cas WHERE service_id = ?1");
  if (!clear) return clear.as_failure();
  clear.value().bind_int64(1, service_id);
  if (auto done = clear.value().run(); !done) return done;
  std::int64_t position = 0;
  for (const std::string& ca : cas) {
    auto insert = db_.prepare(
        "INSERT INTO service_trusted_cas (service_id, position, ca_name) VALUES (?1, ?2, ?3)");
    if (!insert) return insert.as_failure();
    insert.value().bind_int64(1, service_id).bind_int64(2, position++).bind_text(3, ca);
    if (auto done = insert.value().run(); !done) return done;
  }
  return ok();
}

Result<void> ServiceRepository::store_password(std::string_view name, std::string_view password) {
  auto stmt = db_.prepare("UPDATE services SET password_sealed = ?2 WHERE name = ?1");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, name);
  if (password.empty()) {
    stmt.value().bind_null(2);
  } else {
    auto sealed = secrets_.seal(password);
    if (!sealed) return sealed.as_failure();
    stmt.value().bind_blob(2, sealed.value());
  }
  return stmt.value().run();
}

Result<v1::Service> ServiceRepository::create(const v1::Service& service, std::int64_t now_ms) {
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.as_failure();
  auto insert = db_.prepare(kInsert);
  if (!insert) return insert.as_failure();
  if (auto bound = bind_fields(insert.value(), service); !bound) return bound.as_failure();
  insert.value().bind_int64(29, now_ms);
  if (auto done = insert.value().run(); !done) {
    if (done.error().code == Errc::kAlreadyExists) {
      return fail(Errc::kAlreadyExists,
                  "service " + quoted_name(service.name()) + " already exists");
    }
    return done.as_failure();
  }
  const std::int64_t id = db_.last_insert_rowid();
  if (auto cas = write_trusted_cas(id, service.trusted_cas()); !cas) return cas.as_failure();
  if (!service.password().empty()) {
    if (auto stored = store_password(service.name(), service.password()); !stored) {
      return stored.as_failure();
    }
  }
  if (auto committed = tx.value().commit(); !committed) return committed.as_failure();
  return get(service.name(), Secrets::kOmit);
}

Result<v1::Service> ServiceRepository::update(const v1::Service& service, PasswordChange password,
                                              std::int64_t now_ms) {
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.as_failure();
  auto stmt = db_.prepare(kUpdate);
  if (!stmt) return stmt.as_failure();
  if (auto bound = bind_fields(stmt.value(), service); !bound) return bound.as_failure();
  stmt.value().bind_int64(29, now_ms);
  if (auto done = stmt.value().run(); !done) return done.as_failure();
  if (db_.changes() == 0) {
    return fail(Errc::kNotFound, "service " + quoted_name(service.name()) + " not found");
  }
  auto id = db_.prepare("SELECT id FROM services WHERE name = ?1");
  if (!id) return id.as_failure();
  id.value().bind_text(1, service.name());
  auto row = id.value().step();
  if (!row) return row.as_failure();
  if (!row.value()) return fail(Errc::kInternal, "updated service vanished");
  const std::int64_t service_id = id.value().column_int64(0);
  if (auto cas = write_trusted_cas(service_id, service.trusted_cas()); !cas) {
    return cas.as_failure();
  }
  if (password == PasswordChange::kReplace) {
    if (auto stored = store_password(service.name(), service.password()); !stored) {
      return stored.as_failure();
    }
  }
  if (auto committed = tx.value().commit(); !committed) return committed.as_failure();
  return get(service.name(), Secrets::kOmit);
}

Result<v1::Service> ServiceRepository::get(std::string_view name, Secrets secrets) {
  auto stmt = db_.prepare(select_sql("WHERE name = ?1"));
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, name);
  auto row = stmt.value().step();
  if (!row) return row.as_failure();
  if (!row.value()) return fail(Errc::kNotFound, "service " + quoted_name(name) + " not found");
  return read_row(stmt.value(), secrets);
}

Result<std::vector<v1::Service>> ServiceRepository::list(std::string_view instance,
                                                         Secrets secrets) {
  auto stmt = db_.prepare(select_sql("WHERE ?1 = '' OR instance = ?1 ORDER BY name"));
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, instance);
  std::vector<v1::Service> out;
  for (;;) {
    auto row = stmt.value().step();
    if (!row) return row.as_failure();
    if (!row.value()) break;
    auto service = read_row(stmt.value(), secrets);
    if (!service) return service.as_failure();
    out.push_back(std::move(service).value());
  }
  return out;
}

Result<void> ServiceRepository::remove(std::string_view name) {
  auto stmt = db_.prepare("DELETE FROM services WHERE name = ?1");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, name);
  if (auto done = stmt.value().run(); !done) return done;
  if (db_.changes() == 0)
    return fail(Errc::kNotFound, "service " + quoted_name(name) + " not found");
  return ok();
}

}  // namespace gw::storage
