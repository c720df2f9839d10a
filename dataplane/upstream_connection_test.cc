// UpstreamConnection::open() against real loopback peers: how a connection attempt ends
// (socket_state.h: the connect is learnt from the banner's first read).
#include "dataplane/upstream_connection.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <optional>
#include <string>

#include "dataplane/socket_state.h"

namespace gw::dataplane {
namespace {

/// Runs `open(options)` on a fresh io_context; `peer` runs beside it on the same context.
/// `cancel_after` > 0 cancels the connection that long after the start (the session's
/// deadline does the same).
UpstreamFault run_open(asio::io_context& io, UpstreamConnection& up, const UpstreamOptions& options,
                       std::chrono::milliseconds cancel_after = std::chrono::milliseconds{0}) {
  std::optional<UpstreamFault> fault;
  SteadyTimer timer(io.get_executor());
  if (cancel_after.count() > 0) {
    timer.expires_after(cancel_after);
    timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) up.cancel();
    });
  }
  asio::co_spawn(io.get_executor(),
                 [&]() -> awaitable<void> {
                   fault = co_await up.open(options);
                   timer.cancel();
                 },
                 asio::detached);
  io.run_for(std::chrono::seconds(10));
  return fault.value_or(UpstreamFault::kTimeout);
}

UpstreamOptions options_for(const std::string& host, std::uint16_t port) {
  UpstreamOptions o;
  o.host = host;
  o.port = port;
  o.helo_domain = "relay.example";
  return o;
}

