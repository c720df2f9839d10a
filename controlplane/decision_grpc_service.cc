// DecisionService: proto <-> DecisionEngine.
#include "controlplane/decision_grpc_service.h"

#include "controlplane/grpc_status.h"

namespace gw::controlplane {

grpc::ServerUnaryReactor* DecisionGrpcService::Decide(grpc::CallbackServerContext* ctx,
                                                      const gateway::v1::DecisionRequest* request,
                                                      gateway::v1::DecisionResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  auto decision = engine_.decide(*request);
  if (decision) {
    *response = std::move(decision).value();
    reactor->Finish(grpc::Status::OK);
  } else {
    reactor->Finish(to_grpc_status(decision.error()));
  }
  return reactor;
}

}  // namespace gw::controlplane
