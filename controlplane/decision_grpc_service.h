// gateway.v1.DecisionService over the gRPC callback API.
#pragma once

#include "controlplane/audit_writer.h"
#include "controlplane/decision_engine.h"
#include "controlplane/worker_pool.h"
#include "gateway/v1/decision.grpc.pb.h"

namespace gw::controlplane {

/// Answers Decide: inline on the gRPC thread when the engine says the decision is cheap
/// (it reads only the in-memory configuration), on `slow_pool` when it may verify a
/// password or parse a whole message (DecisionEngine::is_slow), so Argon2id never holds a
/// gRPC thread. Every decision's audit record is queued on `audit` before the answer goes
/// out; when the audit queue or the slow pool is full the call fails with UNAVAILABLE and
/// the node fails safe (451 4.3.0 / 454 4.7.0, or fail-open). The references must outlive
/// the gRPC server.
class DecisionGrpcService final : public gateway::v1::DecisionService::CallbackService {
 public:
  DecisionGrpcService(const DecisionEngine& engine, AuditWriter& audit, WorkerPool& slow_pool)
      : engine_(engine), audit_(audit), slow_pool_(slow_pool) {}

  grpc::ServerUnaryReactor* Decide(grpc::CallbackServerContext* ctx,
                                   const gateway::v1::DecisionRequest* request,
                                   gateway::v1::DecisionResponse* response) override;

 private:
  const DecisionEngine& engine_;
  AuditWriter& audit_;
  WorkerPool& slow_pool_;
};

}  // namespace gw::controlplane
