// The completion queue of gctld's asynchronous gRPC services, the threads that run it and
// the count of call objects still using it.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "common/grpc/completion_thread.h"

namespace gw::controlplane {

/// gctld serves its streams (DecideStream, Watch, FollowAudit) and Decide on gRPC's
/// completion-queue API, run by threads of its own (common::CompletionThread, named
/// "grpc-cq"); its unary admin calls use the synchronous API. Nothing in gctld uses the
/// callback API: with one callback service in the process gRPC's "nexting" threads poll
/// the same sockets and a decision costs 104 µs of gctld CPU instead of 61 µs (echo
/// servers at 5,000 decisions/s, session 7, tests/bench/README.md).
///
/// Every call object (CqReactorBase) counts itself here from creation to destruction, so
/// shutdown() can let them all end before it shuts the queue down: gRPC aborts on an
/// operation started on a queue that is shutting down.
class CqServerQueue {
 public:
  /// Adds the queue to `builder` (before BuildAndStart).
  explicit CqServerQueue(grpc::ServerBuilder& builder);
  /// shutdown(0) if not done yet.
  ~CqServerQueue();
  CqServerQueue(const CqServerQueue&) = delete;
  CqServerQueue& operator=(const CqServerQueue&) = delete;

  [[nodiscard]] grpc::ServerCompletionQueue* cq() { return cq_.get(); }

  /// Starts `threads` (at least 1) completion threads; after the server was built.
  void start(std::size_t threads);

  /// Call-object bookkeeping (CqReactorBase's constructor and destructor).
  void call_created();
  void call_destroyed();

  /// After the server's Shutdown() (which cancels every call): waits up to `wait` for the
  /// call objects to end, shuts the queue down, runs what is left on it and joins the
  /// threads. Objects still alive after `wait` are logged; their later operations would
  /// abort the process, so the wait is generous. Idempotent; not on a completion thread.
  void shutdown(std::chrono::milliseconds wait);

 private:
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::vector<std::unique_ptr<common::CompletionThread>> threads_;
  std::mutex mu_;
  std::condition_variable calls_ended_;
  std::size_t live_calls_ = 0;
  bool shut_down_ = false;
};

}  // namespace gw::controlplane
