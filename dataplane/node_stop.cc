#include "dataplane/node_stop.h"

#include <spdlog/spdlog.h>

#include <csignal>
#include <utility>

namespace gw::dataplane {

NodeStop::NodeStop(asio::io_context& io, SessionRegistry& sessions,
                   std::chrono::milliseconds drain_timeout, Actions actions)
    : stop_signals_(io),
      hangup_(io),
      poll_timer_(io.get_executor()),
      sessions_(sessions),
      drain_timeout_(drain_timeout),
      actions_(std::move(actions)) {}

void NodeStop::start() {
  stop_signals_.add(SIGINT);
  stop_signals_.add(SIGTERM);
  hangup_.add(SIGHUP);
  wait_for_stop_signal();
  wait_for_hangup();
}

void NodeStop::wait_for_stop_signal() {
  stop_signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    on_stop_signal(signo);
    if (!stopped_) wait_for_stop_signal();
  });
}

void NodeStop::wait_for_hangup() {
  hangup_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    spdlog::info("grelayd: SIGHUP ignored (the configuration comes from the control plane)");
    wait_for_hangup();
  });
}

void NodeStop::on_stop_signal(int signo) {
  if (stopped_) return;
  if (draining_) {
    spdlog::info("grelayd: signal {} again, stopping now", signo);
    stop_now();
    return;
  }
  draining_ = true;
  spdlog::info("grelayd: signal {}, stopping: {} session(s) to finish", signo, sessions_.size());
  deadline_ = Clock::now() + drain_timeout_;
  if (actions_.close_listeners) actions_.close_listeners();
  sessions_.drain_all();
  poll_sessions();
}

void NodeStop::poll_sessions() {
  if (stopped_) return;
  const std::size_t left = sessions_.size();
  if (left == 0 || Clock::now() >= deadline_) {
    if (left != 0) {
      spdlog::warn("grelayd: {} session(s) still running after --drain-timeout, cut off", left);
    }
    stop_now();
    return;
  }
  poll_timer_.expires_after(std::chrono::milliseconds(20));
  poll_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) poll_sessions();
  });
}

void NodeStop::stop_now() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  stop_signals_.cancel(ignored);
  hangup_.cancel(ignored);
  poll_timer_.cancel();
  if (actions_.stop_everything) actions_.stop_everything();
}

}  // namespace gw::dataplane
