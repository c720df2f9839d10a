// Nodes table: relay nodes that registered with or watched the control plane.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/database.h"
#include "storage/result.h"

namespace gw::storage {

/// One stored node. Times are milliseconds since the Unix epoch.
struct NodeRecord {
  std::string node_id;
  std::string instance;
  std::string hostname;
  std::string version;
  std::int64_t registered_at_ms = 0;
  std::int64_t last_seen_ms = 0;

  bool operator==(const NodeRecord&) const = default;
};

/// Maps nodes rows to NodeRecord. Runs on the thread that owns the Database.
class NodeRepository {
 public:
  explicit NodeRepository(Database& db) : db_(db) {}

  /// Inserts or replaces the node `node.node_id` with every field of `node` (a node that
  /// registers again after a restart gets a new registered_at_ms). Errors: kBusy, kInternal.
  Result<void> upsert(const NodeRecord& node);

  /// Records that the node was seen at `now_ms` as a member of `instance`; a node not
  /// stored yet (it watched without registering) is inserted with registered_at_ms = now_ms
  /// and empty hostname/version. Errors: kBusy, kInternal.
  Result<void> touch(std::string_view node_id, std::string_view instance, std::int64_t now_ms);

  /// One node. Errors: kNotFound, kBusy, kInternal.
  Result<NodeRecord> get(std::string_view node_id);

  /// All nodes ordered by node_id.
  Result<std::vector<NodeRecord>> list();

 private:
  Database& db_;
};

}  // namespace gw::storage
