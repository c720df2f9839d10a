// Server side of one DecisionService.DecideStream or DecideBatches (decision.proto).
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <deque>
#include <mutex>

#include "controlplane/arrival_lag.h"
#include "controlplane/cq_reactor.h"
#include "gateway/v1/decision.grpc.pb.h"

namespace gw::controlplane {

class DecisionGrpcService;

/// Most calls or results in one DecideBatches message (decision.proto): bounds a message
/// at 64 times the largest request (a RCPT's attributes with 100 recipients, ~30 KiB).
inline constexpr int kMaxDecisionBatch = 64;

/// One relay node's decision stream: `In`/`Out` are DecisionCall/DecisionResult
/// (DecideStream, one call per message) or DecisionCallBatch/DecisionResultBatch
/// (DecideBatches, up to kMaxDecisionBatch per message). Each DecisionCall read is handed
/// to DecisionGrpcService::decide; the next read is started first, so a slow AUTH decision
/// never holds up the calls behind it and reads overlap with deciding. Results are written
/// in the order they are ready, at most one write in flight; on DecideBatches every result
/// ready when a write starts goes in it (so a batch read is answered by one batch write
/// when its decisions are made inline), on DecideStream a write with more results waiting
/// behind it carries gRPC's buffer hint, so a burst leaves in few frames.
///
/// The stream ends (Finish OK) once the node half-closes or the call is cancelled and
/// every decision started on it has been answered; a result ready after the node went away
/// is dropped (its audit record is written all the same). Owns itself: deleted in
/// OnDone(). No lock is held while calling StartRead, StartWrite or Finish.
///
/// Runs on CqServerQueue's threads (completion-queue API). With one such thread a decision
/// costs gctld 40% less CPU than on gRPC's callback API at 5,000 decisions/s; in session 3
/// a single completion thread was measured as the bottleneck at 16 and 64 closed-loop
/// callers (22,000 against 35,000 decisions/s), hence ControlPlaneOptions::grpc_threads.
template <class In, class Out>
class DecisionStreamReactor final : public CqBidiReactor<In, Out> {
 public:
  /// Creates a call object for the next stream of this kind and requests it from
  /// `service`; the object accepts the following one itself once accepted.
  static void accept(DecisionGrpcService& service, CqServerQueue& queue);

  void OnStart() override;
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  DecisionStreamReactor(DecisionGrpcService& service, CqServerQueue& queue)
      : CqBidiReactor<In, Out>(queue), service_(service) {}

  /// Decides one call of the message read.
  void decide(gateway::v1::DecisionCall call);
  /// Queues `result` (from any thread) and writes it when no write is in flight.
  void deliver(gateway::v1::DecisionResult result);
  enum class Next { kNothing, kWrite, kFinish };
  /// Under mu_: moves the next result(s) into current_ (kWrite), or marks the stream
  /// finished when reads are over and nothing is left (kFinish).
  Next next_locked();
  /// Starts what next_locked() chose; called without mu_.
  void perform(Next next);

  DecisionGrpcService& service_;
  In incoming_;  // the read in flight; only touched by OnReadDone
  ArrivalLag lag_;  // this stream's arrival lag (decision.proto sent_steady_us); OnReadDone

  std::mutex mu_;
  std::deque<gateway::v1::DecisionResult> ready_;  // results waiting to be written
  Out current_;                                    // the write in flight
  bool more_after_current_ = false;                // buffer hint for current_
  bool writing_ = false;
  bool reads_done_ = false;  // the node half-closed, or the call broke
  bool writes_failed_ = false;
  bool finished_ = false;
  std::size_t deciding_ = 0;  // decisions started and not yet answered
};

/// DecideStream: one call or result per message.
using DecisionCallReactor =
    DecisionStreamReactor<gateway::v1::DecisionCall, gateway::v1::DecisionResult>;
/// DecideBatches: up to kMaxDecisionBatch calls or results per message.
using DecisionBatchReactor =
    DecisionStreamReactor<gateway::v1::DecisionCallBatch, gateway::v1::DecisionResultBatch>;

}  // namespace gw::controlplane
