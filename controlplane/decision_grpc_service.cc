// DecisionService: proto <-> DecisionEngine, audit record queued before the answer.
#include "controlplane/decision_grpc_service.h"

#include <memory>

#include "controlplane/decision_stream_reactor.h"
#include "controlplane/grpc_status.h"

namespace gw::controlplane {

void DecisionGrpcService::decide_now(const gateway::v1::DecisionRequest& request,
                                     std::chrono::steady_clock::time_point received,
                                     const Answer& answer) {
  auto decision = engine_.decide(request);
  if (!decision) {
    answer(to_grpc_status(decision.error()), {});
    return;
  }
  DecisionOutcome& outcome = decision.value();
  const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - received);
  // The node's timer started before the request arrived here, so once this much time has
  // passed the node has certainly answered without this decision (an Argon2id check that
  // started just in time and ended too late): no record of a verdict nobody applied.
  if (request.timeout_ms() > 0 && latency > std::chrono::milliseconds(request.timeout_ms())) {
    answer(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "the decision took longer than the node's decision timeout"),
           {});
    return;
  }
  outcome.audit.set_latency_us(latency.count());
  if (!audit_.submit(std::move(outcome.audit))) {
    answer(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "the audit trail cannot take more records now"),
           {});
    return;
  }
  answer(grpc::Status::OK, std::move(outcome.response));
}

void DecisionGrpcService::decide(const gateway::v1::DecisionRequest& request,
                                 std::chrono::steady_clock::time_point received, Answer answer) {
  if (!engine_.is_slow(request)) {
    decide_now(request, received, answer);
    return;
  }
  // std::function needs a copyable task: the answer moves into a shared box.
  auto box = std::make_shared<Answer>(std::move(answer));
  if (!slow_pool_.post([this, &request, received, box] {
        // A decision that waited in the pool longer than the node waits for it is not made:
        // the node has answered without it, and its record would say what nobody did (a
        // REJECT for a MAIL a fail-open node let through), while a backlog of Argon2id
        // checks nobody waits for would delay the fresh ones (probe round 13).
        if (request.timeout_ms() > 0 &&
            std::chrono::steady_clock::now() - received >
                std::chrono::milliseconds(request.timeout_ms())) {
          (*box)(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                              "the node's decision timeout passed while the decision waited"),
                 {});
          return;
        }
        decide_now(request, received, *box);
      })) {
    (*box)(grpc::Status(grpc::StatusCode::UNAVAILABLE, "too many decisions waiting"), {});
  }
}

grpc::ServerUnaryReactor* DecisionGrpcService::Decide(grpc::CallbackServerContext* ctx,
                                                      const gateway::v1::DecisionRequest* request,
                                                      gateway::v1::DecisionResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  decide(*request, std::chrono::steady_clock::now(),
         [reactor, response](grpc::Status status, gateway::v1::DecisionResponse answer) {
           if (status.ok()) *response = std::move(answer);
           reactor->Finish(status);
         });
  return reactor;
}

grpc::ServerBidiReactor<gateway::v1::DecisionCall, gateway::v1::DecisionResult>*
DecisionGrpcService::DecideStream(grpc::CallbackServerContext* /*ctx*/) {
  return DecisionStreamReactor::start(*this);
}

}  // namespace gw::controlplane
