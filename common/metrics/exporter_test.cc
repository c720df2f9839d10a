// Tests of the /metrics HTTP endpoint over real loopback sockets.
#include "common/metrics/exporter.h"

// clang-format off
#include <utility>
#include <boost/asio.hpp>
// clang-format on

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace gw::metrics {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

/// Sends `request` as is and returns everything the server sends until it closes.
std::string exchange(std::uint16_t port, const std::string& request) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(socket, asio::buffer(request));
  std::string response;
  boost::system::error_code ec;
  char buf[4096];
  for (;;) {
    const std::size_t n = socket.read_some(asio::buffer(buf), ec);
    if (ec) break;
    response.append(buf, n);
  }
  return response;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class MetricsExporterTest : public ::testing::Test {
 protected:
  std::atomic<int> renders{0};
  MetricsExporter exporter{"127.0.0.1:0", [this] {
                             ++renders;
                             return "# HELP up Up.\n# TYPE up gauge\nup " +
                                    std::to_string(renders.load()) + "\n";
                           }};
};

TEST_F(MetricsExporterTest, GetMetricsRendersFreshText) {
  ASSERT_NE(exporter.port(), 0);
  EXPECT_EQ(exporter.url(), "http://127.0.0.1:" + std::to_string(exporter.port()) + "/metrics");
  const std::string r1 =
      exchange(exporter.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r1.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r1;
  EXPECT_NE(r1.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos);
  EXPECT_NE(r1.find("\r\n\r\n# HELP up Up.\n# TYPE up gauge\nup 1\n"), std::string::npos) << r1;
  const std::string r2 = exchange(
      exporter.port(), "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(r2.find("\nup 2\n"), std::string::npos) << r2;
}

TEST_F(MetricsExporterTest, HeadHasTheLengthButNoBody) {
  const std::string r =
      exchange(exporter.port(), "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Length: 35\r\n"), std::string::npos) << r;
  EXPECT_EQ(r.substr(r.find("\r\n\r\n") + 4), "");
}

TEST_F(MetricsExporterTest, OtherPathsMethodsAndGarbage) {
  const std::string missing =
      exchange(exporter.port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(missing.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << missing;
  const std::string post = exchange(
      exporter.port(), "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                       "Connection: close\r\n\r\n");
  EXPECT_EQ(post.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u) << post;
  EXPECT_NE(post.find("Allow: GET, HEAD\r\n"), std::string::npos);
  const std::string garbage = exchange(exporter.port(), "EHLO example.org\r\n\r\n");
  EXPECT_EQ(garbage.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << garbage;
  // Headers over 8 KiB are refused, not buffered.
  const std::string huge = exchange(
      exporter.port(), "GET /metrics HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_EQ(huge.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
  EXPECT_EQ(renders.load(), 0);  // none of them rendered the metrics
}

TEST_F(MetricsExporterTest, AbsoluteFormAndExpectContinue) {
  // RFC 9112 §3.2.2: servers accept the absolute form (probe round 33: 404).
  const std::string absolute = exchange(
      exporter.port(),
      "GET http://127.0.0.1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(absolute.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << absolute;
  const std::string other = exchange(
      exporter.port(), "GET http://127.0.0.1/other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(other.rfind("HTTP/1.1 404", 0), 0u) << other;
  // RFC 9110 §10.1.1: the final status at once, not after a 10 s wait for the body.
  const auto started = std::chrono::steady_clock::now();
  const std::string post = exchange(
      exporter.port(), "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                       "Expect: 100-continue\r\n\r\n");
  EXPECT_EQ(post.rfind("HTTP/1.1 405", 0), 0u) << post;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST_F(MetricsExporterTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  const std::string r =
      exchange(exporter.port(),
               "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(count(r, "HTTP/1.1 200 OK\r\n"), 2u) << r;
  EXPECT_EQ(renders.load(), 2);
}

TEST_F(MetricsExporterTest, ConnectionsBeyondTheCapAreClosed) {
  asio::io_context io;
  std::vector<tcp::socket> idle;
  for (std::size_t i = 0; i < MetricsExporter::kMaxConnections; ++i) {
    idle.emplace_back(io).connect({asio::ip::make_address("127.0.0.1"), exporter.port()});
  }
  // The next one is accepted and closed at once: no reply, EOF.
  const std::string r =
      exchange(exporter.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r, "");
  idle.clear();
  // Once the idle ones are gone, scrapes work again.
  std::string ok;
  for (int i = 0; i < 50 && ok.empty(); ++i) {
    ok = exchange(exporter.port(),
                  "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  }
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
}

TEST(MetricsExporterAddress, BadAddressesThrow) {
  auto render = [] { return std::string(); };
  EXPECT_THROW(MetricsExporter("localhost:9100", render), std::runtime_error);
  EXPECT_THROW(MetricsExporter("127.0.0.1", render), std::runtime_error);
  EXPECT_THROW(MetricsExporter("127.0.0.1:70000", render), std::runtime_error);
  EXPECT_THROW(MetricsExporter("127.0.0.1:x", render), std::runtime_error);
  MetricsExporter v6("[::1]:0", render);
  EXPECT_NE(v6.port(), 0);
  EXPECT_EQ(v6.url(), "http://[::1]:" + std::to_string(v6.port()) + "/metrics");
  MetricsExporter first("127.0.0.1:0", render);
  EXPECT_THROW(MetricsExporter("127.0.0.1:" + std::to_string(first.port()), render),
               std::runtime_error);
}

}  // namespace
}  // namespace gw::metrics
