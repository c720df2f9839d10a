// A fixed set of threads fed through one bounded task queue.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gw::controlplane {

/// Runs tasks on `threads` threads of its own, in posting order (with one thread: one at a
/// time, in order). Used for SQLite work (DbWorker: one thread owns the connection) and for
/// decisions too slow for a gRPC callback thread (Argon2id verifications). Thread-safe.
class WorkerPool {
 public:
  /// Starts `threads` (>= 1) threads; at most `max_queued` tasks wait at once.
  WorkerPool(std::size_t threads, std::size_t max_queued);
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  /// stop().
  ~WorkerPool();

  /// Queues `task`. Returns false, without running it, when stopped or the queue is full
  /// (back-pressure instead of unbounded memory); the caller then answers UNAVAILABLE. A
  /// task that throws is logged and dropped.
  bool post(std::function<void()> task);

  /// Refuses new tasks, runs those already queued, joins the threads. Idempotent; must not
  /// be called from a task.
  void stop();

 private:
  void run();

  const std::size_t max_queued_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace gw::controlplane
