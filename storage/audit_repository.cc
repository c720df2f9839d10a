// Audit table <-> gateway.v1.AuditRecord: multi-row INSERTs in one transaction, filtered
// reads, follow cursor and retention. Attributes as JSON without secrets.
#include "storage/audit_repository.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cctype>
#include <tuple>
#include <utility>

#include "common/logging.h"
#include "storage/smtp_command_name.h"

namespace gw::storage {
namespace {

namespace v1 = gateway::v1;

constexpr int kColumns = 16;  // bound per record by bind_record()

constexpr std::string_view kInsertHead =
    "INSERT INTO audit (decision_id, time_ms, node_id, session_id, service, interface_id, "
    "client_address, command, handler_id, policy, verdict, reply_code, reply_enhanced, "
    "reply_text, latency_us, attributes_json) VALUES ";
constexpr std::string_view kRowPlaceholders = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
constexpr std::string_view kInsertTail = " ON CONFLICT (decision_id) DO NOTHING";

constexpr std::string_view kSelect =
    "SELECT seq, decision_id, time_ms, node_id, session_id, service, interface_id, "
    "client_address, command, handler_id, policy, verdict, reply_code, reply_enhanced, "
    "reply_text, latency_us, attributes_json FROM audit WHERE seq > ?1";

// The INSERT for `rows` records. Its text depends on the row count only (constant
// fragments); every value is a bound parameter.
std::string insert_sql(std::size_t rows) {
  std::string sql;
  sql.reserve(kInsertHead.size() + rows * (kRowPlaceholders.size() + 1) + kInsertTail.size());
  sql += kInsertHead;
  for (std::size_t i = 0; i < rows; ++i) {
    if (i != 0) sql += ',';
    sql += kRowPlaceholders;
  }
  sql += kInsertTail;
  return sql;
}

std::string_view verdict_name(v1::Verdict verdict) {
  switch (verdict) {
    case v1::VERDICT_CONTINUE:
      return "continue";
    case v1::VERDICT_REJECT:
      return "reject";
    case v1::VERDICT_TEMPFAIL:
      return "tempfail";
    default:
      return "unspecified";
  }
}

v1::Verdict verdict_from(std::string_view name) {
  if (name == "continue") return v1::VERDICT_CONTINUE;
  if (name == "reject") return v1::VERDICT_REJECT;
  if (name == "tempfail") return v1::VERDICT_TEMPFAIL;
  return v1::VERDICT_UNSPECIFIED;
}

// Binds record `r` to parameters first + 1 .. first + kColumns without copying: `r` and
// `attributes_json` must stay unchanged until the statement is reset.
void bind_record(Statement& stmt, int first, const v1::AuditRecord& r,
                 std::string_view attributes_json) {
  stmt.bind_text_static(first + 1, r.decision_id())
      .bind_int64(first + 2, r.time_ms())
      .bind_text_static(first + 3, r.node_id())
      .bind_text_static(first + 4, r.session_id())
      .bind_text_static(first + 5, r.service())
      .bind_int64(first + 6, r.interface_id())
      .bind_text_static(first + 7, r.client_address())
      .bind_text_static(first + 8, smtp_command_name(r.command()))
      .bind_int64(first + 9, r.handler_id())
      .bind_text_static(first + 10, r.policy())
      .bind_text_static(first + 11, verdict_name(r.verdict()))
      .bind_int64(first + 12, r.reply().code())
      .bind_text_static(first + 13, r.reply().enhanced_code())
      .bind_text_static(first + 14, r.reply().text())
      .bind_int64(first + 15, r.latency_us())
      .bind_text_static(first + 16, attributes_json);
}

AuditEntry read_row(const Statement& row) {
  AuditEntry entry;
  entry.cursor = row.column_int64(0);
  v1::AuditRecord& r = entry.record;
  r.set_decision_id(row.column_text(1));
  r.set_time_ms(row.column_int64(2));
  r.set_node_id(row.column_text(3));
  r.set_session_id(row.column_text(4));
  r.set_service(row.column_text(5));
  r.set_interface_id(row.column_int64(6));
  r.set_client_address(row.column_text(7));
  r.set_command(smtp_command_from(row.column_text(8)).value_or(v1::SMTP_COMMAND_UNSPECIFIED));
  r.set_handler_id(row.column_int64(9));
  r.set_policy(row.column_text(10));
  r.set_verdict(verdict_from(row.column_text(11)));
  r.mutable_reply()->set_code(static_cast<std::uint32_t>(row.column_int64(12)));
  r.mutable_reply()->set_enhanced_code(row.column_text(13));
  r.mutable_reply()->set_text(row.column_text(14));
  r.set_latency_us(row.column_int64(15));

  const nlohmann::json attributes =
      nlohmann::json::parse(row.column_text(16), nullptr, /*allow_exceptions=*/false);
  if (attributes.is_object()) {
    auto& out = *r.mutable_attributes();
    for (const auto& [name, value] : attributes.items()) {
      if (value.is_string()) out[name] = value.get<std::string>();
    }
  } else {
    // Only a hand-edited database gets here; the record is still worth showing.
    spdlog::warn("storage: audit record {} has unreadable attributes",
                 common::log_escape(r.decision_id(), 80));
  }
  return entry;
}

std::uint32_t effective_limit(std::uint32_t limit) {
  if (limit == 0) return AuditRepository::kDefaultLimit;
  return std::min(limit, AuditRepository::kMaxLimit);
}

}  // namespace

bool is_secret_attribute(std::string_view name) {
  constexpr std::string_view kSecret = "password";
  const std::size_t dot = name.rfind('.');
  const std::string_view last = dot == std::string_view::npos ? name : name.substr(dot + 1);
  return std::equal(last.begin(), last.end(), kSecret.begin(), kSecret.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == b;
  });
}

