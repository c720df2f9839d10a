// One NodeService.Watch stream: the instance's snapshot at once, then every newer one.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "controlplane/cq_reactor.h"
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
/// A request with a malformed node id or instance is refused with INVALID_ARGUMENT; while
/// the control plane shuts down the stream ends with UNAVAILABLE.
///
/// Lifetime: owns itself (self_) from accept() until OnDone(); the hub holds it weakly and
/// may keep it alive a moment longer during a delivery, which is then ignored. No lock is
/// held while calling StartWrite or Finish.
class WatchReactor final : public CqWriteReactor<gateway::v1::ConfigSnapshot>,
                           public SnapshotWatcher {
 public:
  using Service =
      gateway::v1::NodeService::WithAsyncMethod_Watch<gateway::v1::NodeService::Service>;

  /// Creates a call object for the next Watch and requests it from `service`; the object
  /// accepts the following one itself once accepted.
  static void accept(Service& service, CqServerQueue& queue, SnapshotHub& hub, NodeDirectory& nodes,
                     DbWorker& worker);

  void on_snapshot(std::shared_ptr<const gateway::v1::ConfigSnapshot> snapshot) override;
  void on_hub_closed() override;

  void OnStart() override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  WatchReactor(CqServerQueue& queue, SnapshotHub& hub, NodeDirectory& nodes, DbWorker& worker)
      : CqWriteReactor(queue), hub_(hub), nodes_(nodes), worker_(worker) {}

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
  gateway::v1::WatchConfigRequest request_;
  // Set in OnStart, before the hub knows the stream; constant afterwards.
  std::string node_id_;
  std::string instance_;
  std::string peer_;

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
