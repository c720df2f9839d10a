// The relay node's end of DecisionService.DecideStream: many decisions multiplexed on one
// long-lived gRPC stream (decision.proto).
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "gateway/v1/decision.grpc.pb.h"

namespace gw::dataplane {

/// Receives the result of one call submitted to a DecisionStream.
class PendingDecision {
 public:
  virtual ~PendingDecision() = default;
  /// Called at most once by the stream, on a gRPC thread: OK with the response, the status
  /// gctld answered the call with, or UNAVAILABLE when the stream ended first. Must not
  /// block and must not call back into the stream.
  virtual void complete(grpc::Status status, gateway::v1::DecisionResponse response) = 0;
};

/// One DecideStream call. submit() queues a request under a fresh call id; results are
/// matched back by call id and handed to their PendingDecision. At most one write is in
/// flight; requests queued meanwhile follow with gRPC's buffer hint, so a burst leaves in
/// few frames. A stream that broke (gctld gone, connection reset) is broken() for good and
/// fails every call still unanswered with UNAVAILABLE; the owner opens a new one.
///
/// Thread-safe. Owns itself from open() until gRPC's OnDone (a gRPC hold keeps OnDone
/// from running while a write may still be started). No lock is held while calling
/// StartRead, StartWrite or RemoveHold, nor while completing a PendingDecision.
class DecisionStream final
    : public grpc::ClientBidiReactor<gateway::v1::DecisionCall, gateway::v1::DecisionResult> {
 public:
  /// Requests queued and not yet written above this bound are refused (UNAVAILABLE):
  /// gctld is not keeping up, and the per-call timeout would expire anyway.
  static constexpr std::size_t kMaxQueued = 16384;

  /// Starts a DecideStream on `stub` (which must outlive the call's start only).
  static std::shared_ptr<DecisionStream> open(gateway::v1::DecisionService::Stub& stub);

  /// Queues `request`; `pending` gets its result. Returns the call id, or nullopt when the
  /// stream is broken or its queue is full (`pending` is then not kept nor completed).
  std::optional<std::uint64_t> submit(gateway::v1::DecisionRequest request,
                                      std::shared_ptr<PendingDecision> pending);
  /// Drops call `call_id` (its caller stopped waiting): a late result is ignored.
  void forget(std::uint64_t call_id);
  /// True once the stream cannot carry new calls.
  [[nodiscard]] bool broken() const { return broken_.load(std::memory_order_acquire); }
  /// Cancels the call; every unanswered call then fails with UNAVAILABLE.
  void close();

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  DecisionStream() = default;
  /// Under mu_: moves the next queued call into current_ when no write is in flight.
  bool next_write_locked();
  void start_write();
  /// Under mu_: true once (the caller then calls RemoveHold) when the read side ended and
  /// no write is in flight.
  bool release_hold_locked();

  grpc::ClientContext context_;
  gateway::v1::DecisionResult incoming_;  // the read in flight; only touched by OnReadDone
  std::shared_ptr<DecisionStream> self_;  // until OnDone
  std::atomic<bool> broken_{false};

  std::mutex mu_;
  std::uint64_t next_call_id_ = 0;
  std::unordered_map<std::uint64_t, std::shared_ptr<PendingDecision>> pending_;
  std::deque<gateway::v1::DecisionCall> queued_;
  gateway::v1::DecisionCall current_;  // the write in flight
  bool more_after_current_ = false;
  bool writing_ = false;
  bool reads_ended_ = false;
  bool hold_released_ = false;
};

}  // namespace gw::dataplane
