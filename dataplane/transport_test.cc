// Transport::read_some over plain TCP on real loopback connections: the reads that wait for
// the reactor instead of trying a recv() first (socket_state.h, mark_read_drained) must never
// miss octets, a FIN or a reset, and input_since_drained() must report what arrived.
#include "dataplane/transport.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "dataplane/socket_state.h"

namespace gw::dataplane {
namespace {

using namespace std::chrono_literals;

/// A connected loopback pair: `server` wrapped in a Transport on `io`, `peer` a plain socket
/// (blocking) on its own io_context, written to directly.
struct Pair {
  asio::io_context io;
  asio::io_context peer_io;
  std::optional<Transport> server;
  Socket peer{peer_io.get_executor()};

  Pair() {
    Acceptor acceptor(io.get_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    peer.connect(acceptor.local_endpoint());
    Socket accepted(io.get_executor());
    acceptor.accept(accepted);
    server.emplace(std::move(accepted));
  }

  void send(std::string_view text) { asio::write(peer, asio::buffer(text.data(), text.size())); }
};

/// Runs one read_some of up to `capacity` octets on `pair.io` (with `before` run on the same
/// context first, if any) and returns what it read; nullopt if it did not complete in 5 s.
struct ReadResult {
  std::string data;
  boost::system::error_code ec;
  bool waited = false;
};
std::optional<ReadResult> read_once(Pair& pair, std::size_t capacity) {
  std::optional<ReadResult> result;
  std::string buffer(capacity, '\0');
  asio::co_spawn(pair.io.get_executor(),
                 [&]() -> awaitable<void> {
                   ReadResult r;
                   const std::size_t n =
                       co_await pair.server->read_some(asio::buffer(buffer), r.ec);
                   r.data.assign(buffer.data(), n);
                   r.waited = pair.server->last_read_waited();
                   result = std::move(r);
                 },
                 asio::detached);
  pair.io.restart();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!result && std::chrono::steady_clock::now() < deadline) pair.io.run_for(50ms);
  return result;
}

/// Lets the reactor look at the sockets (epoll_wait) and run what it found.
void let_reactor_run(Pair& pair) {
  std::this_thread::sleep_for(20ms);  // loopback delivery is synchronous; margin for the VM
  // With no work outstanding, poll() would return before the reactor looks at anything.
  auto work = asio::make_work_guard(pair.io);
  pair.io.restart();
  for (int i = 0; i < 3; ++i) pair.io.poll();
}

TEST(TransportReadTest, ShortReadLeavesNothingReportedUntilThePeerSendsAgain) {
  if (!tracks_reported_input()) GTEST_SKIP() << "Asio's reactor is not the one socket_state knows";
  Pair pair;
  pair.send("MAIL FROM:<a@example.com>\r\n");
  std::this_thread::sleep_for(20ms);
  auto first = read_once(pair, 4096);
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->ec) << first->ec.message();
  EXPECT_EQ(first->data, "MAIL FROM:<a@example.com>\r\n");
  EXPECT_FALSE(pair.server->input_since_drained());

  pair.send("RCPT TO:<b@example.org>\r\n");
  let_reactor_run(pair);
  EXPECT_TRUE(pair.server->input_since_drained());
  auto second = read_once(pair, 4096);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->data, "RCPT TO:<b@example.org>\r\n");
  EXPECT_FALSE(second->waited) << "the octets were there: one recv(), no wait";
  EXPECT_FALSE(pair.server->input_since_drained());
}

TEST(TransportReadTest, FullReadKeepsInputReported) {
  if (!tracks_reported_input()) GTEST_SKIP() << "Asio's reactor is not the one socket_state knows";
  Pair pair;
  pair.send("0123456789");
  std::this_thread::sleep_for(20ms);
  auto first = read_once(pair, 4);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->data, "0123");
  // The buffer was full: more may be waiting, so nothing is assumed.
  EXPECT_TRUE(pair.server->input_since_drained());
  auto rest = read_once(pair, 64);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->data, "456789");
}

TEST(TransportReadTest, ReadAfterDrainWaitsForTheReactorAndGetsLaterOctets) {
  Pair pair;
  pair.send("EHLO c.example\r\n");
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(read_once(pair, 4096));
  std::thread late([&] {
    std::this_thread::sleep_for(100ms);
    pair.send("QUIT\r\n");
  });
  auto next = read_once(pair, 4096);
  late.join();
  ASSERT_TRUE(next) << "a read that waits for epoll's report never completed";
  EXPECT_EQ(next->data, "QUIT\r\n");
  if (tracks_reported_input()) {
    EXPECT_TRUE(next->waited);
  }
}

