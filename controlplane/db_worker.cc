// The DB thread.
#include "controlplane/db_worker.h"

#include <spdlog/spdlog.h>

#include <exception>

namespace gw::controlplane {

DbWorker::DbWorker() : thread_([this] { run(); }) {}

DbWorker::~DbWorker() { stop(); }

bool DbWorker::post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= kMaxQueued) return false;
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
  return true;
}

void DbWorker::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void DbWorker::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      task();
    } catch (const std::exception& e) {
      spdlog::error("db worker: task failed: {}", e.what());
    }
  }
}

}  // namespace gw::controlplane