std::string audit_attributes_json(
    const google::protobuf::Map<std::string, std::string>& attributes) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [name, value] : attributes) {
    if (is_secret_attribute(name)) continue;
    object[name] = value;
  }
  // replace: invalid UTF-8 becomes U+FFFD instead of an exception on the decision path.
  return object.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

Result<std::size_t> AuditRepository::insert_rows(std::span<const v1::AuditRecord> records) {
  const auto k = static_cast<std::size_t>(std::countr_zero(records.size()));
  if (!inserts_[k]) {
    auto prepared = db_.prepare_persistent(insert_sql(records.size()));
    if (!prepared) return prepared.as_failure();
    inserts_[k].emplace(std::move(prepared).value());
  }
  Statement& stmt = *inserts_[k];
  attributes_json_.resize(records.size());  // every string built before any is bound
  for (std::size_t i = 0; i < records.size(); ++i) {
    attributes_json_[i] = audit_attributes_json(records[i].attributes());
  }
  int first = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    bind_record(stmt, first, records[i], attributes_json_[i]);
    first += kColumns;
  }
  auto done = stmt.run();
  stmt.reset();  // unbinds the records before they go away
  if (!done) return done.as_failure();
  return static_cast<std::size_t>(db_.changes());
}

Result<std::size_t> AuditRepository::append_batch(std::span<const v1::AuditRecord> records) {
  if (records.empty()) return std::size_t{0};
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.as_failure();
  auto inserted = append_in_transaction(records);
  if (!inserted) return inserted;  // `tx` rolls back
  if (auto committed = tx.value().commit(); !committed) return committed.as_failure();
  return inserted;
}

Result<std::size_t> AuditRepository::append_in_transaction(
    std::span<const v1::AuditRecord> records) {
  if (!db_.in_transaction()) {
    return fail(Errc::kInternal, "audit rows appended outside a transaction");
  }
  for (const v1::AuditRecord& r : records) {
    if (r.decision_id().empty()) {
      return fail(Errc::kConstraint, "audit record without a decision id");
    }
  }
  // Multi-row statements of 2^k rows, largest first (see kRowsPerStatement).
  std::size_t inserted = 0;
  while (!records.empty()) {
    const std::size_t n = std::bit_floor(std::min(records.size(), kRowsPerStatement));
    auto done = insert_rows(records.first(n));
    if (!done) return done.as_failure();
    inserted += done.value();
    records = records.subspan(n);
  }
  return inserted;
}