TEST(TransportReadTest, FinAndResetAfterDrainAreReportedAndRead) {
  for (bool reset : {false, true}) {
    SCOPED_TRACE(reset ? "reset" : "FIN");
    Pair pair;
    pair.send("NOOP\r\n");
    std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(read_once(pair, 4096));
    if (reset) pair.peer.set_option(asio::socket_base::linger(true, 0));
    pair.peer.close();
    let_reactor_run(pair);
    EXPECT_TRUE(pair.server->input_since_drained());
    InputBuffer scratch(64);
    EXPECT_TRUE(pair.server->peer_spoke_or_left(scratch));
    auto end = read_once(pair, 4096);
    ASSERT_TRUE(end);
    EXPECT_TRUE(end->ec) << "the read must report the end";
    EXPECT_TRUE(end->data.empty());
  }
}

TEST(TransportReadTest, QuietPeerIsNotTakenForOneThatSpoke) {
  Pair pair;
  pair.send("250 ok\r\n");
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(read_once(pair, 4096));
  let_reactor_run(pair);
  InputBuffer scratch(64);
  EXPECT_FALSE(pair.server->peer_spoke_or_left(scratch));
  pair.send("421 closing\r\n");
  let_reactor_run(pair);
  EXPECT_TRUE(pair.server->peer_spoke_or_left(scratch));
}

// Octets sent in many small writes at random moments, read with small and large buffers and
// with other work queued between reads: every octet arrives, in order, and no read is left
// waiting for a readiness report the reactor already consumed. `watch_errors`: a wait_error
// stays armed on the socket meanwhile, as a relay session's client watch does (Asio then
// re-arms epoll for each read instead of trying it).
void expect_every_octet(bool watch_errors) {
  Pair pair;
  if (watch_errors) {
    pair.server->socket().async_wait(Socket::wait_error, [](const boost::system::error_code&) {});
  }
  constexpr std::size_t kTotal = 200000;
  std::string sent;
  sent.reserve(kTotal);
  std::mt19937 random(20261202);
  for (std::size_t i = 0; i < kTotal; ++i) sent.push_back(static_cast<char>('a' + random() % 26));
  std::thread writer([&] {
    std::mt19937 r(7);
    std::size_t at = 0;
    while (at < sent.size()) {
      const std::size_t n = std::min<std::size_t>(1 + r() % 600, sent.size() - at);
      pair.send(std::string_view(sent).substr(at, n));
      at += n;
      if (r() % 2 == 0) std::this_thread::sleep_for(std::chrono::microseconds(r() % 200));
    }
  });
  std::string received;
  bool done = false;
  boost::system::error_code failure;
  asio::co_spawn(
      pair.io.get_executor(),
      [&]() -> awaitable<void> {
        std::mt19937 r(11);
        std::string buffer(8192, '\0');
        while (received.size() < kTotal) {
          const std::size_t capacity = (r() % 2 == 0) ? 1 + r() % 64 : buffer.size();
          boost::system::error_code ec;
          const std::size_t n = co_await pair.server->read_some(asio::buffer(buffer.data(), capacity), ec);
          if (ec) {
            failure = ec;
            break;
          }
          received.append(buffer.data(), n);
          // Other handlers (and reactor runs) between reads, as in a busy event loop.
          if (r() % 3 == 0) co_await asio::post(pair.io.get_executor(), use_awaitable);
        }
        done = true;
        pair.server->cancel();  // the wait_error, if any
      },
      asio::detached);
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!done && std::chrono::steady_clock::now() < deadline) pair.io.run_for(50ms);
  writer.join();
  ASSERT_TRUE(done) << "reading stalled after " << received.size() << " of " << kTotal
                    << " octets";
  EXPECT_FALSE(failure) << failure.message();
  EXPECT_EQ(received.size(), sent.size());
  EXPECT_TRUE(received == sent) << "octets differ";
}

TEST(TransportReadTest, NoOctetIsLostAcrossRandomArrivals) { expect_every_octet(false); }

TEST(TransportReadTest, NoOctetIsLostWithAnErrorWatchArmed) { expect_every_octet(true); }

}  // namespace
}  // namespace gw::dataplane
