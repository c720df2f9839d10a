// gateway.v1.NodeService: registration (synchronous API) and the watch stream (completion
// queue).
#pragma once

#include "controlplane/cq_server_queue.h"
#include "controlplane/db_worker.h"
#include "controlplane/node_directory.h"
#include "controlplane/snapshot_hub.h"
#include "controlplane/watch_reactor.h"
#include "gateway/v1/node.grpc.pb.h"

namespace gw::controlplane {

/// The node API used by grelayd (node.proto). Register runs on the DB thread; Watch is a
/// WatchReactor fed by the hub. The references must outlive the gRPC server.
class NodeGrpcService final : public WatchReactor::Service {
 public:
  NodeGrpcService(SnapshotHub& hub, NodeDirectory& nodes, DbWorker& worker)
      : hub_(hub), nodes_(nodes), worker_(worker) {}

  /// INVALID_ARGUMENT for a malformed node id, instance, hostname or version; answers the
  /// instance's current configuration version.
  grpc::Status Register(grpc::ServerContext* ctx, const gateway::v1::RegisterNodeRequest* request,
                        gateway::v1::RegisterNodeResponse* response) override;

  /// Starts accepting Watch calls on `queue` (after the server was built); `queue` must
  /// outlive the server. A Watch with a malformed node id or instance ends with
  /// INVALID_ARGUMENT; while shutting down with UNAVAILABLE (WatchReactor).
  void start(CqServerQueue& queue);

 private:
  SnapshotHub& hub_;
  NodeDirectory& nodes_;
  DbWorker& worker_;
};

}  // namespace gw::controlplane
