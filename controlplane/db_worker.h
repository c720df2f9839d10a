// The single thread that owns the SQLite connection, fed through a bounded task queue.
#pragma once

#include <cstddef>

#include "controlplane/worker_pool.h"

namespace gw::controlplane {

/// One worker thread, so SQLite work (and the fsync of each commit) never runs on a gRPC
/// thread and the connection is used by one thread only. Thread-safe (WorkerPool).
class DbWorker : public WorkerPool {
 public:
  /// Tasks queued beyond this are refused (post() returns false): back-pressure instead of
  /// unbounded memory when the disk stalls.
  static constexpr std::size_t kMaxQueued = 4096;

  DbWorker() : WorkerPool(1, kMaxQueued) {}
};

}  // namespace gw::controlplane
