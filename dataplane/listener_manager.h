// Applies configuration snapshots to the node's listeners: opens new interfaces, closes
// removed ones, hands changed services to running listeners (no restart, issue 2).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "dataplane/asio.h"
#include "dataplane/listener.h"
#include "gateway/v1/config.pb.h"

namespace gw::dataplane {

/// Owns the listeners of this node. apply() and stop_all() must run on one strand (the
/// manager's); the node agent posts snapshots there.
class ListenerManager {
 public:
  /// `strand` is the manager's: apply(), stop_all() and the retry timer run there.
  ListenerManager(asio::io_context& io, asio::any_io_executor strand, NodeIdentity node);

  /// Makes the set of open listeners match the snapshot's interfaces: listeners that go
  /// away or move are closed first, then new ones opened, so a port can pass from one
  /// interface to another in one snapshot. An interface whose TLS material is unusable
  /// keeps listening (ssl: connections dropped; starttls: STARTTLS answered 454). A bind
  /// failure (port in use, or not yet released) is logged once per reason and retried
  /// every 100 ms doubling to 5 s, with the latest snapshot, until it succeeds.
  void apply(const gateway::v1::ConfigSnapshot& snapshot);
  /// Closes every listener and stops retrying; later snapshots are ignored (the node is
  /// stopping).
  void stop_all();
  [[nodiscard]] std::uint64_t version() const { return version_; }

 private:
  static constexpr std::chrono::milliseconds kFirstRetry{100};
  static constexpr std::chrono::milliseconds kLastRetry{5000};

  asio::io_context& io_;
  NodeIdentity node_;
  std::map<std::int64_t, std::shared_ptr<Listener>> listeners_;  // by interface id
  std::map<std::int64_t, std::string> open_failures_;  // by interface id: the last reason
  gateway::v1::ConfigSnapshot last_;                   // what a retry applies
  asio::steady_timer retry_timer_;
  std::chrono::milliseconds retry_delay_ = kFirstRetry;
  std::uint64_t version_ = 0;
  bool stopped_ = false;
};

}  // namespace gw::dataplane
