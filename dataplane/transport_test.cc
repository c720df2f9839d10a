// Transport::read_some and peer_spoke_or_left over plain TCP on real loopback connections:
// the reads that wait for epoll's report instead of trying a recv() first (socket_state.h,
// mark_read_drained) must never miss octets, an urgent mark, a FIN or a reset.
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

/// Runs one read_some of up to `capacity` octets on `pair.io` and returns what it read;
/// nullopt if it did not complete in 5 s (the caller's test then ends at once).
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

TEST(TransportReadTest, EmptySocketMakesTheReadWaitForEpollWithoutTryingAgain) {
  Pair pair;
  std::thread late([&] {
    std::this_thread::sleep_for(100ms);
    pair.send("EHLO c.example\r\n");
  });
  auto first = read_once(pair, 4096);
  late.join();
  ASSERT_TRUE(first) << "a read that waits for epoll's report never completed";
  EXPECT_FALSE(first->ec) << first->ec.message();
  EXPECT_EQ(first->data, "EHLO c.example\r\n");
  if (!tracks_reported_input()) return;
  EXPECT_TRUE(first->waited);
  // The report that completed the read stays: the next read tries a recv() first.
  EXPECT_TRUE(input_reported(pair.server->socket()));
  pair.send("QUIT\r\n");
  std::this_thread::sleep_for(20ms);
  auto second = read_once(pair, 4096);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->data, "QUIT\r\n");
  EXPECT_FALSE(second->waited) << "the octets were there: one recv(), no wait";
}

TEST(TransportReadTest, FullReadLeavesTheRestToTheNextRead) {
  Pair pair;
  pair.send("0123456789");
  std::this_thread::sleep_for(20ms);
  auto first = read_once(pair, 4);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->data, "0123");
  auto rest = read_once(pair, 64);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->data, "456789");
  EXPECT_FALSE(rest->waited);
}

// Probe round 53: recv() stops at an urgent mark, so a read returns less than asked while
// octets are still queued, and no new epoll report comes for them. The second NOOP must be
// read at once, not at the idle timeout.
TEST(TransportReadTest, OctetsAfterAnUrgentMarkAreRead) {
  Pair pair;
  const std::string before = "NOOP\r\n";
  pair.peer.send(asio::buffer(before));
  const char urgent = 'X';
  pair.peer.send(asio::buffer(&urgent, 1), asio::socket_base::message_out_of_band);
  pair.send("NOOP\r\n");
  std::this_thread::sleep_for(20ms);
  std::string got;
  for (int i = 0; i < 3 && got.size() < 12; ++i) {
    auto r = read_once(pair, 4096);
    ASSERT_TRUE(r) << "octets after the urgent mark were never read (got \"" << got << "\")";
    ASSERT_FALSE(r->ec) << r->ec.message();
    got += r->data;
  }
  EXPECT_EQ(got, "NOOP\r\nNOOP\r\n");
}

// Probe round 54: FIONREAD counts only up to a pending urgent mark, so "DATA" CRLF, an urgent
// octet and the content looked like nothing sent after DATA (BR-23). The look past the mark
// sees the content; an urgent octet alone is no octet.
TEST(TransportReadTest, OctetsBehindAnUrgentOctetAreSeenBeforeTheyAreRead) {
  Pair pair;
  pair.send("DATA\r\n");
  const char urgent = 'X';
  pair.peer.send(asio::buffer(&urgent, 1), asio::socket_base::message_out_of_band);
  pair.send("Subject: stuffed\r\n");
  std::this_thread::sleep_for(20ms);
  auto command = read_once(pair, 4096);
  ASSERT_TRUE(command);
  EXPECT_EQ(command->data, "DATA\r\n");  // the read stops at the urgent mark
  InputBuffer input(64);
  EXPECT_TRUE(pair.server->socket_has_octets());
  EXPECT_TRUE(pair.server->unread_data(input));

  Pair lone;
  lone.send("NOOP\r\n");
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(read_once(lone, 4096));
  lone.peer.send(asio::buffer(&urgent, 1), asio::socket_base::message_out_of_band);
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(lone.server->socket_has_octets());
  EXPECT_FALSE(lone.server->unread_data(input));
}

