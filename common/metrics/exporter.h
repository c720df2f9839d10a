// The HTTP endpoint Prometheus scrapes: GET /metrics on a port of each process (DESIGN.md §8).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace gw::metrics {

/// Serves GET (and HEAD) /metrics over HTTP/1.1 on a thread and io_context of its own, so a
/// slow or hostile scraper never delays the process's real work. Each request calls
/// `render` on that thread for a fresh exposition (ExpositionWriter text) and answers
/// `200` with `Content-Type: text/plain; version=0.0.4; charset=utf-8`. Other paths get
/// 404, other methods 405 (with `Allow: GET, HEAD`), a malformed request 400 and the
/// connection closes. Bounds: request headers up to 8 KiB, a request body up to 4 KiB (read and ignored), kRequestTimeout
/// per read or write, at most kMaxConnections open at once (more are closed at accept).
/// Keep-alive is honoured. No TLS and no authentication: bind it to loopback or a
/// monitoring network (README "Metrics").
class MetricsExporter {
 public:
  using Render = std::function<std::string()>;
  static constexpr std::size_t kMaxConnections = 16;
  static constexpr std::chrono::seconds kRequestTimeout{10};

  /// Binds `listen`, "IPV4:PORT" or "[IPV6]:PORT" (numeric address; port 0 picks a free
  /// one, see port()), and starts serving. Throws std::runtime_error with the reason when
  /// the address does not parse or cannot be bound.
  MetricsExporter(std::string_view listen, Render render);
  /// Stops serving and closes every connection; waits for the thread.
  ~MetricsExporter();
  MetricsExporter(const MetricsExporter&) = delete;
  MetricsExporter& operator=(const MetricsExporter&) = delete;

  /// The bound port.
  [[nodiscard]] std::uint16_t port() const;
  /// "http://ADDRESS:PORT/metrics" with the bound port (IPv6 addresses in brackets).
  [[nodiscard]] std::string url() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gw::metrics
