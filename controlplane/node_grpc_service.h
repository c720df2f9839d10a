// gateway.v1.NodeService over the gRPC callback API: registration and the watch stream.
#pragma once

#include "controlplane/db_worker.h"
#include "controlplane/node_directory.h"
#include "controlplane/snapshot_hub.h"
#include "gateway/v1/node.grpc.pb.h"

namespace gw::controlplane {

/// The node API used by grelayd (node.proto). Register runs on the DB thread; Watch is a
/// WatchReactor fed by the hub. The references must outlive the gRPC server.
class NodeGrpcService final : public gateway::v1::NodeService::CallbackService {
 public:
  NodeGrpcService(SnapshotHub& hub, NodeDirectory& nodes, DbWorker& worker)
      : hub_(hub), nodes_(nodes), worker_(worker) {}

  /// INVALID_ARGUMENT for a malformed node id, instance, hostname or version; answers the
  /// instance's current configuration version.
  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* ctx,
                                     const gateway::v1::RegisterNodeRequest* request,
                                     gateway::v1::RegisterNodeResponse* response) override;

  /// INVALID_ARGUMENT for a malformed node id or instance; UNAVAILABLE while shutting down.
  grpc::ServerWriteReactor<gateway::v1::ConfigSnapshot>* Watch(
      grpc::CallbackServerContext* ctx, const gateway::v1::WatchConfigRequest* request) override;

 private:
  SnapshotHub& hub_;
  NodeDirectory& nodes_;
  DbWorker& worker_;
};

}  // namespace gw::controlplane