Result<std::vector<AuditEntry>> AuditRepository::select(std::int64_t cursor,
                                                        const v1::AuditQuery& filter,
                                                        bool newest_first) {
  // The text is assembled from constant fragments by which filters are set; values are
  // bound (?2..?7 keep their numbers whether or not their fragment is present). Newest
  // first walks the (service, time_ms) or time_ms index; a follower walks the rowid range
  // after its cursor, so a unary + keeps the planner off the indexes there (it would
  // otherwise read every row of the service and sort them, on every poll).
  const std::string_view column_prefix = newest_first ? " AND " : " AND +";
  std::string sql(kSelect);
  if (filter.since_ms() > 0) sql.append(column_prefix).append("time_ms >= ?2");
  if (!filter.service().empty()) sql.append(column_prefix).append("service = ?3");
  if (!filter.node_id().empty()) sql += " AND node_id = ?4";
  if (filter.command() != v1::SMTP_COMMAND_UNSPECIFIED) sql += " AND command = ?5";
  if (filter.verdict() != v1::VERDICT_UNSPECIFIED) sql += " AND verdict = ?6";
  sql += newest_first ? " ORDER BY time_ms DESC, seq DESC LIMIT ?7" : " ORDER BY seq LIMIT ?7";

  auto stmt = db_.prepare(sql);
  if (!stmt) return stmt.as_failure();
  stmt.value()
      .bind_int64(1, cursor)
      .bind_int64(2, filter.since_ms())
      .bind_text(3, filter.service())
      .bind_text(4, filter.node_id())
      .bind_text(5, smtp_command_name(filter.command()))
      .bind_text(6, verdict_name(filter.verdict()))
      .bind_int64(7, effective_limit(filter.limit()));
  std::vector<AuditEntry> out;
  for (;;) {
    auto row = stmt.value().step();
    if (!row) return row.as_failure();
    if (!row.value()) break;
    out.push_back(read_row(stmt.value()));
  }
  return out;
}

Result<std::vector<AuditEntry>> AuditRepository::query(const v1::AuditQuery& filter) {
  return select(0, filter, /*newest_first=*/true);
}

Result<std::vector<AuditEntry>> AuditRepository::after(std::int64_t cursor,
                                                       const v1::AuditQuery& filter) {
  return select(cursor, filter, /*newest_first=*/false);
}

Result<std::vector<v1::DecisionStats>> AuditRepository::stats(const v1::StatsRequest& request) {
  std::string sql =
      "SELECT service, command, verdict, count(*), CAST(round(avg(latency_us)) AS INTEGER), "
      "max(latency_us) FROM audit WHERE 1";
  if (request.since_ms() > 0) sql += " AND time_ms >= ?1";
  if (!request.service().empty()) sql += " AND service = ?2";
  if (!request.node_id().empty()) sql += " AND node_id = ?3";
  sql += " GROUP BY service, command, verdict";
  auto stmt = db_.prepare(sql);
  if (!stmt) return stmt.as_failure();
  // Bound only when their fragment is in the text (SQLite refuses a parameter it lacks).
  if (request.since_ms() > 0) stmt.value().bind_int64(1, request.since_ms());
  if (!request.service().empty()) stmt.value().bind_text(2, request.service());
  if (!request.node_id().empty()) stmt.value().bind_text(3, request.node_id());
  std::vector<v1::DecisionStats> out;
  for (;;) {
    auto row = stmt.value().step();
    if (!row) return row.as_failure();
    if (!row.value()) break;
    const Statement& r = stmt.value();
    v1::DecisionStats& d = out.emplace_back();
    d.set_service(r.column_text(0));
    d.set_command(smtp_command_from(r.column_text(1)).value_or(v1::SMTP_COMMAND_UNSPECIFIED));
    d.set_verdict(verdict_from(r.column_text(2)));
    d.set_decisions(static_cast<std::uint64_t>(r.column_int64(3)));
    d.set_latency_avg_us(r.column_int64(4));
    d.set_latency_max_us(r.column_int64(5));
  }
  std::sort(out.begin(), out.end(), [](const v1::DecisionStats& a, const v1::DecisionStats& b) {
    using Key = std::tuple<const std::string&, int, int>;
    return Key(a.service(), a.command(), a.verdict()) < Key(b.service(), b.command(), b.verdict());
  });
  return out;
}

Result<std::int64_t> AuditRepository::last_cursor() {
  // AUTOINCREMENT keeps the highest seq ever used in sqlite_sequence, pruned rows included.
  auto stmt = db_.prepare("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'audit'");
  if (!stmt) return stmt.as_failure();
  auto row = stmt.value().step();
  if (!row) return row.as_failure();
  return row.value() ? stmt.value().column_int64(0) : std::int64_t{0};
}

Result<std::int64_t> AuditRepository::prune_before(std::int64_t time_ms) {
  std::int64_t deleted = 0;
  for (;;) {
    auto stmt = db_.prepare(
        "DELETE FROM audit WHERE seq IN "
        "(SELECT seq FROM audit WHERE time_ms < ?1 ORDER BY time_ms LIMIT ?2)");
    if (!stmt) return stmt.as_failure();
    stmt.value().bind_int64(1, time_ms).bind_int64(2, kPruneSliceRows);
    if (auto done = stmt.value().run(); !done) return done.as_failure();
    const int changed = db_.changes();
    deleted += changed;
    if (changed < kPruneSliceRows) return deleted;
  }
}

}  // namespace gw::storage
