// NodeService: proto <-> NodeDirectory / WatchReactor.
#include "controlplane/node_grpc_service.h"

#include <spdlog/spdlog.h>

#include "controlplane/db_call.h"
#include "controlplane/validation.h"

namespace gw::controlplane {
namespace v1 = gateway::v1;

grpc::Status NodeGrpcService::Register(grpc::ServerContext* ctx,
                                       const v1::RegisterNodeRequest* request,
                                       v1::RegisterNodeResponse* response) {
  Result<void> valid = validate_node_identity(request->node_id(), request->instance());
  if (valid) valid = validate_node_text("hostname", request->hostname());
  if (valid) valid = validate_node_text("version", request->version());
  if (!valid) return to_grpc_status(valid.error());
  return run_on_db(worker_, "Register", [this, request, response, peer = ctx->peer()] {
    auto stored =
        nodes_.record_registration(request->node_id(), request->instance(), request->hostname(),
                                   request->version(), peer, unix_now_ms());
    if (!stored) return to_grpc_status(stored.error());
    response->set_config_version(hub_.current()->instance_version(request->instance()));
    response->set_decide_batches(true);  // DecisionStreamReactor serves DecideBatches
    spdlog::info("node {} registered: instance {}, host {}, version {}, peer {}",
                 request->node_id(), request->instance(), request->hostname(), request->version(),
                 peer);
    return grpc::Status::OK;
  });
}

void NodeGrpcService::start(CqServerQueue& queue) {
  WatchReactor::accept(*this, queue, hub_, nodes_, worker_);
}

}  // namespace gw::controlplane