// Probe round 53: octets and the peer's FIN read by one recv() (the FIN is consumed with
// them, the next recv() returns 0 at once, and epoll reports nothing new). The end must be
// seen at once, by the next read and by peer_spoke_or_left.
TEST(TransportReadTest, FinThatCameWithTheOctetsIsSeen) {
  for (bool look_first : {false, true}) {
    SCOPED_TRACE(look_first ? "peer_spoke_or_left first" : "read first");
    Pair pair;
    pair.send("250 2.0.0 queued\r\n");
    pair.peer.shutdown(asio::socket_base::shutdown_send);
    std::this_thread::sleep_for(20ms);
    auto data = read_once(pair, 4096);
    ASSERT_TRUE(data);
    EXPECT_EQ(data->data, "250 2.0.0 queued\r\n");
    InputBuffer scratch(64);
    if (look_first) {
      EXPECT_TRUE(pair.server->peer_spoke_or_left(scratch));
    }
    auto end = read_once(pair, 4096);
    ASSERT_TRUE(end) << "the FIN was never seen";
    EXPECT_EQ(end->ec, asio::error::eof) << end->ec.message();
    if (!look_first) {
      EXPECT_TRUE(pair.server->peer_spoke_or_left(scratch));
    }
  }
}

TEST(TransportReadTest, FinAndResetOfAnIdlePeerAreSeen) {
  for (bool reset : {false, true}) {
    SCOPED_TRACE(reset ? "reset" : "FIN");
    Pair pair;
    pair.send("250 ok\r\n");
    std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(read_once(pair, 4096));
    InputBuffer scratch(64);
    EXPECT_FALSE(pair.server->peer_spoke_or_left(scratch));  // found empty: drained
    if (reset) pair.peer.set_option(asio::socket_base::linger(true, 0));
    pair.peer.close();
    std::this_thread::sleep_for(20ms);
    EXPECT_TRUE(pair.server->peer_spoke_or_left(scratch));
    auto end = read_once(pair, 4096);
    ASSERT_TRUE(end);
    EXPECT_TRUE(end->ec) << "the read must report the end";
    EXPECT_TRUE(end->data.empty());
  }
}

TEST(TransportReadTest, PeerThatSpokeUnaskedIsSeenAndItsOctetsKept) {
  Pair pair;
  pair.send("250 ok\r\n");
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(read_once(pair, 4096));
  InputBuffer input(64);
  EXPECT_FALSE(pair.server->peer_spoke_or_left(input));
  EXPECT_TRUE(input.empty());
  pair.send("421 4.4.2 closing\r\n");
  std::this_thread::sleep_for(20ms);  // no reactor run: the look itself must find it
  EXPECT_TRUE(pair.server->peer_spoke_or_left(input));
  if (tracks_reported_input()) {
    EXPECT_EQ(input.data(), "421 4.4.2 closing\r\n");
  }
  // After a look that found nothing, a read waits for epoll and still gets later octets.
  InputBuffer empty(64);
  pair.send("x");
  ASSERT_TRUE(read_once(pair, 4096));
  EXPECT_FALSE(pair.server->peer_spoke_or_left(empty));
  std::thread late([&] {
    std::this_thread::sleep_for(50ms);
    pair.send("250 later\r\n");
  });
  auto later = read_once(pair, 4096);
  late.join();
  ASSERT_TRUE(later);
  EXPECT_EQ(later->data, "250 later\r\n");
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
      if (r() % 40 == 0) {  // an urgent octet now and then: no part of the stream
        const char urgent = '!';
        pair.peer.send(asio::buffer(&urgent, 1), asio::socket_base::message_out_of_band);
      }
      if (r() % 2 == 0) std::this_thread::sleep_for(std::chrono::microseconds(r() % 200));
    }
    pair.peer.shutdown(asio::socket_base::shutdown_send);  // the FIN right behind the last octets
  });
  std::string received;
  bool done = false;
  boost::system::error_code failure;
  asio::co_spawn(
      pair.io.get_executor(),
      [&]() -> awaitable<void> {
        std::mt19937 r(11);
        std::string buffer(8192, '\0');
        while (true) {
          const std::size_t capacity = (r() % 2 == 0) ? 1 + r() % 64 : buffer.size();
          boost::system::error_code ec;
          const std::size_t n = co_await pair.server->read_some(asio::buffer(buffer.data(), capacity), ec);
          if (ec) {
            if (ec != asio::error::eof) failure = ec;
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
                    << " octets (or before the FIN)";
  EXPECT_FALSE(failure) << failure.message();
  EXPECT_EQ(received.size(), sent.size());
  EXPECT_TRUE(received == sent) << "octets differ";
}

TEST(TransportReadTest, NoOctetIsLostAcrossRandomArrivals) { expect_every_octet(false); }

TEST(TransportReadTest, NoOctetIsLostWithAnErrorWatchArmed) { expect_every_octet(true); }

}  // namespace
}  // namespace gw::dataplane
