// Handlers table <-> gateway.v1.Handler.
#include "storage/handler_repository.h"

#include <string>

#include "storage/quoted_name.h"
#include "storage/smtp_command_name.h"

namespace gw::storage {
namespace {

namespace v1 = gateway::v1;

constexpr std::string_view kSelect =
    "SELECT h.id, s.name, h.command, h.policy, h.greeting, h.address, h.created_at_ms "
    "FROM handlers h JOIN services s ON s.id = h.service_id ";

v1::Handler read_row(const Statement& row) {
  v1::Handler h;
  h.set_id(row.column_int64(0));
  h.set_service(row.column_text(1));
  // The table's CHECK admits only the five spellings smtp_command_from() knows.
  h.set_command(smtp_command_from(row.column_text(2)).value_or(v1::SMTP_COMMAND_UNSPECIFIED));
  h.set_policy(row.column_text(3));
  h.set_greeting(row.column_text(4));
  h.set_address(row.column_text(5));
  h.set_created_at_ms(row.column_int64(6));
  return h;
}

// True when a row answers `sql` with `key` bound to ?1.
Result<bool> exists(Database& db, std::string_view sql, std::string_view key) {
  auto stmt = db.prepare(sql);
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, key);
  return stmt.value().step();
}

}  // namespace

Result<v1::Handler> HandlerRepository::create(const v1::Handler& handler, std::int64_t now_ms) {
  const std::string_view command = smtp_command_name(handler.command());
  if (command == "unspecified") {
    return fail(Errc::kConstraint, "handler command must be helo, auth, mail, rcpt or data");
  }
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.as_failure();

  // Both references are checked first for a message naming the missing one; the foreign
  // keys stay the last line.
  auto owner = db_.prepare("SELECT id FROM services WHERE name = ?1");
  if (!owner) return owner.as_failure();
  owner.value().bind_text(1, handler.service());
  auto found = owner.value().step();
  if (!found) return found.as_failure();
  if (!found.value()) {
    return fail(Errc::kNotFound, "service " + quoted_name(handler.service()) + " not found");
  }
  const std::int64_t service_id = owner.value().column_int64(0);

  auto policy = exists(db_, "SELECT 1 FROM policies WHERE name = ?1", handler.policy());
  if (!policy) return policy.as_failure();
  if (!policy.value()) {
    return fail(Errc::kNotFound, "policy " + quoted_name(handler.policy()) + " not found");
  }

  auto insert = db_.prepare(
      "INSERT INTO handlers (service_id, command, policy, greeting, address, created_at_ms) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!insert) return insert.as_failure();
  insert.value()
      .bind_int64(1, service_id)
      .bind_text(2, command)
      .bind_text(3, handler.policy())
      .bind_text(4, handler.greeting())
      .bind_text(5, handler.address())
      .bind_int64(6, now_ms);
  if (auto done = insert.value().run(); !done) return done.as_failure();
  const std::int64_t id = db_.last_insert_rowid();
  if (auto committed = tx.value().commit(); !committed) return committed.as_failure();
  return get(id);
}

Result<v1::Handler> HandlerRepository::get(std::int64_t id) {
  auto stmt = db_.prepare(std::string(kSelect) + "WHERE h.id = ?1");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_int64(1, id);
  auto row = stmt.value().step();
  if (!row) return row.as_failure();
  if (!row.value()) return fail(Errc::kNotFound, "handler " + std::to_string(id) + " not found");
  return read_row(stmt.value());
}

Result<std::vector<v1::Handler>> HandlerRepository::query(std::string_view where,
                                                          std::string_view argument) {
  auto stmt = db_.prepare(std::string(kSelect) + std::string(where) + " ORDER BY h.id");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, argument);
  std::vector<v1::Handler> out;
  for (;;) {
    auto row = stmt.value().step();
    if (!row) return row.as_failure();
    if (!row.value()) break;
    out.push_back(read_row(stmt.value()));
  }
  return out;
}

Result<std::vector<v1::Handler>> HandlerRepository::list(std::string_view service) {
  return query("WHERE ?1 = '' OR s.name = ?1", service);
}

Result<std::vector<v1::Handler>> HandlerRepository::list_by_instance(std::string_view instance) {
  return query("WHERE s.instance = ?1", instance);
}

Result<void> HandlerRepository::remove(std::int64_t id) {
  auto stmt = db_.prepare("DELETE FROM handlers WHERE id = ?1");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_int64(1, id);
  if (auto done = stmt.value().run(); !done) return done;
  if (db_.changes() == 0)
    return fail(Errc::kNotFound, "handler " + std::to_string(id) + " not found");
  return ok();
}

}  // namespace gw::storage
