// grelayd's stop on SIGTERM/SIGINT in two steps, and SIGHUP ignored (RFC 5321 §3.8).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>

#include "dataplane/asio.h"
#include "dataplane/session_registry.h"

namespace gw::dataplane {

/// The node's answer to stop signals, on the io_context that runs its listeners.
///
/// First SIGTERM or SIGINT: `close_listeners` runs (no new sessions), every session in the
/// registry is asked to stop (idle ones answer `421 4.3.2` at once, busy ones after their
/// command: RelaySession::begin_drain), and the registry is polled every 20 ms. When it is
/// empty, or `drain_timeout` (ms) has passed, `stop_everything` runs once. A second stop
/// signal runs `stop_everything` at once. SIGHUP is logged and ignored: its default action
/// ended grelayd silently when the terminal that started it closed (probe round 40); the
/// configuration comes from the control plane, so there is nothing to reload.
///
/// Not thread-safe: construct, start() and destroy it on the io_context's thread. The
/// registry and the callbacks must outlive it. No exception leaves it.
class NodeStop {
 public:
  struct Actions {
    std::function<void()> close_listeners;  ///< stop accepting (posted where listeners live)
    std::function<void()> stop_everything;  ///< end the event loops; called at most once
  };
  NodeStop(asio::io_context& io, SessionRegistry& sessions,
           std::chrono::milliseconds drain_timeout, Actions actions);
  NodeStop(const NodeStop&) = delete;
  NodeStop& operator=(const NodeStop&) = delete;

  /// Starts waiting for SIGTERM, SIGINT and SIGHUP.
  void start();
  /// What a stop signal `signo` does (start() routes SIGTERM/SIGINT here; tests call it).
  void on_stop_signal(int signo);
  /// True once the first stop signal has come.
  [[nodiscard]] bool draining() const { return draining_; }
  /// True once stop_everything has run.
  [[nodiscard]] bool stopped() const { return stopped_; }

 private:
  using Clock = std::chrono::steady_clock;
  void wait_for_stop_signal();
  void wait_for_hangup();
  void poll_sessions();
  void stop_now();

  asio::signal_set stop_signals_;
  asio::signal_set hangup_;
  SteadyTimer poll_timer_;
  SessionRegistry& sessions_;
  std::chrono::milliseconds drain_timeout_;
  Actions actions_;
  Clock::time_point deadline_{};
  bool draining_ = false;
  bool stopped_ = false;
};

}  // namespace gw::dataplane
