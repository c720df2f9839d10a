// Users table <-> gateway.v1.User; hashes are stored and returned, never logged.
#include "storage/user_repository.h"

#include <string>

#include "storage/quoted_name.h"

namespace gw::storage {
namespace {

namespace v1 = gateway::v1;

constexpr std::string_view kSelect =
    "SELECT name, created_at_ms, updated_at_ms, password_hash FROM users ";

v1::User read_row(const Statement& row, Secrets secrets) {
  v1::User u;
  u.set_name(row.column_text(0));
  u.set_created_at_ms(row.column_int64(1));
  u.set_updated_at_ms(row.column_int64(2));
  if (secrets == Secrets::kInclude) u.set_password_hash(row.column_text(3));
  return u;
}

Error not_found(std::string_view name) {
  return {Errc::kNotFound, "user " + quoted_name(name) + " not found"};
}

}  // namespace

Result<v1::User> UserRepository::create(std::string_view name, std::string_view password_hash,
                                        std::int64_t now_ms) {
  auto insert = db_.prepare(
      "INSERT INTO users (name, password_hash, created_at_ms, updated_at_ms) "
      "VALUES (?1, ?2, ?3, ?3)");
  if (!insert) return insert.as_failure();
  insert.value().bind_text(1, name).bind_text(2, password_hash).bind_int64(3, now_ms);
  if (auto done = insert.value().run(); !done) {
    // SQLite's own message could quote the row; ours names the user only.
    if (done.error().code == Errc::kAlreadyExists) {
      return fail(Errc::kAlreadyExists, "user " + quoted_name(name) + " already exists");
    }
    if (done.error().code == Errc::kConstraint) {
      return fail(Errc::kConstraint, "user name and password hash must not be empty");
    }
    return done.as_failure();
  }
  return get(name, Secrets::kOmit);
}

Result<v1::User> UserRepository::set_hash(std::string_view name, std::string_view password_hash,
                                          std::int64_t now_ms) {
  auto update =
      db_.prepare("UPDATE users SET password_hash = ?2, updated_at_ms = ?3 WHERE name = ?1");
  if (!update) return update.as_failure();
  update.value().bind_text(1, name).bind_text(2, password_hash).bind_int64(3, now_ms);
  if (auto done = update.value().run(); !done) {
    if (done.error().code == Errc::kConstraint) {
      return fail(Errc::kConstraint, "password hash must not be empty");
    }
    return done.as_failure();
  }
  if (db_.changes() == 0) return boost::outcome_v2::failure(not_found(name));
  return get(name, Secrets::kOmit);
}

Result<UpsertOutcome> UserRepository::upsert(std::string_view name, std::string_view password_hash,
                                             std::int64_t now_ms) {
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.as_failure();
  auto current = get_hash(name);
  UpsertOutcome outcome = UpsertOutcome::kCreated;
  if (current) {
    if (current.value() == password_hash) return UpsertOutcome::kUnchanged;
    if (auto set = set_hash(name, password_hash, now_ms); !set) return set.as_failure();
    outcome = UpsertOutcome::kUpdated;
  } else if (current.error().code == Errc::kNotFound) {
    if (auto created = create(name, password_hash, now_ms); !created) return created.as_failure();
  } else {
    return current.as_failure();
  }
  if (auto committed = tx.value().commit(); !committed) return committed.as_failure();
  return outcome;
}

Result<std::string> UserRepository::get_hash(std::string_view name) {
  auto stmt = db_.prepare("SELECT password_hash FROM users WHERE name = ?1");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, name);
  auto row = stmt.value().step();
  if (!row) return row.as_failure();
  if (!row.value()) return boost::outcome_v2::failure(not_found(name));
  return stmt.value().column_text(0);
}

Result<v1::User> UserRepository::get(std::string_view name, Secrets secrets) {
  auto stmt = db_.prepare(std::string(kSelect) + "WHERE name = ?1");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, name);
  auto row = stmt.value().step();
  if (!row) return row.as_failure();
  if (!row.value()) return boost::outcome_v2::failure(not_found(name));
  return read_row(stmt.value(), secrets);
}

Result<std::vector<v1::User>> UserRepository::list(Secrets secrets) {
  auto stmt = db_.prepare(std::string(kSelect) + "ORDER BY name");
  if (!stmt) return stmt.as_failure();
  std::vector<v1::User> out;
  for (;;) {
    auto row = stmt.value().step();
    if (!row) return row.as_failure();
    if (!row.value()) break;
    out.push_back(read_row(stmt.value(), secrets));
  }
  return out;
}

Result<void> UserRepository::remove(std::string_view name) {
  auto stmt = db_.prepare("DELETE FROM users WHERE name = ?1");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, name);
  if (auto done = stmt.value().run(); !done) return done;
  if (db_.changes() == 0) return boost::outcome_v2::failure(not_found(name));
  return ok();
}

}  // namespace gw::storage
