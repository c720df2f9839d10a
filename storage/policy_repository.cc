// Policies table <-> gateway.v1.Policy; deletion refused while handlers bind the policy.
#include "storage/policy_repository.h"

#include <string>
#include <utility>

#include "storage/quoted_name.h"
#include "storage/smtp_command_name.h"

namespace gw::storage {
namespace {

namespace v1 = gateway::v1;

constexpr std::string_view kSelect =
    "SELECT name, reply, filters_yaml, created_at_ms, updated_at_ms FROM policies ";

v1::Policy read_row(const Statement& row) {
  v1::Policy p;
  p.set_name(row.column_text(0));
  p.set_reply(row.column_text(1));
  p.set_filters_yaml(row.column_text(2));
  p.set_created_at_ms(row.column_int64(3));
  p.set_updated_at_ms(row.column_int64(4));
  return p;
}

PolicyRemoveResult remove_failure(Error error, std::vector<std::int64_t> handler_ids = {}) {
  return boost::outcome_v2::failure(PolicyRemoveError{std::move(error), std::move(handler_ids)});
}

}  // namespace

Result<UpsertOutcome> PolicyRepository::upsert(const v1::Policy& policy, std::int64_t now_ms) {
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.as_failure();

  auto current = db_.prepare("SELECT reply, filters_yaml FROM policies WHERE name = ?1");
  if (!current) return current.as_failure();
  current.value().bind_text(1, policy.name());
  auto row = current.value().step();
  if (!row) return row.as_failure();

  UpsertOutcome outcome = UpsertOutcome::kCreated;
  Result<Statement> write = fail(Errc::kInternal, "unreachable");
  if (row.value()) {
    if (current.value().column_text(0) == policy.reply() &&
        current.value().column_text(1) == policy.filters_yaml()) {
      return UpsertOutcome::kUnchanged;  // the read-only transaction rolls back harmlessly
    }
    outcome = UpsertOutcome::kUpdated;
    write = db_.prepare(
        "UPDATE policies SET reply = ?2, filters_yaml = ?3, updated_at_ms = ?4 WHERE name = ?1");
  } else {
    write = db_.prepare(
        "INSERT INTO policies (name, reply, filters_yaml, created_at_ms, updated_at_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?4)");
  }
  if (!write) return write.as_failure();
  write.value()
      .bind_text(1, policy.name())
      .bind_text(2, policy.reply())
      .bind_text(3, policy.filters_yaml())
      .bind_int64(4, now_ms);
  if (auto done = write.value().run(); !done) return done.as_failure();
  if (auto committed = tx.value().commit(); !committed) return committed.as_failure();
  return outcome;
}

Result<v1::Policy> PolicyRepository::get(std::string_view name) {
  auto stmt = db_.prepare(std::string(kSelect) + "WHERE name = ?1");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, name);
  auto row = stmt.value().step();
  if (!row) return row.as_failure();
  if (!row.value()) return fail(Errc::kNotFound, "policy " + quoted_name(name) + " not found");
  return read_row(stmt.value());
}

Result<std::vector<v1::Policy>> PolicyRepository::list() {
  auto stmt = db_.prepare(std::string(kSelect) + "ORDER BY name");
  if (!stmt) return stmt.as_failure();
  std::vector<v1::Policy> out;
  for (;;) {
    auto row = stmt.value().step();
    if (!row) return row.as_failure();
    if (!row.value()) break;
    out.push_back(read_row(stmt.value()));
  }
  return out;
}

Result<std::uint64_t> PolicyRepository::text_octets_except(std::string_view except) {
  auto stmt = db_.prepare(
      "SELECT coalesce(sum(length(CAST(reply AS BLOB)) + length(CAST(filters_yaml AS BLOB))), 0) "
      "FROM policies WHERE name <> ?1");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, except);
  auto row = stmt.value().step();
  if (!row) return row.as_failure();
  return static_cast<std::uint64_t>(row.value() ? stmt.value().column_int64(0) : 0);
}

Result<std::vector<v1::SmtpCommand>> PolicyRepository::commands_using(std::string_view name) {
  auto stmt = db_.prepare("SELECT DISTINCT command FROM handlers WHERE policy = ?1");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, name);
  std::vector<v1::SmtpCommand> commands;
  for (;;) {
    auto row = stmt.value().step();
    if (!row) return row.as_failure();
    if (!row.value()) break;
    if (auto command = smtp_command_from(stmt.value().column_text(0))) {
      commands.push_back(*command);
    }
  }
  return commands;
}

Result<std::vector<std::int64_t>> PolicyRepository::handlers_using(std::string_view name) {
  auto stmt = db_.prepare("SELECT id FROM handlers WHERE policy = ?1 ORDER BY id");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, name);
  std::vector<std::int64_t> ids;
  for (;;) {
    auto row = stmt.value().step();
    if (!row) return row.as_failure();
    if (!row.value()) break;
    ids.push_back(stmt.value().column_int64(0));
  }
  return ids;
}

PolicyRemoveResult PolicyRepository::remove(std::string_view name) {
  auto tx = Transaction::begin(db_);
  if (!tx) return remove_failure(tx.error());

  auto users = handlers_using(name);
  if (!users) return remove_failure(users.error());
  if (!users.value().empty()) {
    std::string ids;
    for (std::int64_t id : users.value()) {
      if (!ids.empty()) ids += ", ";
      ids += std::to_string(id);
    }
    const char* noun =
        users.value().size() == 1 ? " is in use by handler " : " is in use by handlers ";
    return remove_failure(Error{Errc::kConstraint, "policy " + quoted_name(name) + noun + ids},
                          std::move(users).value());
  }

  auto stmt = db_.prepare("DELETE FROM policies WHERE name = ?1");
  if (!stmt) return remove_failure(stmt.error());
  stmt.value().bind_text(1, name);
  if (auto done = stmt.value().run(); !done) return remove_failure(done.error());
  if (db_.changes() == 0) {
    return remove_failure(Error{Errc::kNotFound, "policy " + quoted_name(name) + " not found"});
  }
  if (auto committed = tx.value().commit(); !committed) return remove_failure(committed.error());
  return boost::outcome_v2::success();
}

}  // namespace gw::storage
