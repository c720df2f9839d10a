// A thread that runs the steps of a gRPC completion queue.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>
#include <thread>

#include "common/grpc/cq_step.h"

namespace gw::common {

/// Calls Next() on `cq` and runs each completed operation's CqStep until the queue is shut
/// down and drained. The thread that waits in Next() also polls gRPC's sockets, so an
/// incoming message is read, handled and answered by one thread, woken once (gRPC 1.51's
/// callback API instead hands every completion to its own "nexting" threads: about 40 µs
/// more CPU per decision at 5,000 decisions/s, tests/bench/README.md).
///
/// The queue belongs to the caller and must outlive join(); the caller shuts it down.
class CompletionThread {
 public:
  /// Starts the thread, named `name` (at most 15 characters are kept, Linux).
  CompletionThread(grpc::CompletionQueue& cq, const std::string& name);
  /// join().
  ~CompletionThread();
  CompletionThread(const CompletionThread&) = delete;
  CompletionThread& operator=(const CompletionThread&) = delete;

  /// Waits for the thread to end: returns once the queue was shut down and every
  /// operation's step has run. Idempotent; never call it on the thread itself.
  void join();

 private:
  std::thread thread_;
};

}  // namespace gw::common
