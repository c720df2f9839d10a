// One NodeService.Watch stream: the instance's snapshot at once, then every newer one.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "controlplane/db_worker.h"
#include "controlplane/node_directory.h"
#include "controlplane/snapshot_hub.h"
#include "gateway/v1/node.grpc.pb.h"

namespace gw::controlplane {

/// Server side of one watch stream (node.proto). Subscribes to the hub, writes the current
/// snapshot at once and then each newer one. At most one write is in flight; a snapshot
/// arriving meanwhile replaces any older one waiting, so a slow node costs one pending
/// pointer, never a queue, and never delays other watchers. Versions written only grow.
///
/// Lifetime: owns itself (self_) from start() until OnDone(); the hub holds it weakly and
/// may keep it alive a moment longer during a delivery, which is then ignored. No lock is
/// held while calling StartWrite or Finish.
class WatchReactor final : public grpc::ServerWriteReactor<gateway::v1::ConfigSnapshot>,
                           public SnapshotWatcher {
 public:
  /// Creates and starts the stream for `node_id` in `instance`; `peer` is the gRPC peer
  /// address. Returns the reactor to hand to gRPC.
  static grpc::ServerWriteReactor<gateway::v1::ConfigSnapshot>* start(
      SnapshotHub& hub, NodeDirectory& nodes, DbWorker& worker, std::string node_id,
      std::string instance, std::string peer);

  void on_snapshot(std::shared_ptr<const gateway::v1::ConfigSnapshot> snapshot) override;
  void on_hub_closed() override;

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  WatchReactor(SnapshotHub& hub, NodeDirectory& nodes, DbWorker& worker, std::string node_id,
               std::string instance, std::string peer);

  /// Queues `snapshot` unless something at least as new is already queued, in flight or
  /// sent; then advances.
  void offer(std::shared_ptr<const gateway::v1::ConfigSnapshot> snapshot);
  /// Asks the stream to end with `status` once no write is in flight.
  void request_finish(grpc::Status status);
  /// Under mu_, picks the next action (write, finish or nothing); performs it after
  /// unlocking.
  void advance();

  SnapshotHub& hub_;
  NodeDirectory& nodes_;
  DbWorker& worker_;
  const std::string node_id_;
  const std::string instance_;
  const std::string peer_;

  std::mutex mu_;
  std::shared_ptr<const gateway::v1::ConfigSnapshot> pending_;    // newest not yet written
  std::shared_ptr<const gateway::v1::ConfigSnapshot> in_flight_;  // kept alive until done
  bool accepted_any_ = false;
  std::uint64_t accepted_version_ = 0;  // newest version queued, in flight or written
  bool writing_ = false;
  bool finish_requested_ = false;
  bool finished_ = false;
  grpc::Status finish_status_;

  std::shared_ptr<WatchReactor> self_;
};

}  // namespace gw::controlplane
