// Audit table <-> gateway.v1.AuditRecord: batched appends from the background audit writer,
// filtered queries for `gctl audit`, a cursor for --follow, and retention (issue 4 "Audit").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/v1/policy.pb.h"
#include "storage/database.h"
#include "storage/result.h"

namespace gw::storage {

/// One stored record and its cursor: a position in insertion order that only grows (never
/// reused, even after every row was pruned). after(cursor) continues from it.
struct AuditEntry {
  std::int64_t cursor = 0;
  gateway::v1::AuditRecord record;
};

/// Maps audit rows to gateway.v1.AuditRecord. Attributes are stored as one JSON object
/// (sorted keys) without any secret attribute (is_secret_attribute()), whatever the caller
/// passed: DESIGN.md §7 "Secrets". Runs on the thread that owns the Database; the audit
/// writer may use a Database (connection) of its own on its own thread, WAL lets readers
/// of other connections go on while it writes.
class AuditRepository {
 public:
  /// limit 0 in a query means this many records.
  static constexpr std::uint32_t kDefaultLimit = 100;
  /// A larger limit is lowered to this (bounds one answer's memory).
  static constexpr std::uint32_t kMaxLimit = 10000;
  /// Records per INSERT statement in append_batch() at most (16 bound parameters each;
  /// SQLite allows 32766 per statement). A batch is cut into statements of 128, 64, ..., 2,
  /// 1 rows, each prepared once per repository and reused: at the rates a relay produces
  /// the writer's batches are a few rows, and preparing a statement per batch was a third
  /// of its CPU (tests/bench/README.md, gw-audit-writer-bench --rate).
  static constexpr std::size_t kRowsPerStatement = 128;
  /// Rows one DELETE of prune_before() removes at most.
  static constexpr std::int64_t kPruneSliceRows = 10000;

  explicit AuditRepository(Database& db) : db_(db) {}

  /// Appends `records` in one transaction: all of them or (on an error) none. A record whose
  /// decision_id is already stored is skipped, so a batch retried after an ambiguous failure
  /// does not duplicate rows. Returns how many rows were inserted. Secret attributes are
  /// dropped; text that is not valid UTF-8 in attribute names or values is stored with
  /// U+FFFD in place of the bad octets. Never throws.
  /// Errors: kConstraint (an empty decision_id), kBusy, kInternal.
  Result<std::size_t> append_batch(std::span<const gateway::v1::AuditRecord> records);

  /// append_batch() inside the caller's open transaction (Transaction::begin on this
  /// repository's Database), without a savepoint of its own: the audit writer inserts one
  /// batch in slices and commits once. A savepoint per slice made SQLite copy every page
  /// it touched into a sub-journal first (session 22). On an error the caller must roll its
  /// transaction back: rows of earlier slices are still in it.
  /// Errors: kConstraint (an empty decision_id), kInternal (no transaction open), kBusy.
  Result<std::size_t> append_in_transaction(std::span<const gateway::v1::AuditRecord> records);

  /// Records matching `filter`, newest first (time_ms, then insertion order), at most
  /// `filter.limit` (kDefaultLimit when 0, kMaxLimit at most). Filters: time_ms >= since_ms
  /// (when > 0); service, node_id (exact, when non-empty); command, verdict (when not
  /// UNSPECIFIED). Errors: kBusy, kInternal.
  Result<std::vector<AuditEntry>> query(const gateway::v1::AuditQuery& filter);

  /// Records appended after `cursor` that match `filter` (same filters as query()), oldest
  /// first, at most `filter.limit` (same defaults): a follower passes the last cursor it
  /// saw, or last_cursor() to start from now. Errors: kBusy, kInternal.
  Result<std::vector<AuditEntry>> after(std::int64_t cursor, const gateway::v1::AuditQuery& filter);

  /// The records with time_ms >= request.since_ms (when > 0) of request.service and
  /// request.node_id (when non-empty), counted per (service, command, verdict) with their
  /// mean (rounded) and largest latency_us; ordered by service, then command in SMTP order
  /// (HELO, AUTH, MAIL, RCPT, DATA), then verdict (continue, reject, tempfail). One
  /// aggregate query over the time index. Errors: kBusy, kInternal.
  Result<std::vector<gateway::v1::DecisionStats>> stats(const gateway::v1::StatsRequest& request);

  /// The cursor of the newest record ever appended (0 when none ever was), pruned or not.
  Result<std::int64_t> last_cursor();

  /// Retention: deletes every record with time_ms < `time_ms`, in slices of
  /// kPruneSliceRows rows, each its own transaction unless the caller holds one, so the
  /// audit writer is never locked out for long. Returns how many rows were deleted.
  /// Errors: kBusy, kInternal (rows of slices before the failure stay deleted).
  Result<std::int64_t> prune_before(std::int64_t time_ms);

 private:
  Result<std::vector<AuditEntry>> select(std::int64_t cursor, const gateway::v1::AuditQuery& filter,
                                         bool newest_first);
  /// Inserts `records` (a power of two, at most kRowsPerStatement) with the cached statement
  /// of that size.
  Result<std::size_t> insert_rows(std::span<const gateway::v1::AuditRecord> records);

  static constexpr std::size_t kStatementSizes = 8;  // 1, 2, 4, ..., kRowsPerStatement
  static_assert(std::size_t{1} << (kStatementSizes - 1) == kRowsPerStatement);

  Database& db_;
  std::array<std::optional<Statement>, kStatementSizes> inserts_;  // [k]: 2^k rows
  std::vector<std::string> attributes_json_;  // bound without copying while a statement runs
};

/// True for an attribute that is never stored in the audit trail: the password of
/// `authentication.subject.password` and any other attribute whose last dotted component is
/// "password", compared case-insensitively.
bool is_secret_attribute(std::string_view name);

/// The attributes_json column for `attributes`: a JSON object, keys sorted, secret
/// attributes left out, invalid UTF-8 replaced by U+FFFD. Never throws.
std::string audit_attributes_json(
    const google::protobuf::Map<std::string, std::string>& attributes);

}  // namespace gw::storage
