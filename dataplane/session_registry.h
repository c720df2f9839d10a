// The node's running sessions, for a graceful stop (RFC 5321 §3.8: a server that shuts
// down SHOULD answer 421 before it closes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <utility>

namespace gw::dataplane {

/// The sessions of one grelayd, each as the function that asks it to stop (the session
/// posts the request to its own executor). Thread-safe: sessions of every thread add and
/// remove themselves; drain_all() runs on the signal handler's thread. On SIGTERM grelayd
/// closes its listeners, calls drain_all(), and waits until size() is 0 or its drain
/// timeout has passed (probe round 40: SIGTERM dropped every session without a reply, and
/// transactions waiting for the upstream's answer to the end of data were cut off).
class SessionRegistry {
 public:
  /// Registers a session by the function that asks it to stop; returns its ticket for
  /// remove(). If drain_all() has already run, `request_stop` is called at once.
  std::uint64_t add(std::function<void()> request_stop) {
    std::unique_lock lock(mutex_);
    const std::uint64_t ticket = ++next_ticket_;
    if (draining_) {
      lock.unlock();
      request_stop();
      lock.lock();
    }
    sessions_.emplace(ticket, std::move(request_stop));
    return ticket;
  }
  /// Forgets a session (it has ended).
  void remove(std::uint64_t ticket) {
    std::lock_guard lock(mutex_);
    sessions_.erase(ticket);
  }
  /// Asks every registered session, and every one added later, to stop.
  void drain_all() {
    std::map<std::uint64_t, std::function<void()>> now;
    {
      std::lock_guard lock(mutex_);
      draining_ = true;
      now = sessions_;
    }
    for (auto& [ticket, request_stop] : now) request_stop();
  }
  /// Sessions still running.
  [[nodiscard]] std::size_t size() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::uint64_t, std::function<void()>> sessions_;
  std::uint64_t next_ticket_ = 0;
  bool draining_ = false;
};

}  // namespace gw::dataplane
