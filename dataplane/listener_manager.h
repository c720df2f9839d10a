// Applies configuration snapshots to the node's listeners: opens new interfaces, closes
// removed ones, hands changed services to running listeners (no restart, issue 2).
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "dataplane/asio.h"
#include "dataplane/listener.h"
#include "gateway/v1/config.pb.h"

namespace gw::dataplane {

/// Owns the listeners of this node. apply() and stop_all() must run on one strand (the
/// manager's); the node agent posts snapshots there.
class ListenerManager {
 public:
  ListenerManager(asio::io_context& io, NodeIdentity node);

  /// Makes the set of open listeners match the snapshot's interfaces. Interfaces of types
  /// this node cannot serve yet (ssl/starttls without TLS support) are skipped with a
  /// warning. A bind failure is logged and retried on the next snapshot.
  void apply(const gateway::v1::ConfigSnapshot& snapshot);
  void stop_all();
  [[nodiscard]] std::uint64_t version() const { return version_; }

 private:
  asio::io_context& io_;
  NodeIdentity node_;
  std::map<std::int64_t, std::shared_ptr<Listener>> listeners_;  // by interface id
  std::uint64_t version_ = 0;
};

}  // namespace gw::dataplane
