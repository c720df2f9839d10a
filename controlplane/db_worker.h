// The single thread that owns the SQLite connection, fed through a bounded task queue.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace gw::controlplane {

/// Runs tasks one at a time, in posting order, on its own thread, so SQLite work (and the
/// fsync of each commit) never runs on a gRPC thread. Thread-safe.
class DbWorker {
 public:
  /// Tasks queued beyond this are refused (post() returns false): back-pressure instead of
  /// unbounded memory when the disk stalls.
  static constexpr std::size_t kMaxQueued = 4096;

  DbWorker();
  DbWorker(const DbWorker&) = delete;
  DbWorker& operator=(const DbWorker&) = delete;
  /// stop().
  ~DbWorker();

  /// Queues `task`. Returns false, without running it, when stopped or the queue is full;
  /// the caller then answers UNAVAILABLE. A task that throws is logged and dropped.
  bool post(std::function<void()> task);

  /// Refuses new tasks, runs those already queued, joins the thread. Idempotent; must not
  /// be called from a task.
  void stop();

 private:
  void run();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace gw::controlplane
