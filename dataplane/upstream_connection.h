// The relay's client side towards the upstream mail server of a service: connect, banner,
// EHLO (HELO fallback), one command / one reply at a time, and raw DATA octets
// (RFC 5321 §3.1, §4.1.1.1; DESIGN.md §3 steps 2 and 5–7).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "dataplane/asio.h"
#include "dataplane/smtp/capabilities.h"
#include "dataplane/smtp/reply.h"
#include "dataplane/transport.h"

namespace gw::dataplane {

/// Why an upstream operation gave no usable reply. The session turns every one of them into
/// a 4xx for its client (DESIGN.md §7 "Nothing lost").
enum class UpstreamFault {
  kNone,
  kResolve,        // host name did not resolve
  kConnect,        // refused / unreachable / connect timeout
  kClosed,         // peer closed or reset the connection
  kTimeout,        // no complete reply in time (cancelled by the session's watchdog)
  kProtocol,       // a reply line that is not SMTP, or an unexpected reply code
  kRejected,       // banner or EHLO/HELO answered with something other than 2xx
};

std::string_view fault_name(UpstreamFault fault);

/// One upstream connection. Every awaitable runs on the session's strand; timeouts are
/// enforced by the caller through cancel(). Not copyable; lives inside its session.
class UpstreamConnection {
 public:
  explicit UpstreamConnection(asio::any_io_executor executor);

  /// Resolves, connects (TCP_NODELAY), reads the 220 banner and sends EHLO `helo_domain`,
  /// falling back to HELO when EHLO gets a 5xx. On success capabilities() holds what the
  /// upstream offers; on failure the connection is closed and last_reply() may hold the
  /// upstream's refusal.
  awaitable<UpstreamFault> open(std::string host, std::uint16_t port, std::string helo_domain);

  /// Writes `wire` (one or more CRLF-terminated lines) and reads one reply.
  awaitable<UpstreamFault> command(std::string_view wire, smtp::Reply& reply);
  /// Writes octets without reading (DATA content).
  awaitable<UpstreamFault> write(std::string_view wire);
  /// Reads one reply.
  awaitable<UpstreamFault> read_reply(smtp::Reply& reply);

  /// Sends QUIT without waiting for the reply and closes.
  awaitable<void> quit();
  void cancel();
  void close();
  [[nodiscard]] bool is_open() const { return transport_ && transport_->is_open(); }
  /// True if the upstream sent octets nobody asked for (typically a 421 before it closed an
  /// idle connection): the connection must not be used for a new transaction.
  [[nodiscard]] bool stale() const;

  [[nodiscard]] const smtp::Capabilities& capabilities() const { return capabilities_; }
  [[nodiscard]] bool esmtp() const { return esmtp_; }
  [[nodiscard]] const smtp::Reply& last_reply() const { return last_reply_; }

 private:
  asio::any_io_executor executor_;
  std::optional<tcp::resolver> resolver_;
  std::optional<Transport> transport_;
  InputBuffer input_{16384};
  smtp::ReplyParser parser_;
  smtp::Capabilities capabilities_;
  smtp::Reply last_reply_;
  bool esmtp_ = false;
};

}  // namespace gw::dataplane
