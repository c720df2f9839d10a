// NodeService: proto <-> NodeDirectory / WatchReactor.
#include "controlplane/node_grpc_service.h"

#include <spdlog/spdlog.h>

#include "controlplane/db_reactor.h"
#include "controlplane/validation.h"
#include "controlplane/watch_reactor.h"

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;

/// A write reactor that only reports an error: for Watch requests refused up front.
class RefusedWatch final : public grpc::ServerWriteReactor<v1::ConfigSnapshot> {
 public:
  explicit RefusedWatch(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerUnaryReactor* NodeGrpcService::Register(grpc::CallbackServerContext* ctx,
                                                    const v1::RegisterNodeRequest* request,
                                                    v1::RegisterNodeResponse* response) {
  Result<void> valid = validate_node_identity(request->node_id(), request->instance());
  if (valid) valid = validate_node_text("hostname", request->hostname());
  if (valid) valid = validate_node_text("version", request->version());
  if (!valid) {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(to_grpc_status(valid.error()));
    return reactor;
  }
  return finish_on_db(ctx, worker_, "Register", [this, request, response, peer = ctx->peer()] {
    auto stored =
        nodes_.record_registration(request->node_id(), request->instance(), request->hostname(),
                                   request->version(), peer, unix_now_ms());
    if (!stored) return to_grpc_status(stored.error());
    response->set_config_version(hub_.current()->instance_version(request->instance()));
    spdlog::info("node {} registered: instance {}, host {}, version {}, peer {}",
                 request->node_id(), request->instance(), request->hostname(), request->version(),
                 peer);
    return grpc::Status::OK;
  });
}

grpc::ServerWriteReactor<v1::ConfigSnapshot>* NodeGrpcService::Watch(
    grpc::CallbackServerContext* ctx, const v1::WatchConfigRequest* request) {
  if (auto valid = validate_node_identity(request->node_id(), request->instance()); !valid) {
    return new RefusedWatch(to_grpc_status(valid.error()));
  }
  return WatchReactor::start(hub_, nodes_, worker_, request->node_id(), request->instance(),
                             ctx->peer());
}

}  // namespace gw::controlplane
