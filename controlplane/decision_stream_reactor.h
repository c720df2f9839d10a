// Server side of one DecisionService.DecideStream (decision.proto).
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <deque>
#include <mutex>

#include "gateway/v1/decision.grpc.pb.h"

namespace gw::controlplane {

class DecisionGrpcService;

/// One relay node's decision stream. Each DecisionCall read is handed to
/// DecisionGrpcService::decide; the next read is started first, so a slow AUTH decision
/// never holds up the calls behind it and reads overlap with deciding. Results are written
/// in the order they are ready, at most one write in flight; a write with more results
/// waiting behind it carries gRPC's buffer hint, so a burst leaves in few frames.
///
/// The stream ends (Finish OK) once the node half-closes or the call is cancelled and
/// every decision started on it has been answered; a result ready after the node went away
/// is dropped (its audit record is written all the same). Owns itself: deleted in
/// OnDone(). No lock is held while calling StartRead, StartWrite or Finish.
///
/// Measured against a completion-queue server with one thread of its own (session 3,
/// tests/bench/README.md): that thread became the bottleneck at 16 and 64 callers (22,000
/// against 35,000 decisions/s) while gRPC's own threads kept polling the sockets anyway.
class DecisionStreamReactor final
    : public grpc::ServerBidiReactor<gateway::v1::DecisionCall, gateway::v1::DecisionResult> {
 public:
  /// Creates the reactor and starts its first read. Returns it for gRPC.
  static DecisionStreamReactor* start(DecisionGrpcService& service);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  explicit DecisionStreamReactor(DecisionGrpcService& service) : service_(service) {}

  /// Queues `result` (from any thread) and writes it when no write is in flight.
  void deliver(gateway::v1::DecisionResult result);
  enum class Next { kNothing, kWrite, kFinish };
  /// Under mu_: moves the next result into current_ (kWrite), or marks the stream finished
  /// when reads are over and nothing is left (kFinish).
  Next next_locked();
  /// Starts what next_locked() chose; called without mu_.
  void perform(Next next);

  DecisionGrpcService& service_;
  gateway::v1::DecisionCall incoming_;  // the read in flight; only touched by OnReadDone

  std::mutex mu_;
  std::deque<gateway::v1::DecisionResult> ready_;  // results waiting to be written
  gateway::v1::DecisionResult current_;            // the write in flight
  bool more_after_current_ = false;                // buffer hint for current_
  bool writing_ = false;
  bool reads_done_ = false;  // the node half-closed, or the call broke
  bool writes_failed_ = false;
  bool finished_ = false;
  std::size_t deciding_ = 0;  // decisions started and not yet answered
};

}  // namespace gw::controlplane
