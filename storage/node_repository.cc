// Nodes table <-> NodeRecord.
#include "storage/node_repository.h"

#include "common/logging.h"

namespace gw::storage {
namespace {

NodeRecord read_row(const Statement& row) {
  NodeRecord node;
  node.node_id = row.column_text(0);
  node.instance = row.column_text(1);
  node.hostname = row.column_text(2);
  node.version = row.column_text(3);
  node.registered_at_ms = row.column_int64(4);
  node.last_seen_ms = row.column_int64(5);
  return node;
}

constexpr std::string_view kSelect =
    "SELECT node_id, instance, hostname, version, registered_at_ms, last_seen_ms FROM nodes ";

}  // namespace

Result<void> NodeRepository::upsert(const NodeRecord& node) {
  auto stmt = db_.prepare(
      "INSERT INTO nodes (node_id, instance, hostname, version, registered_at_ms, last_seen_ms) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (node_id) DO UPDATE SET "
      "instance = excluded.instance, hostname = excluded.hostname, version = excluded.version, "
      "registered_at_ms = excluded.registered_at_ms, last_seen_ms = excluded.last_seen_ms");
  if (!stmt) return stmt.as_failure();
  stmt.value()
      .bind_text(1, node.node_id)
      .bind_text(2, node.instance)
      .bind_text(3, node.hostname)
      .bind_text(4, node.version)
      .bind_int64(5, node.registered_at_ms)
      .bind_int64(6, node.last_seen_ms);
  return stmt.value().run();
}

Result<void> NodeRepository::touch(std::string_view node_id, std::string_view instance,
                                   std::int64_t now_ms) {
  auto stmt = db_.prepare(
      "INSERT INTO nodes (node_id, instance, registered_at_ms, last_seen_ms) "
      "VALUES (?1, ?2, ?3, ?3) ON CONFLICT (node_id) DO UPDATE SET "
      "instance = excluded.instance, last_seen_ms = excluded.last_seen_ms");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, node_id).bind_text(2, instance).bind_int64(3, now_ms);
  return stmt.value().run();
}

Result<NodeRecord> NodeRepository::get(std::string_view node_id) {
  auto stmt = db_.prepare(std::string(kSelect) + "WHERE node_id = ?1");
  if (!stmt) return stmt.as_failure();
  stmt.value().bind_text(1, node_id);
  auto row = stmt.value().step();
  if (!row) return row.as_failure();
  if (!row.value()) {
    return fail(Errc::kNotFound, "node \"" + common::log_escape(node_id, 80) + "\" not found");
  }
  return read_row(stmt.value());
}

Result<std::vector<NodeRecord>> NodeRepository::list() {
  auto stmt = db_.prepare(std::string(kSelect) + "ORDER BY node_id");
  if (!stmt) return stmt.as_failure();
  std::vector<NodeRecord> out;
  for (;;) {
    auto row = stmt.value().step();
    if (!row) return row.as_failure();
    if (!row.value()) break;
    out.push_back(read_row(stmt.value()));
  }
  return out;
}

}  // namespace gw::storage
