// DecisionService: proto <-> DecisionEngine, audit record queued before the answer.
#include "controlplane/decision_grpc_service.h"

#include <memory>

#include "controlplane/cq_reactor.h"
#include "controlplane/decision_stream_reactor.h"
#include "controlplane/grpc_status.h"

namespace gw::controlplane {

void DecisionGrpcService::decide_now(const gateway::v1::DecisionRequest& request,
                                     std::chrono::steady_clock::time_point received,
                                     const Answer& answer) {
  auto decision = engine_.decide(request);
  if (!decision) {
    metrics_.count_failure(DecisionFailure::kError);
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
    metrics_.count_failure(DecisionFailure::kDeadline);
    answer(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "the decision took longer than the node's decision timeout"),
           {});
    return;
  }
  outcome.audit.set_latency_us(latency.count());
  const gateway::v1::Verdict verdict = outcome.response.verdict();
  if (!audit_.submit(std::move(outcome.audit))) {
    metrics_.count_failure(DecisionFailure::kAuditFull);
    answer(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "the audit trail cannot take more records now"),
        {});
    return;
  }
  metrics_.count(request.command(), verdict, latency);
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
        if (request.timeout_ms() > 0 && std::chrono::steady_clock::now() - received >
                                            std::chrono::milliseconds(request.timeout_ms())) {
          metrics_.count_failure(DecisionFailure::kDeadline);
          (*box)(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                              "the node's decision timeout passed while the decision waited"),
                 {});
          return;
        }
        decide_now(request, received, *box);
      })) {
    metrics_.count_failure(DecisionFailure::kOverloaded);
    (*box)(grpc::Status(grpc::StatusCode::UNAVAILABLE, "too many decisions waiting"), {});
  }
}

std::chrono::steady_clock::time_point DecisionGrpcService::unary_received(
    const std::string& peer, const gateway::v1::DecisionRequest& request,
    std::chrono::steady_clock::time_point arrived) {
  if (request.sent_steady_us() <= 0) return arrived;
  std::lock_guard lock(unary_lag_mu_);
  // Connections come and go (node restarts): past the cap, start over rather than grow.
  if (unary_lag_.size() >= kMaxUnaryPeers && !unary_lag_.contains(peer)) unary_lag_.clear();
  return arrived - unary_lag_[peer].observe(request.sent_steady_us(), arrived);
}

namespace {

/// One unary Decide call (the node uses it for DATA decisions): decided like a stream's
/// call, finished with the answer. Owns itself: deleted in OnDone().
class DecideCall final : public CqReactorBase {
 public:
  static void accept(DecisionGrpcService& service, CqServerQueue& queue) {
    auto* call = new DecideCall(service, queue);
    void* tag = call->arm([&service, &queue] { accept(service, queue); });
    service.RequestDecide(call->context(), &call->request_, &call->responder_, queue.cq(),
                          queue.cq(), tag);
  }

 private:
  DecideCall(DecisionGrpcService& service, CqServerQueue& queue)
      : CqReactorBase(queue), service_(service) {}

  void OnStart() override {
    service_.decide(request_,
                    service_.unary_received(ctx_.peer(), request_,
                                            std::chrono::steady_clock::now()),
                    [this](grpc::Status status, gateway::v1::DecisionResponse answer) {
                      if (!status.ok()) {
                        responder_.FinishWithError(status, finish_tag());
                        return;
                      }
                      response_ = std::move(answer);
                      responder_.Finish(response_, grpc::Status::OK, finish_tag());
                    });
  }
  void OnDone() override { delete this; }

  DecisionGrpcService& service_;
  gateway::v1::DecisionRequest request_;
  gateway::v1::DecisionResponse response_;
  grpc::ServerAsyncResponseWriter<gateway::v1::DecisionResponse> responder_{&ctx_};
};

}  // namespace

void DecisionGrpcService::start(CqServerQueue& queue) {
  DecideCall::accept(*this, queue);
  DecisionCallReactor::accept(*this, queue);
  DecisionBatchReactor::accept(*this, queue);
}

}  // namespace gw::controlplane
