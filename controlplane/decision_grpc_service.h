// gateway.v1.DecisionService on gRPC's completion-queue API: unary Decide and the
// multiplexed DecideStream (decision.proto).
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "controlplane/arrival_lag.h"
#include "controlplane/decision_metrics.h"
#include "controlplane/audit_writer.h"
#include "controlplane/cq_server_queue.h"
#include "controlplane/decision_engine.h"
#include "controlplane/worker_pool.h"
#include "gateway/v1/decision.grpc.pb.h"

namespace gw::controlplane {

/// Answers decisions: inline on the gRPC thread when the engine says the decision is cheap
/// (it reads only the in-memory configuration), on `slow_pool` when it may verify a
/// password or parse a whole message (DecisionEngine::is_slow), so Argon2id never holds a
/// gRPC thread. Every decision's audit record is queued on `audit` before the answer goes
/// out; when the audit queue or the slow pool is full the decision fails with UNAVAILABLE
/// and the node fails safe (451 4.3.0 / 454 4.7.0, or fail-open). The references must
/// outlive the gRPC server. Calls are accepted on a CqServerQueue from start() on.
class DecisionGrpcService final : public gateway::v1::DecisionService::AsyncService {
 public:
  /// Called exactly once per decision, on a gRPC or slow-pool thread: OK with the response,
  /// or the status the call fails with.
  using Answer = std::function<void(grpc::Status, gateway::v1::DecisionResponse)>;

  DecisionGrpcService(const DecisionEngine& engine, AuditWriter& audit, WorkerPool& slow_pool)
      : engine_(engine), audit_(audit), slow_pool_(slow_pool) {}

  /// Counts of the decisions answered and failed so far (metrics).
  [[nodiscard]] const DecisionMetrics& metrics() const { return metrics_; }

  /// Starts accepting Decide and DecideStream calls on `queue` (after the server was
  /// built); `queue` must outlive the server.
  void start(CqServerQueue& queue);

  /// Decides `request` (received at `received`), queues the audit record (its latency in
  /// µs from `received`) and calls `answer` — inline or later from the slow pool.
  /// `request` must stay valid until `answer` has been called. A slow decision that waited
  /// in the pool longer than `request.timeout_ms()` is not made, and one that finished
  /// later than that after `received` is not recorded (DEADLINE_EXCEEDED, no audit record
  /// either way): the node has answered without it (decision.proto).
  void decide(const gateway::v1::DecisionRequest& request,
              std::chrono::steady_clock::time_point received, Answer answer);

  /// For a unary Decide call from `peer` (ServerContext::peer(), one per node connection)
  /// that arrived at `arrived`: `arrived` less its arrival lag (ArrivalLag), the `received`
  /// to pass to decide(). Thread-safe; remembers at most kMaxUnaryPeers connections.
  std::chrono::steady_clock::time_point unary_received(
      const std::string& peer, const gateway::v1::DecisionRequest& request,
      std::chrono::steady_clock::time_point arrived);
  static constexpr std::size_t kMaxUnaryPeers = 4096;

 private:
  /// decide() on the calling thread.
  void decide_now(const gateway::v1::DecisionRequest& request,
                  std::chrono::steady_clock::time_point received, const Answer& answer);

  const DecisionEngine& engine_;
  AuditWriter& audit_;
  WorkerPool& slow_pool_;
  DecisionMetrics metrics_;
  std::mutex unary_lag_mu_;
  std::unordered_map<std::string, ArrivalLag> unary_lag_;  // by peer; under unary_lag_mu_
};

}  // namespace gw::controlplane
