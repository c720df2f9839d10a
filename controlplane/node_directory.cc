// Stored and live state of relay nodes.
#include "controlplane/node_directory.h"

#include <spdlog/spdlog.h>

namespace gw::controlplane {

namespace v1 = gateway::v1;

Result<void> NodeDirectory::record_registration(const std::string& node_id,
                                                const std::string& instance,
                                                const std::string& hostname,
                                                const std::string& version, const std::string& peer,
                                                std::int64_t now_ms) {
  storage::NodeRecord record{node_id, instance, hostname, version, now_ms, now_ms};
  if (auto stored = nodes_.upsert(record); !stored) return from_storage(stored.error());
  std::lock_guard lock(mu_);
  Live& live = live_[node_id];
  if (live.open_streams > 0 && live.peer != peer) {
    // Either a node that restarted before its old stream was noticed closed, or two relay
    // nodes started with one --node-id: `gctl node list` then shows one of them (probe
    // round 40: nothing said so).
    spdlog::warn("node {} registered from {} while a watch stream of it from {} is open: "
                 "a restart, or two grelayd with the same --node-id", node_id, peer, live.peer);
  }
  live.peer = peer;
  return ok();
}

Result<void> NodeDirectory::record_seen(const std::string& node_id, const std::string& instance,
                                        std::int64_t now_ms) {
  if (auto stored = nodes_.touch(node_id, instance, now_ms); !stored) {
    return from_storage(stored.error());
  }
  return ok();
}

Result<std::vector<v1::Node>> NodeDirectory::list(std::int64_t now_ms) {
  auto stored = nodes_.list();
  if (!stored) return from_storage(stored.error());
  std::vector<v1::Node> out;
  out.reserve(stored.value().size());
  std::lock_guard lock(mu_);
  for (const storage::NodeRecord& record : stored.value()) {
    v1::Node node;
    node.set_node_id(record.node_id);
    node.set_instance(record.instance);
    node.set_hostname(record.hostname);
    node.set_version(record.version);
    node.set_registered_at_ms(record.registered_at_ms);
    node.set_last_seen_ms(record.last_seen_ms);
    if (auto it = live_.find(record.node_id); it != live_.end()) {
      node.set_connected(it->second.open_streams > 0);
      node.set_config_version(it->second.config_version);
      node.set_peer(it->second.peer);
      if (node.connected()) node.set_last_seen_ms(now_ms);
    }
    out.push_back(std::move(node));
  }
  return out;
}

void NodeDirectory::stream_opened(const std::string& node_id, const std::string& peer) {
  std::lock_guard lock(mu_);
  Live& live = live_[node_id];
  ++live.open_streams;
  live.peer = peer;
}

void NodeDirectory::snapshot_sent(const std::string& node_id, std::uint64_t version) {
  std::lock_guard lock(mu_);
  live_[node_id].config_version = version;
}

void NodeDirectory::stream_closed(const std::string& node_id) {
  std::lock_guard lock(mu_);
  auto it = live_.find(node_id);
  if (it != live_.end() && it->second.open_streams > 0) --it->second.open_streams;
}

}  // namespace gw::controlplane
