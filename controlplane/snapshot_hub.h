// Publishes configuration snapshots to watchers (NodeService.Watch) on every change.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/configuration.h"

namespace gw::controlplane {

/// Receives the snapshots of one instance. Implementations must return quickly and never
/// block: they are called on the publishing thread (the DB thread), with no hub lock held.
class SnapshotWatcher {
 public:
  virtual ~SnapshotWatcher() = default;
  /// A newer snapshot of the watched instance.
  virtual void on_snapshot(std::shared_ptr<const gateway::v1::ConfigSnapshot> snapshot) = 0;
  /// The hub is closing (shutdown): no more snapshots will come.
  virtual void on_hub_closed() = 0;
};

/// Holds the current Configuration and the watchers per instance. Thread-safe. The
/// configuration pointer is swapped under a mutex held only for the swap, so readers
/// (decisions, watch start) never wait for a rebuild. Watchers are held weakly: a watcher
/// that went away without unsubscribing is skipped and forgotten.
class SnapshotHub {
 public:
  SnapshotHub();

  /// The configuration as of now; never null.
  std::shared_ptr<const Configuration> current() const;

  /// Installs `next` (its version must not be lower than the current one) and hands the
  /// snapshots of `changed_instances` to their watchers, in the caller's thread.
  void publish(std::shared_ptr<const Configuration> next,
               const std::vector<std::string>& changed_instances);

  /// Registers `watcher` for `instance` and returns the snapshot to send first, atomically
  /// with the registration: every later change reaches the watcher. For an instance
  /// without services the snapshot is empty, at the current version. Returns null when
  /// the hub is closed (the watcher is not registered).
  std::shared_ptr<const gateway::v1::ConfigSnapshot> subscribe(
      const std::string& instance, const std::shared_ptr<SnapshotWatcher>& watcher);

  /// Removes a watcher; unknown watchers are ignored.
  void unsubscribe(const std::string& instance, const SnapshotWatcher* watcher);

  /// Refuses new subscriptions and tells every watcher on_hub_closed(). Idempotent.
  void close();

  /// Number of registered watchers (tests, metrics).
  std::size_t watcher_count() const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Configuration> current_;
  std::map<std::string, std::map<const SnapshotWatcher*, std::weak_ptr<SnapshotWatcher>>,
           std::less<>>
      watchers_;
  bool closed_ = false;
};

}  // namespace gw::controlplane
