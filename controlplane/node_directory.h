// Relay nodes: their stored registration (nodes table) and their live watch streams.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/error.h"
#include "gateway/v1/admin.pb.h"
#include "storage/database.h"
#include "storage/node_repository.h"

namespace gw::controlplane {

/// Knows every node that registered or watched, and which of them hold a watch stream now.
/// Stored state (registration, last seen) goes through NodeRepository and must be used on
/// the DB thread; live state (open streams, version sent, peer) is in memory and
/// thread-safe, updated from gRPC threads.
class NodeDirectory {
 public:
  explicit NodeDirectory(storage::Database& db) : nodes_(db) {}

  // ---- DB thread -------------------------------------------------------------------------

  /// Stores a registration (upsert by node id; registered_at and last_seen become
  /// `now_ms`) and remembers `peer`. Errors: kUnavailable, kInternal.
  Result<void> record_registration(const std::string& node_id, const std::string& instance,
                                   const std::string& hostname, const std::string& version,
                                   const std::string& peer, std::int64_t now_ms);

  /// Stores that the node was seen (watch opened or closed); inserts a node that watches
  /// without having registered. Errors: kUnavailable, kInternal.
  Result<void> record_seen(const std::string& node_id, const std::string& instance,
                           std::int64_t now_ms);

  /// All nodes by node id, merged with live state: `connected` while a watch stream is
  /// open, `config_version` the last snapshot version sent, `last_seen_ms` = `now_ms` while
  /// connected, `peer` the last gRPC peer address.
  Result<std::vector<gateway::v1::Node>> list(std::int64_t now_ms);

  // ---- any thread ------------------------------------------------------------------------

  /// A watch stream of `node_id` opened from `peer`. Streams are counted: a node that
  /// reconnects before its old stream is noticed dead stays connected until both close.
  void stream_opened(const std::string& node_id, const std::string& peer);
  /// A snapshot of `version` was written to the node.
  void snapshot_sent(const std::string& node_id, std::uint64_t version);
  /// A watch stream of `node_id` ended.
  void stream_closed(const std::string& node_id);

 private:
  struct Live {
    int open_streams = 0;
    std::uint64_t config_version = 0;
    std::string peer;
  };

  storage::NodeRepository nodes_;
  mutable std::mutex mu_;
  std::map<std::string, Live, std::less<>> live_;
};

}  // namespace gw::controlplane
