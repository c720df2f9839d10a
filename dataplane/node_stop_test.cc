// NodeStop: grelayd's two-step stop on SIGTERM/SIGINT (RFC 5321 §3.8) and SIGHUP ignored.
#include "dataplane/node_stop.h"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdint>

namespace gw::dataplane {
namespace {

using std::chrono::milliseconds;

struct Counts {
  int listeners_closed = 0;
  int stopped = 0;
};

NodeStop::Actions counting(Counts& counts) {
  return {.close_listeners = [&counts] { ++counts.listeners_closed; },
          .stop_everything = [&counts] { ++counts.stopped; }};
}

TEST(NodeStop, FirstSignalClosesListenersAsksSessionsAndWaitsForThem) {
  asio::io_context io;
  SessionRegistry sessions;
  int asked = 0;
  const std::uint64_t busy = sessions.add([&] { ++asked; });
  const std::uint64_t idle = sessions.add([&] { ++asked; });
  Counts counts;
  NodeStop stop(io, sessions, milliseconds(10000), counting(counts));
  stop.on_stop_signal(SIGTERM);
  EXPECT_TRUE(stop.draining());
  EXPECT_EQ(counts.listeners_closed, 1);
  EXPECT_EQ(asked, 2) << "every session is asked to stop";
  sessions.remove(idle);
  io.run_for(milliseconds(100));
  EXPECT_EQ(counts.stopped, 0) << "a session is still finishing its command";
  sessions.remove(busy);
  io.run_for(milliseconds(100));
  EXPECT_EQ(counts.stopped, 1) << "the last session gone ends the node";
  EXPECT_TRUE(stop.stopped());
  int late = 0;
  sessions.add([&] { ++late; });
  EXPECT_EQ(late, 1) << "a session accepted during the stop is asked at once";
}

TEST(NodeStop, DrainTimeoutCutsSessionsThatDoNotFinish) {
  asio::io_context io;
  SessionRegistry sessions;
  sessions.add([] {});
  Counts counts;
  NodeStop stop(io, sessions, milliseconds(60), counting(counts));
  const auto began = std::chrono::steady_clock::now();
  stop.on_stop_signal(SIGINT);
  io.run_for(milliseconds(30));
  EXPECT_EQ(counts.stopped, 0) << "the drain timeout has not passed yet";
  io.run_for(milliseconds(500));
  EXPECT_EQ(counts.stopped, 1);
  EXPECT_GE(std::chrono::steady_clock::now() - began, milliseconds(60));
  stop.on_stop_signal(SIGTERM);
  EXPECT_EQ(counts.stopped, 1) << "stop_everything runs once";
}

TEST(NodeStop, SecondSignalStopsAtOnce) {
  asio::io_context io;
  SessionRegistry sessions;
  sessions.add([] {});
  Counts counts;
  NodeStop stop(io, sessions, milliseconds(10000), counting(counts));
  stop.on_stop_signal(SIGTERM);
  EXPECT_EQ(counts.stopped, 0);
  stop.on_stop_signal(SIGTERM);
  EXPECT_EQ(counts.stopped, 1);
  EXPECT_EQ(counts.listeners_closed, 1) << "listeners are closed once";
}

TEST(NodeStop, RealSignalsHangupIgnoredTermDrains) {
  asio::io_context io;
  SessionRegistry sessions;
  Counts counts;
  NodeStop stop(io, sessions, milliseconds(10000), counting(counts));
  stop.start();
  ASSERT_EQ(std::raise(SIGHUP), 0);
  io.run_for(milliseconds(100));
  EXPECT_FALSE(stop.draining()) << "SIGHUP neither stops nor kills the node";
  ASSERT_EQ(std::raise(SIGTERM), 0);
  io.run_for(milliseconds(200));
  EXPECT_TRUE(stop.draining());
  EXPECT_EQ(counts.listeners_closed, 1);
  EXPECT_EQ(counts.stopped, 1) << "no session: the node stops as soon as it is asked";
}

}  // namespace
}  // namespace gw::dataplane
