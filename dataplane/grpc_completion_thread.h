// The node's completion queue for its gRPC client calls (decisions) and the one thread
// that runs it.
#pragma once

#include <grpcpp/grpcpp.h>

#include "common/grpc/completion_thread.h"
#include "common/grpc/cq_step.h"

namespace gw::dataplane {

using common::CqStep;

/// A completion queue and the thread that calls Next() on it (common::CompletionThread,
/// named "grpc-decisions"): a decision's answer is read, matched and posted to the
/// session's executor by one thread, woken once. With gRPC's callback API (gRPC 1.51,
/// Debian 12) every completion instead went through gRPC's "nexting" threads: 3.4 thread
/// wake-ups and 74 µs of CPU per decision on the client side at 5,000 decisions/s
/// (tests/bench/README.md, session 6).
///
/// The owner must make sure no operation is started on cq() once shutdown() began, and
/// that every call using the queue has completed (TryCancel, then the call's last tag)
/// before shutdown(): gRPC aborts on an operation started on a queue that is shutting down.
class GrpcCompletionThread {
 public:
  /// Starts the thread.
  GrpcCompletionThread();
  /// shutdown() if not done yet.
  ~GrpcCompletionThread();
  GrpcCompletionThread(const GrpcCompletionThread&) = delete;
  GrpcCompletionThread& operator=(const GrpcCompletionThread&) = delete;

  [[nodiscard]] grpc::CompletionQueue* cq() { return &cq_; }
  /// Shuts the queue down, runs the steps of the operations still completing, and joins
  /// the thread. Idempotent; must not be called on the completion thread.
  void shutdown();

 private:
  grpc::CompletionQueue cq_;
  common::CompletionThread thread_{cq_, "grpc-decisions"};
  bool shut_down_ = false;
};

}  // namespace gw::dataplane
