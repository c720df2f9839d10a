// gateway.v1.DecisionService over the gRPC callback API.
#pragma once

#include "controlplane/decision_engine.h"
#include "gateway/v1/decision.grpc.pb.h"

namespace gw::controlplane {

/// Answers Decide inline on the gRPC thread: the engine reads only the in-memory snapshot.
class DecisionGrpcService final : public gateway::v1::DecisionService::CallbackService {
 public:
  explicit DecisionGrpcService(const DecisionEngine& engine) : engine_(engine) {}

  grpc::ServerUnaryReactor* Decide(grpc::CallbackServerContext* ctx,
                                   const gateway::v1::DecisionRequest* request,
                                   gateway::v1::DecisionResponse* response) override;

 private:
  const DecisionEngine& engine_;
};

}  // namespace gw::controlplane