/// A port nothing listens on (bound, then closed).
std::uint16_t closed_port(asio::io_context& io) {
  Acceptor a(io.get_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto port = a.local_endpoint().port();
  a.close();
  return port;
}

TEST(UpstreamConnectionTest, RefusedConnectionIsAConnectFault) {
  asio::io_context io;
  UpstreamConnection up(io.get_executor());
  auto fault = run_open(io, up, options_for("127.0.0.1", closed_port(io)));
  EXPECT_EQ(fault, UpstreamFault::kConnect);
  EXPECT_NE(up.detail().find("refused"), std::string::npos) << up.detail();
  EXPECT_FALSE(up.is_open());
}

TEST(UpstreamConnectionTest, RefusedConnectionWithImplicitTlsIsAConnectFault) {
  asio::io_context io;
  UpstreamConnection up(io.get_executor());
  auto options = options_for("127.0.0.1", closed_port(io));
  options.security = gateway::v1::SECURITY_SSL;
  options.tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  EXPECT_EQ(run_open(io, up, options), UpstreamFault::kConnect);
  EXPECT_NE(up.detail().find("refused"), std::string::npos) << up.detail();
}

TEST(UpstreamConnectionTest, ClosedBeforeTheBannerIsClosedNotConnect) {
  asio::io_context io;
  Acceptor a(io.get_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  a.async_accept([](const boost::system::error_code&, Socket s) {
    boost::system::error_code ignored;
    s.close(ignored);
  });
  UpstreamConnection up(io.get_executor());
  EXPECT_EQ(run_open(io, up, options_for("127.0.0.1", a.local_endpoint().port())),
            UpstreamFault::kClosed);
}

TEST(UpstreamConnectionTest, SilentServerTimesOutWhenCancelled) {
  asio::io_context io;
  Acceptor a(io.get_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::optional<Socket> held;
  a.async_accept([&](const boost::system::error_code&, Socket s) { held.emplace(std::move(s)); });
  UpstreamConnection up(io.get_executor());
  EXPECT_EQ(run_open(io, up, options_for("127.0.0.1", a.local_endpoint().port()),
                     std::chrono::milliseconds{150}),
            UpstreamFault::kTimeout);
}

/// Greets, answers EHLO, records the first command line.
awaitable<void> greet_once(Acceptor& a, std::string& first_command) {
  Socket s = co_await a.async_accept(use_awaitable);
  co_await asio::async_write(s, asio::buffer(std::string_view("220 up ESMTP\r\n")), use_awaitable);
  std::string buf;
  std::size_t n =
      co_await asio::async_read_until(s, asio::dynamic_buffer(buf), "\r\n", use_awaitable);
  first_command = buf.substr(0, n - 2);
  co_await asio::async_write(s, asio::buffer(std::string_view("250-up\r\n250 SIZE 1000\r\n")),
                             use_awaitable);
  boost::system::error_code ignored;
  co_await s.async_wait(Socket::wait_read, asio::redirect_error(use_awaitable, ignored));
}

void expect_greeted(const std::string& address) {
  asio::io_context io;
  boost::system::error_code ec;
  Acceptor a(io.get_executor());
  const tcp::endpoint where(asio::ip::make_address(address), 0);
  a.open(where.protocol(), ec);
  if (!ec) a.bind(where, ec);
  if (ec) GTEST_SKIP() << "no " << address << " here: " << ec.message();
  a.listen();
  std::string first_command;
  asio::co_spawn(io.get_executor(), greet_once(a, first_command), asio::detached);
  UpstreamConnection up(io.get_executor());
  std::optional<UpstreamFault> fault;
  asio::co_spawn(io.get_executor(),
                 [&]() -> awaitable<void> {
                   fault = co_await up.open(options_for(address, a.local_endpoint().port()));
                   up.close();
                 },
                 asio::detached);
  io.run_for(std::chrono::seconds(10));
  ASSERT_TRUE(fault.has_value());
  EXPECT_EQ(*fault, UpstreamFault::kNone) << up.detail();
  EXPECT_EQ(first_command, "EHLO relay.example");
}

TEST(UpstreamConnectionTest, GreetsOverIpv4) { expect_greeted("127.0.0.1"); }
TEST(UpstreamConnectionTest, GreetsOverIpv6) { expect_greeted("::1"); }

TEST(UpstreamConnectionTest, ConnectErrorsAreToldFromLaterFailures) {
  auto sys = [](int e) { return boost::system::error_code(e, boost::system::system_category()); };
  EXPECT_TRUE(is_connect_error(sys(ECONNREFUSED)));
  EXPECT_TRUE(is_connect_error(sys(EHOSTUNREACH)));
  EXPECT_TRUE(is_connect_error(sys(ETIMEDOUT)));
  EXPECT_FALSE(is_connect_error(sys(ECONNRESET)));
  EXPECT_FALSE(is_connect_error(asio::error::eof));
  EXPECT_FALSE(is_connect_error(asio::error::operation_aborted));
}

TEST(UpstreamConnectionTest, SameUpstreamIgnoresOnlyTheEhloDomain) {
  UpstreamOptions a = options_for("mx.example.net", 25);
  UpstreamOptions b = a;
  b.helo_domain = "other.example";
  EXPECT_TRUE(same_upstream(a, b));
  auto differs = [&](auto change) {
    UpstreamOptions c = a;
    change(c);
    return !same_upstream(a, c);
  };
  EXPECT_TRUE(differs([](UpstreamOptions& c) { c.host = "mx2.example.net"; }));
  EXPECT_TRUE(differs([](UpstreamOptions& c) { c.port = 587; }));
  EXPECT_TRUE(differs([](UpstreamOptions& c) { c.security = gateway::v1::SECURITY_STARTTLS; }));
  EXPECT_TRUE(differs([](UpstreamOptions& c) {
    c.tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  }));
  EXPECT_TRUE(differs([](UpstreamOptions& c) { c.verify_hostname = false; }));
  EXPECT_TRUE(differs([](UpstreamOptions& c) { c.tls_server_name = "mx.example.org"; }));
  EXPECT_TRUE(differs([](UpstreamOptions& c) { c.username = "relay"; }));
  EXPECT_TRUE(differs([](UpstreamOptions& c) { c.password = "changed"; }));
}

}  // namespace
}  // namespace gw::dataplane
