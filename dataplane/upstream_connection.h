// The relay's client side towards the upstream mail server of a service: connect, banner,
// EHLO (HELO fallback), one command / one reply at a time, and raw DATA octets
// (RFC 5321 §3.1, §4.1.1.1; DESIGN.md §3 steps 2 and 5–7).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dataplane/asio.h"
#include "dataplane/smtp/capabilities.h"
#include "dataplane/smtp/protocol_trace.h"
#include "dataplane/smtp/reply.h"
#include "dataplane/transport.h"
#include "gateway/v1/config.pb.h"

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
  kTls,            // TLS handshake or certificate verification failed
  kNoStarttls,     // STARTTLS required by the service but not offered (no plaintext fallback)
  kInjection,      // octets arrived with the STARTTLS 220, before TLS (RFC 3207 §4.2 attack)
  kAuth,           // the upstream refused the service's credentials
};

/// How to reach and greet the upstream of a service.
struct UpstreamOptions {
  std::string host;
  std::uint16_t port = 25;
  std::string helo_domain;
  gateway::v1::Security security = gateway::v1::SECURITY_NONE;
  std::shared_ptr<asio::ssl::context> tls;  // required for ssl/starttls
  bool verify_hostname = true;
  std::string tls_server_name;
  std::string username;  // non-empty with password: AUTH PLAIN/LOGIN when offered
  std::string password;
};

std::string_view fault_name(UpstreamFault fault);

/// True if `a` and `b` reach the same upstream the same way: host, port, security, TLS
/// context and name checks, and credentials. The EHLO domain does not count.
bool same_upstream(const UpstreamOptions& a, const UpstreamOptions& b);

/// One upstream connection. Every awaitable runs on the session's io_context (one thread);
/// timeouts are enforced by the caller through cancel(). Not copyable; lives inside its
/// session.
class UpstreamConnection {
 public:
  explicit UpstreamConnection(Executor executor);

  /// Resolves, connects (TCP_NODELAY), with security ssl shakes hands at once, reads the 220
  /// banner and sends EHLO (HELO when EHLO gets a 5xx); with starttls upgrades (refusing an
  /// upstream that does not offer it or that pipelines plaintext after its 220) and sends
  /// EHLO again; with credentials and AUTH offered, logs in with PLAIN or LOGIN (the
  /// reference's scenarios 4 and 8). On success capabilities() holds what the upstream
  /// offers; on failure the connection is closed and detail() says why (no secrets).
  awaitable<UpstreamFault> open(const UpstreamOptions& options);

  /// Writes `wire` (one or more CRLF-terminated lines) and reads one reply.
  awaitable<UpstreamFault> command(std::string_view wire, smtp::Reply& reply);
  /// Writes octets without reading (DATA content).
  awaitable<UpstreamFault> write(std::string_view wire);
  /// write() for message content: over plain TCP, while the upstream's socket takes nothing
  /// more, the write also ends when the upstream speaks or leaves (kProtocol: an early
  /// refusal, read with reply_sent_unasked()); kTimeout when cancelled (the caller's
  /// deadline); kClosed when the connection failed. Over TLS as write().
  awaitable<UpstreamFault> write_content(std::string_view wire);
  /// Writes what the socket takes at once without waiting (Transport::write_now); returns
  /// the octets written, 0 when closed. The caller write()s the rest.
  std::size_t write_now(std::string_view wire) {
    return is_open() ? transport_->write_now(wire) : 0;
  }
  /// Reads one reply.
  awaitable<UpstreamFault> read_reply(smtp::Reply& reply);
  /// For an upstream that spoke before it was asked (stale() during DATA content): reads
  /// what it sent without waiting and parses one reply from it. kNone with `reply` set when
  /// a whole reply is there (an early refusal, say 552 5.3.4 before the end of data);
  /// kProtocol when what it sent is no whole reply; kClosed when there is no connection.
  /// The connection is of no further use either way: the caller closes it.
  UpstreamFault reply_sent_unasked(smtp::Reply& reply);
  /// Octets of one reply line read and dropped past the first kMaxLineOctets before the
  /// line counts as a framing fault (kProtocol): an upstream that never ends a line.
  static constexpr std::size_t kMaxLongLineOctets = 1 << 20;
  void forget_long_line();

