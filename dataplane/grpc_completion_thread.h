// One thread that polls a gRPC completion queue and runs each completed operation's step:
// the relay node's gRPC client calls (decisions) on the asynchronous completion-queue API.
#pragma once

#include <grpcpp/grpcpp.h>

#include <thread>

namespace gw::dataplane {

/// What a completion-queue tag points to: the step to run when its operation completed.
/// Every tag given to GrpcCompletionThread::cq() must be a CqStep*.
class CqStep {
 public:
  /// Runs on the completion thread. `ok` is gRPC's per-operation success flag (false: the
  /// call broke, was cancelled, or a read found the end of the stream).
  virtual void done(bool ok) = 0;

 protected:
  ~CqStep() = default;
};

/// A completion queue and the thread that calls Next() on it. The thread that waits in
/// Next() also polls the channel's socket, so a decision's answer is read, matched and
/// posted to the session's executor by one thread, woken once. With gRPC's callback API
/// (gRPC 1.51, Debian 12) every completion instead went through gRPC's "nexting" threads:
/// 3.4 thread wake-ups and 74 µs of CPU per decision on the client side at 5,000
/// decisions/s (tests/bench/README.md, session 6).
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
  void run();

  grpc::CompletionQueue cq_;
  std::thread thread_;
  bool shut_down_ = false;
};

}  // namespace gw::dataplane
