// DecisionService: proto <-> DecisionEngine, audit record queued before the answer.
#include "controlplane/decision_grpc_service.h"

#include <chrono>

#include "controlplane/grpc_status.h"

namespace gw::controlplane {

grpc::ServerUnaryReactor* DecisionGrpcService::Decide(grpc::CallbackServerContext* ctx,
                                                      const gateway::v1::DecisionRequest* request,
                                                      gateway::v1::DecisionResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  const auto started = std::chrono::steady_clock::now();
  auto work = [this, reactor, request, response, started] {
    auto decision = engine_.decide(*request);
    if (!decision) {
      reactor->Finish(to_grpc_status(decision.error()));
      return;
    }
    DecisionOutcome& outcome = decision.value();
    outcome.audit.set_latency_us(std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::steady_clock::now() - started)
                                     .count());
    if (!audit_.submit(std::move(outcome.audit))) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                   "the audit trail cannot take more records now"));
      return;
    }
    *response = std::move(outcome.response);
    reactor->Finish(grpc::Status::OK);
  };
  if (!engine_.is_slow(*request)) {
    work();
  } else if (!slow_pool_.post(std::move(work))) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "too many decisions waiting"));
  }
  return reactor;
}

}  // namespace gw::controlplane