  /// Sends QUIT without waiting for the reply and closes. Plain TCP never waits: QUIT goes
  /// out with the FIN in one segment if the socket takes it at once, otherwise only the FIN.
  awaitable<void> quit();

  void cancel();
  /// Closes the connection (FIN after what is queued); `abortive`: with a reset instead,
  /// discarding what is queued (Transport::abort).
  void close(bool abortive = false);
  [[nodiscard]] bool is_open() const { return transport_ && transport_->is_open(); }
  /// True if the upstream sent octets nobody asked for (typically a 421 before it closed an
  /// idle connection) or closed or reset the connection meanwhile (an idle timeout without
  /// a word): the connection must not be used for a new transaction, which then goes to a
  /// fresh connection. Over TLS a record without SMTP octets (a KeyUpdate, a session
  /// ticket) is no such word (Transport::peer_spoke_or_left).
  [[nodiscard]] bool stale();

  /// Greets the open connection again with EHLO (HELO if EHLO is refused) and `helo_domain`,
  /// keeping it: used for a client's second EHLO after a login proxied on this connection,
  /// which a fresh connection would lose (RFC 5321 §4.1.4 resets the transaction only;
  /// RFC 4954 §4 keeps the login). Capabilities are replaced by the new reply. kClosed when
  /// no connection is open; otherwise as open() for its greeting step.
  awaitable<UpstreamFault> greet_again(const std::string& helo_domain);

  [[nodiscard]] const smtp::Capabilities& capabilities() const { return capabilities_; }
  [[nodiscard]] bool esmtp() const { return esmtp_; }
  [[nodiscard]] bool encrypted() const { return transport_ && transport_->encrypted(); }
  [[nodiscard]] bool authenticated() const { return authenticated_; }
  /// Human-readable cause of the last open() failure (TLS verify error, refusal reply).
  [[nodiscard]] const std::string& detail() const { return detail_; }

  /// Every command written and reply read from now on goes to `trace` too (nullptr: none).
  /// Message content (write()) never does. `trace` must outlive this connection or be
  /// replaced first.
  void set_trace(smtp::ProtocolTrace* trace) { trace_ = trace; }

 private:
  /// One connection attempt to `endpoint` on a new transport (TCP_NODELAY, socket_state.h):
  /// kNone once connected and, unless `implicit_tls`, once the banner's first octets are in
  /// input_ (the server speaks first, so no separate wait for the connect); kConnect with
  /// detail_ set (refused, unreachable, timed out by the kernel: the caller tries the next
  /// address); kTimeout when cancelled (the session's deadline); kClosed when the server
  /// closed or reset the connection before its banner.
  awaitable<UpstreamFault> connect(const tcp::endpoint& endpoint, bool implicit_tls);
  /// Parses the reply lines buffered in input_: kNone with `reply` once one is whole,
  /// kProtocol for a framing fault or an over-long line, nullopt when more is needed.
  std::optional<UpstreamFault> parse_buffered(smtp::Reply& reply);

  smtp::ProtocolTrace* trace_ = nullptr;
  Executor executor_;
  std::optional<Resolver> resolver_;
  std::optional<Transport> transport_;
  InputBuffer input_{16384};
  smtp::ReplyParser parser_;
  /// A reply line longer than ReplyParser::kMaxLineOctets: its first kMaxLineOctets octets,
  /// kept while the rest of the line is read and dropped (read_reply).
  std::string long_line_;
  bool in_long_line_ = false;
  std::size_t long_line_dropped_ = 0;
  smtp::Capabilities capabilities_;
  bool esmtp_ = false;
  bool authenticated_ = false;
  std::string detail_;

  awaitable<UpstreamFault> greet(const std::string& helo_domain);
  /// command()'s slow path: the rest of `wire` asynchronously, then the reply.
  /// command() during connection set-up (EHLO/HELO, STARTTLS, AUTH): kProtocol instead when
  /// the upstream has sent anything unasked, which would be taken for this reply.
  awaitable<UpstreamFault> setup_command(std::string_view wire, smtp::Reply& reply);
  awaitable<UpstreamFault> write_and_read(std::string_view wire, smtp::Reply& reply);
  awaitable<UpstreamFault> authenticate(const UpstreamOptions& options);
  /// kProtocol (with detail_) for a 334 of more than one line, else kNone.
  UpstreamFault check_challenge(const smtp::Reply& reply);
};

}  // namespace gw::dataplane
