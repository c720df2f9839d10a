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

#include "dataplane/grpc_completion_thread.h"
#include "gateway/v1/decision.grpc.pb.h"

namespace gw::dataplane {

/// Receives the result of one call submitted to a DecisionStream.
class PendingDecision {
 public:
  virtual ~PendingDecision() = default;
  /// Called at most once by the stream, on the completion thread: OK with the response,
  /// the status gctld answered the call with, or UNAVAILABLE when the stream ended first.
  /// Must not block and must not call back into the stream.
  virtual void complete(grpc::Status status, gateway::v1::DecisionResponse response) = 0;
};

/// One DecideBatches call (or DecideStream, for a gctld that does not serve it) on the
/// asynchronous completion-queue API. submit() queues a request under a fresh call id;
/// results are matched back by call id and handed to their PendingDecision. At most one
/// write is in flight; on DecideBatches the requests queued meanwhile leave together in
/// the next write (up to kMaxBatch), on DecideStream one per write with gRPC's buffer hint,
/// so a burst leaves in few frames. A stream that broke (gctld gone, connection reset) is
/// broken() for good and fails every call still unanswered with UNAVAILABLE; the owner
/// opens a new one.
///
/// Thread-safe: submit(), forget() and close() from any thread; the steps run on the
/// completion thread of `cq`. Keeps itself alive until its Finish completed (finished()).
/// No lock is held while completing a PendingDecision.
class DecisionStream final : public std::enable_shared_from_this<DecisionStream> {
 public:
  /// Requests queued and not yet written above this bound are refused (UNAVAILABLE):
  /// gctld is not keeping up, and the per-call timeout would expire anyway.
  static constexpr std::size_t kMaxQueued = 16384;
  /// Most calls in one DecideBatches message (decision.proto).
  static constexpr int kMaxBatch = 64;

  /// Starts a DecideBatches call (`batched`, when gctld said at Register that it serves
  /// it) or a DecideStream call on `stub`, whose operations complete on `cq` (the queue of
  /// a running GrpcCompletionThread, which must outlive the stream's finish).
  static std::shared_ptr<DecisionStream> open(gateway::v1::DecisionService::Stub& stub,
                                              grpc::CompletionQueue& cq, bool batched);

  /// Queues `request`; `pending` gets its result. Returns the call id, or nullopt when the
  /// stream is broken or its queue is full (`pending` is then not kept nor completed).
  std::optional<std::uint64_t> submit(gateway::v1::DecisionRequest request,
                                      std::shared_ptr<PendingDecision> pending);
  /// Drops call `call_id` (its caller stopped waiting): a late result is ignored, and a
  /// request still queued behind a write in flight is not sent.
  void forget(std::uint64_t call_id);
  /// True once the stream cannot carry new calls.
  [[nodiscard]] bool broken() const { return broken_.load(std::memory_order_acquire); }
  /// Cancels the call; every unanswered call then fails with UNAVAILABLE.
  void close();
  /// True once the call is over (Finish completed, every pending call failed): nothing of
  /// it is left on the completion queue.
  [[nodiscard]] bool finished() const { return finished_.load(std::memory_order_acquire); }

 private:
  using Call =
      grpc::ClientAsyncReaderWriter<gateway::v1::DecisionCall, gateway::v1::DecisionResult>;
  using BatchCall = grpc::ClientAsyncReaderWriter<gateway::v1::DecisionCallBatch,
                                                  gateway::v1::DecisionResultBatch>;
  /// A tag: the stream and the step its operation's completion runs.
  using Step = common::MemberStep<DecisionStream>;

  DecisionStream() = default;
  void on_started(bool ok);
  void on_read(bool ok);
  void on_written(bool ok);
  void on_finished(bool ok);
  /// Under mu_: moves the next queued call into current_ when a write may start.
  bool next_write_locked();
  void start_write();
  /// Under mu_: true once (the caller then calls Finish) when the read side ended and no
  /// write is in flight.
  bool finish_now_locked();
  /// The call broke or the server ended it: no more reads; Finish once no write is out.
  void end_reads();
  /// Starts the next read / the Finish on whichever call this is.
  void start_read();
  void start_finish();
  /// Hands one result read to its PendingDecision (on_read, without mu_).
  void complete(gateway::v1::DecisionResult& result);

  grpc::ClientContext context_;
  bool batched_ = false;             // DecideBatches (batch_call_) or DecideStream (call_)
  std::unique_ptr<Call> call_;
  std::unique_ptr<BatchCall> batch_call_;
  gateway::v1::DecisionResult incoming_;  // the read in flight; only touched by on_read
  gateway::v1::DecisionResultBatch incoming_batch_;  // the same on DecideBatches
  grpc::Status status_;                   // filled by Finish
  std::shared_ptr<DecisionStream> self_;  // until on_finished
  std::atomic<bool> broken_{false};
  std::atomic<bool> finished_{false};
  Step started_{this, &DecisionStream::on_started};
  Step read_{this, &DecisionStream::on_read};
  Step written_{this, &DecisionStream::on_written};
  Step finish_{this, &DecisionStream::on_finished};

  std::mutex mu_;
  std::uint64_t next_call_id_ = 0;
  std::unordered_map<std::uint64_t, std::shared_ptr<PendingDecision>> pending_;
  std::deque<gateway::v1::DecisionCall> queued_;
  gateway::v1::DecisionCall current_;  // the write in flight (DecideStream)
  gateway::v1::DecisionCallBatch current_batch_;  // the write in flight (DecideBatches)
  bool more_after_current_ = false;
  bool call_started_ = false;  // StartCall completed: writes may start
  bool writing_ = false;
  bool reads_ended_ = false;
  bool finish_started_ = false;
};

}  // namespace gw::dataplane
