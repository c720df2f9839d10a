// MetricsExporter: Boost.Beast HTTP/1.1 server on its own io_context thread.
#include "common/metrics/exporter.h"

// clang-format off
#include <utility>  // before Asio's coroutine headers (Boost 1.74, STYLE.md)
#include <boost/asio.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
// clang-format on

#include <spdlog/spdlog.h>

#include <charconv>
#include <stdexcept>
#include <thread>

namespace gw::metrics {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::size_t kHeaderLimit = 8 * 1024;
constexpr std::size_t kBodyLimit = 4 * 1024;

tcp::endpoint parse_listen(std::string_view listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == listen.size()) {
    throw std::runtime_error("metrics address '" + std::string(listen) +
                             "' is not HOST:PORT (numeric address, port 0-65535)");
  }
  std::string_view host = listen.substr(0, colon);
  const std::string_view port_text = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    throw std::runtime_error("metrics address '" + std::string(listen) + "': bad port");
  }
  boost::system::error_code bad;
  const auto address = asio::ip::make_address(std::string(host), bad);
  if (bad) {
    throw std::runtime_error("metrics address '" + std::string(listen) +
                             "': not a numeric IP address");
  }
  return {address, static_cast<std::uint16_t>(port)};
}

}  // namespace

struct MetricsExporter::Impl {
  Impl(std::string_view listen, Render r) : render(std::move(r)) {
    const tcp::endpoint endpoint = parse_listen(listen);
    boost::system::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error("cannot listen for metrics on " + std::string(listen) + ": " +
                               ec.message());
    }
    // Read once here: the acceptor belongs to the serving thread from now on.
    const tcp::endpoint bound = acceptor.local_endpoint();
    bound_port = bound.port();
    const std::string host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                                     : bound.address().to_string();
    url = "http://" + host + ":" + std::to_string(bound_port) + "/metrics";
    asio::co_spawn(io, accept_loop(), asio::detached);
    thread = std::thread([this] { io.run(); });
  }

  ~Impl() {
    io.stop();
    if (thread.joinable()) thread.join();
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket(io);
      co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        spdlog::warn("metrics: accept failed: {}", ec.message());
        continue;
      }
      if (connections >= kMaxConnections) {
        socket.close(ec);  // a scraper retries; a flood does not pile up
        continue;
      }
      ++connections;
      asio::co_spawn(io, serve(std::move(socket)), [this](std::exception_ptr) { --connections; });
    }
  }

  /// Answers requests on one connection until it closes, times out or asks to close.
  asio::awaitable<void> serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      // A body is read (and ignored) so that a POST gets its 405, not a parse error.
      http::request_parser<http::string_body> parser;
      parser.header_limit(kHeaderLimit);
      parser.body_limit(kBodyLimit);
      boost::system::error_code ec;
      stream.expires_after(kRequestTimeout);
      co_await http::async_read_header(stream, buffer, parser,
                                       asio::redirect_error(asio::use_awaitable, ec));
      // "Expect: 100-continue": the final status is known from the head alone, so it goes at
      // once and the connection closes without the body (RFC 9110 §10.1.1).
      bool expects_continue = false;
      if (!ec) {
        const auto expect = parser.get()[http::field::expect];
        expects_continue = beast::iequals(expect, "100-continue");
        if (!expects_continue) {
          co_await http::async_read(stream, buffer, parser,
                                    asio::redirect_error(asio::use_awaitable, ec));
        }
      }
      if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
          ec == asio::error::eof) {
        break;
      }
      http::response<http::string_body> response;
      bool keep_alive = false;
      if (ec) {
        response = answer(http::status::bad_request, "bad request\n", 11);
      } else {
        const auto& request = parser.get();
        keep_alive = request.keep_alive() && !expects_continue;
        response = handle(request);
        response.keep_alive(keep_alive);
      }
      stream.expires_after(kRequestTimeout);
      co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !keep_alive) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.close();
  }

  http::response<http::string_body> handle(const http::request<http::string_body>& request) {
    std::string_view target(request.target().data(), request.target().size());
    // The absolute form ("GET http://host/metrics"), which servers must accept (RFC 9112
    // §3.2.2): its path.
    if (const auto scheme = target.find("://");
        scheme != std::string_view::npos && target.substr(0, scheme).find('/') == target.npos) {
      const auto slash = target.find('/', scheme + 3);
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    const std::string_view path = target.substr(0, target.find('?'));
    if (request.method() != http::verb::get && request.method() != http::verb::head) {
      auto response = answer(http::status::method_not_allowed, "only GET and HEAD\n",
                             request.version());
      response.set(http::field::allow, "GET, HEAD");
      return response;
    }
    if (path != "/metrics") {
      return answer(http::status::not_found, "not found: metrics are at /metrics\n",
                    request.version());
    }
    auto response = answer(http::status::ok, render(), request.version());
    response.set(http::field::content_type, kContentType);
    if (request.method() == http::verb::head) {
      // The GET's Content-Length, no body (RFC 9110 §9.3.2).
      response.content_length(response.body().size());
      response.body().clear();
    }
    return response;
  }

  static http::response<http::string_body> answer(http::status status, std::string body,
                                                   unsigned version) {
    http::response<http::string_body> response{status, version};
    response.set(http::field::server, "gw-metrics");
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    response.body() = std::move(body);
    response.prepare_payload();
    return response;
  }

  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  Render render;
  std::uint16_t bound_port = 0;
  std::string url;
  std::size_t connections = 0;  // io thread only
  std::thread thread;
};

MetricsExporter::MetricsExporter(std::string_view listen, Render render)
    : impl_(std::make_unique<Impl>(listen, std::move(render))) {}

MetricsExporter::~MetricsExporter() = default;

std::uint16_t MetricsExporter::port() const { return impl_->bound_port; }

std::string MetricsExporter::url() const { return impl_->url; }

}  // namespace gw::metrics
