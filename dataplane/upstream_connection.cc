// Upstream SMTP client used by the relay session.
#include "dataplane/upstream_connection.h"

#include <algorithm>
#include <charconv>
#include <vector>

#include "dataplane/smtp/auth.h"
#include "dataplane/socket_state.h"

namespace gw::dataplane {

std::string_view fault_name(UpstreamFault fault) {
  switch (fault) {
    case UpstreamFault::kNone: return "none";
    case UpstreamFault::kResolve: return "resolve";
    case UpstreamFault::kConnect: return "connect";
    case UpstreamFault::kClosed: return "closed";
    case UpstreamFault::kTimeout: return "timeout";
    case UpstreamFault::kProtocol: return "protocol";
    case UpstreamFault::kRejected: return "rejected";
    case UpstreamFault::kTls: return "tls";
    case UpstreamFault::kNoStarttls: return "starttls not offered";
    case UpstreamFault::kInjection: return "plaintext injected after STARTTLS";
    case UpstreamFault::kAuth: return "authentication refused";
  }
  return "?";
}

UpstreamConnection::UpstreamConnection(Executor executor)
    : executor_(std::move(executor)) {}

bool same_upstream(const UpstreamOptions& a, const UpstreamOptions& b) {
  return a.host == b.host && a.port == b.port && a.security == b.security && a.tls == b.tls &&
         a.verify_hostname == b.verify_hostname && a.tls_server_name == b.tls_server_name &&
         a.username == b.username && a.password == b.password;
}

awaitable<UpstreamFault> UpstreamConnection::open(const UpstreamOptions& options) {
  close();
  input_.clear();
  parser_ = smtp::ReplyParser{};
  forget_long_line();
  capabilities_ = smtp::Capabilities{};
  esmtp_ = false;
  authenticated_ = false;
  detail_.clear();
  boost::system::error_code ec;
  const bool secure = options.security == gateway::v1::SECURITY_SSL ||
                      options.security == gateway::v1::SECURITY_STARTTLS;
  if (secure && !options.tls) {
    detail_ = "no TLS context";
    co_return UpstreamFault::kTls;
  }

  boost::system::error_code literal_ec;
  auto literal = asio::ip::make_address(options.host, literal_ec);
  std::vector<tcp::endpoint> endpoints;
  if (!literal_ec) {
    // An IP literal needs no resolver round trip (benchmark: ~5% of CPU per connection).
    endpoints.emplace_back(literal, options.port);
  } else {
    resolver_.emplace(executor_);
    auto results = co_await resolver_->async_resolve(
        options.host, std::to_string(options.port), asio::redirect_error(use_awaitable, ec));
    resolver_.reset();
    if (ec) {
      detail_ = ec.message();
      close();
      co_return ec == asio::error::operation_aborted ? UpstreamFault::kTimeout
                                                     : UpstreamFault::kResolve;
    }
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }
  // Each address in the resolver's order until one connects (RFC 5321 §5.1).
  UpstreamFault connected = UpstreamFault::kConnect;
  for (const auto& endpoint : endpoints) {
    connected = co_await connect(endpoint, options.security == gateway::v1::SECURITY_SSL);
    if (connected != UpstreamFault::kConnect) break;
  }
  if (connected != UpstreamFault::kNone) {
    close();
    co_return connected;
  }

  if (options.security == gateway::v1::SECURITY_SSL) {
    co_await transport_->handshake_client(options.tls, options.tls_server_name,
                                          options.verify_hostname, ec);
    if (ec) {
      detail_ = transport_->verify_error().empty() ? ec.message() : transport_->verify_error();
      if (trace_ != nullptr) trace_->tls(smtp::TraceDirection::kToUpstream, false, detail_);
      close();
      co_return ec == asio::error::operation_aborted ? UpstreamFault::kTimeout : UpstreamFault::kTls;
    }
    if (trace_ != nullptr) {
      trace_->tls(smtp::TraceDirection::kToUpstream, true, transport_->tls_description());
    }
  }

  smtp::Reply reply;
  if (auto f = co_await read_reply(reply); f != UpstreamFault::kNone) {
    close();
    co_return f;
  }
  if (reply.code != 220) {
    detail_ = "banner " + std::to_string(reply.code);
    // RFC 5321 §3.1: a server that greets with 554 waits for the client's QUIT. It is sent
    // without waiting for its reply (the connection is given up either way).
    transport_->write_now("QUIT\r\n");
    close();
    co_return UpstreamFault::kRejected;
  }
  if (auto f = co_await greet(options.helo_domain); f != UpstreamFault::kNone) {
    close();
    co_return f;
  }

  if (options.security == gateway::v1::SECURITY_STARTTLS) {
    if (!capabilities_.starttls) {
      detail_ = "upstream does not offer STARTTLS";
      close();
      co_return UpstreamFault::kNoStarttls;
    }
    if (auto f = co_await setup_command("STARTTLS\r\n", reply); f != UpstreamFault::kNone) {
      close();
      co_return f;
    }
    if (reply.code != 220) {
      detail_ = "STARTTLS answered " + std::to_string(reply.code);
      close();
      co_return UpstreamFault::kRejected;
    }
    // Anything the upstream sent after its 220 in plaintext would be read as if it came
    // through TLS: an injection (RFC 3207 §4.2, CVE-2011-0411 mirrored).
    if (!input_.empty() || transport_->socket_has_octets()) {
      detail_ = "octets after the STARTTLS 220";
      close();
      co_return UpstreamFault::kInjection;
    }
    co_await transport_->handshake_client(options.tls, options.tls_server_name,
                                          options.verify_hostname, ec);
    if (ec) {
      detail_ = transport_->verify_error().empty() ? ec.message() : transport_->verify_error();
      if (trace_ != nullptr) trace_->tls(smtp::TraceDirection::kToUpstream, false, detail_);
      close();
      co_return ec == asio::error::operation_aborted ? UpstreamFault::kTimeout : UpstreamFault::kTls;
    }
    if (trace_ != nullptr) {
      trace_->tls(smtp::TraceDirection::kToUpstream, true, transport_->tls_description());
    }
    // RFC 3207 §4.2: forget what was learnt before TLS and greet again.
    capabilities_ = smtp::Capabilities{};
    if (auto f = co_await greet(options.helo_domain); f != UpstreamFault::kNone) {
      close();
      co_return f;
    }
  }

  bool has_credentials = !options.username.empty() && !options.password.empty();
  if (has_credentials && !capabilities_.auth_mechanisms.empty()) {
    if (auto f = co_await authenticate(options); f != UpstreamFault::kNone) {
      close();
      co_return f;
    }
  }
  co_return UpstreamFault::kNone;
}

awaitable<UpstreamFault> UpstreamConnection::greet_again(const std::string& helo_domain) {
  if (!is_open()) co_return UpstreamFault::kClosed;
  co_return co_await greet(helo_domain);
}

awaitable<UpstreamFault> UpstreamConnection::greet(const std::string& helo_domain) {
  smtp::Reply reply;
  std::string ehlo = "EHLO " + helo_domain + "\r\n";
  if (auto f = co_await setup_command(ehlo, reply); f != UpstreamFault::kNone) co_return f;
  if (reply.code == 250) {
    esmtp_ = true;
    capabilities_ = smtp::parse_ehlo_reply(reply);
    co_return UpstreamFault::kNone;
  }
  if (reply.permanent()) {
    // RFC 5321 §3.2: a server that does not know EHLO answers 5xx; fall back to HELO.
    std::string helo = "HELO " + helo_domain + "\r\n";
    if (auto f = co_await setup_command(helo, reply); f != UpstreamFault::kNone) co_return f;
    if (reply.code == 250) {
      esmtp_ = false;
      capabilities_ = smtp::Capabilities{};
      co_return UpstreamFault::kNone;
    }
  }
  detail_ = "greeting answered " + std::to_string(reply.code);
  co_return UpstreamFault::kRejected;
}

UpstreamFault UpstreamConnection::check_challenge(const smtp::Reply& reply) {
  // A SASL challenge is one line (RFC 4954 §4: "334" SP [base64] CRLF); a multi-line 334 is
  // an upstream out of step, which gets no credential (probe round 33: the gateway's own
  // login sent the password after "334-abcd", where pass-through answered 454).
  if (reply.code == 334 && reply.lines.size() != 1) {
    detail_ = "AUTH challenge of " + std::to_string(reply.lines.size()) + " lines";
    return UpstreamFault::kProtocol;
  }
  return UpstreamFault::kNone;
}

awaitable<UpstreamFault> UpstreamConnection::authenticate(const UpstreamOptions& options) {
  const auto& mechs = capabilities_.auth_mechanisms;
  auto offers = [&](std::string_view m) { return std::find(mechs.begin(), mechs.end(), m) != mechs.end(); };
  smtp::Reply reply;
  if (offers("PLAIN")) {
    std::string message;
    message += '\0';
    message += options.username;
    message += '\0';
    message += options.password;
    // Credentials too long for the AUTH line (RFC 4954 §4) follow the server's 334.
    std::string deferred;
    const std::string wire = smtp::auth_command_line("PLAIN", smtp::encode_base64(message), deferred);
    if (auto f = co_await setup_command(wire, reply); f != UpstreamFault::kNone) co_return f;
    if (auto f = check_challenge(reply); f != UpstreamFault::kNone) co_return f;
    if (reply.code == 334 && !deferred.empty()) {
      deferred += "\r\n";
      if (auto f = co_await setup_command(deferred, reply); f != UpstreamFault::kNone) co_return f;
    }
  } else if (offers("LOGIN")) {
    if (auto f = co_await setup_command("AUTH LOGIN\r\n", reply); f != UpstreamFault::kNone) co_return f;
    if (auto f = check_challenge(reply); f != UpstreamFault::kNone) co_return f;
    if (reply.code == 334) {
      std::string user = smtp::encode_base64(options.username) + "\r\n";
      if (auto f = co_await setup_command(user, reply); f != UpstreamFault::kNone) co_return f;
      if (auto f = check_challenge(reply); f != UpstreamFault::kNone) co_return f;
    }
    if (reply.code == 334) {
      std::string pass = smtp::encode_base64(options.password) + "\r\n";
      if (auto f = co_await setup_command(pass, reply); f != UpstreamFault::kNone) co_return f;
    }
  } else {
    detail_ = "no supported AUTH mechanism (PLAIN, LOGIN) offered";
    co_return UpstreamFault::kAuth;
  }
  if (reply.code != 235) {
    detail_ = "AUTH answered " + std::to_string(reply.code);
    co_return UpstreamFault::kAuth;
  }
  authenticated_ = true;
  co_return UpstreamFault::kNone;
}

namespace {

UpstreamFault io_fault(const boost::system::error_code& ec) {
  return ec == asio::error::operation_aborted ? UpstreamFault::kTimeout : UpstreamFault::kClosed;
}

}  // namespace

awaitable<UpstreamFault> UpstreamConnection::connect(const tcp::endpoint& endpoint,
                                                     bool implicit_tls) {
  transport_.emplace(executor_);
  boost::system::error_code ec = open_nonblocking(transport_->socket(), endpoint.protocol());
  if (!ec) ec = start_connect(transport_->socket(), endpoint);
  if (!ec && implicit_tls) {
    // The TLS handshake starts with our write: wait for the connect as such.
    co_await transport_->socket().async_wait(Socket::wait_write,
                                             asio::redirect_error(use_awaitable, ec));
    if (!ec) ec = connect_result(transport_->socket());
  } else if (!ec) {
    // Plaintext or STARTTLS: the server speaks first (RFC 5321 §3.1), so the banner's first
    // octets are what says the connection is up, and a refused or unreachable server fails
    // this read with the connect's error.
    auto space = input_.prepare();
    const std::size_t n = co_await transport_->read_some(space, ec);
    input_.commit(n);
    if (ec && !is_connect_error(ec)) {
      co_return io_fault(ec);  // connected, then closed or reset before the banner
    }
  }
  if (!ec) co_return UpstreamFault::kNone;
  detail_ = ec.message();
  transport_.reset();
  input_.clear();
  co_return ec == asio::error::operation_aborted ? UpstreamFault::kTimeout
                                                 : UpstreamFault::kConnect;
}

awaitable<UpstreamFault> UpstreamConnection::write(std::string_view wire) {
  if (!is_open()) co_return UpstreamFault::kClosed;
  wire.remove_prefix(transport_->write_now(wire));
  if (wire.empty()) co_return UpstreamFault::kNone;
  boost::system::error_code ec;
  co_await transport_->write(wire, ec);
  co_return ec ? io_fault(ec) : UpstreamFault::kNone;
}

awaitable<UpstreamFault> UpstreamConnection::write_content(std::string_view wire) {
  if (!is_open()) co_return UpstreamFault::kClosed;
  if (transport_->encrypted()) co_return co_await write(wire);
  Socket& socket = transport_->socket();
  // While the socket takes nothing more, a read wait runs beside the write wait: an upstream
  // that refused the message and stopped reading is noticed when its reply comes, not when
  // the write times out (probe round 52). Both waits are on this one thread; the read wait's
  // handler cancels the write wait only while `watch` says this write still waits.
  struct ReadWatch {
    bool active = true;
    bool fired = false;
  };
  while (true) {
    wire.remove_prefix(transport_->write_now(wire));
    if (wire.empty()) co_return UpstreamFault::kNone;
    if (stale()) {
      detail_ = "the upstream spoke during message content";
      co_return UpstreamFault::kProtocol;
    }
    auto watch = std::make_shared<ReadWatch>();
    socket.async_wait(Socket::wait_read, [watch, &socket](const boost::system::error_code& ec) {
      if (ec || !watch->active) return;
      watch->fired = true;
      boost::system::error_code ignored;
      socket.cancel(ignored);
    });
    boost::system::error_code ec;
    co_await socket.async_wait(Socket::wait_write, asio::redirect_error(use_awaitable, ec));
    const bool fired = watch->fired;
    watch->active = false;
    if (fired) continue;  // the upstream spoke or left: stale() says so above
    boost::system::error_code ignored;
    socket.cancel(ignored);  // the read wait (its handler then returns on the abort)
    if (ec) co_return io_fault(ec);
  }
}

awaitable<UpstreamFault> UpstreamConnection::setup_command(std::string_view wire,
                                                           smtp::Reply& reply) {
  // Over TLS only records with SMTP octets count: a TLS 1.3 server's session tickets right
  // after the handshake, or a KeyUpdate, are no reply (Transport::unread_data).
  if (!input_.empty() || (is_open() && transport_->unread_data(input_))) {
    // A line the upstream sent unasked (after its banner, say) would be read as the reply
    // to this command, and every later reply would be off by one (BR-31).
    detail_ = "octets the upstream sent unasked";
    co_return UpstreamFault::kProtocol;
  }
  co_return co_await command(wire, reply);
}

awaitable<UpstreamFault> UpstreamConnection::command(std::string_view wire, smtp::Reply& reply) {
  // Not a coroutine: when the socket takes the command at once (the usual case) this is
  // read_reply() itself, one coroutine frame less per command.
  if (trace_ != nullptr) trace_->to_upstream(wire);
  if (is_open()) wire.remove_prefix(transport_->write_now(wire));
  if (wire.empty()) return read_reply(reply);
  return write_and_read(wire, reply);
}

awaitable<UpstreamFault> UpstreamConnection::write_and_read(std::string_view wire,
                                                            smtp::Reply& reply) {
  if (!is_open()) co_return UpstreamFault::kClosed;
  boost::system::error_code ec;
  co_await transport_->write(wire, ec);
  if (ec) co_return io_fault(ec);
  co_return co_await read_reply(reply);
}

std::optional<UpstreamFault> UpstreamConnection::parse_buffered(smtp::Reply& reply) {
  while (true) {
    std::string_view data = input_.data();
    const smtp::ReplyLineEnd end = smtp::find_reply_line_end(data);
    if (end.kind == smtp::ReplyLineEnd::Kind::kBareLineBreak) return UpstreamFault::kProtocol;
    smtp::ReplyParser::Status status;
    if (in_long_line_) {
      // The rest of an over-long line: dropped up to its CRLF, then the kept start of the
      // line is the line. The code is what a client acts on: a 250 to the end of data
      // with 13,000 octets of text taken for a framing fault became a 451, and every retry
      // left another copy upstream (probe round 38).
      const std::size_t stop = data.find_first_of("\r\n");
      if (stop == std::string_view::npos || (data[stop] == '\r' && stop + 1 == data.size())) {
        const std::size_t dropped = stop == std::string_view::npos ? data.size() : stop;
        long_line_dropped_ += dropped;
        input_.consume(dropped);
        if (long_line_dropped_ > kMaxLongLineOctets) return UpstreamFault::kProtocol;
        return std::nullopt;
      }
      if (data[stop] != '\r' || data[stop + 1] != '\n') return UpstreamFault::kProtocol;
      input_.consume(stop + 2);
      status = parser_.feed_line(long_line_);
      forget_long_line();
    } else if (end.kind == smtp::ReplyLineEnd::Kind::kNeedMore) {
      if (data.size() <= smtp::ReplyParser::kMaxLineOctets) return std::nullopt;
      // A SASL challenge is only of use whole (RFC 4954 §4); any other line is cut when
      // relayed anyway (Reply::append_wire), so its start is all that is kept.
      if (data.substr(0, 3) == "334") return UpstreamFault::kProtocol;
      long_line_.assign(data.substr(0, smtp::ReplyParser::kMaxLineOctets));
      input_.consume(smtp::ReplyParser::kMaxLineOctets);
      in_long_line_ = true;
      continue;
    } else {
      status = parser_.feed_line(data.substr(0, end.length));
      input_.consume(end.length + 2);
    }
    if (status == smtp::ReplyParser::Status::kError) return UpstreamFault::kProtocol;
    if (status == smtp::ReplyParser::Status::kComplete) {
      reply = parser_.take();
      if (trace_ != nullptr) trace_->from_upstream(reply);
      return UpstreamFault::kNone;
    }
  }
}

awaitable<UpstreamFault> UpstreamConnection::read_reply(smtp::Reply& reply) {
  if (!is_open()) co_return UpstreamFault::kClosed;
  while (true) {
    // Every complete line already buffered first.
    if (auto parsed = parse_buffered(reply)) co_return *parsed;
    auto space = input_.prepare();
    if (space.size() == 0) co_return UpstreamFault::kProtocol;  // a reply line over the buffer
    boost::system::error_code ec;
    std::size_t n = co_await transport_->read_some(space, ec);
    input_.commit(n);
    if (ec) co_return io_fault(ec);
  }
}

UpstreamFault UpstreamConnection::reply_sent_unasked(smtp::Reply& reply) {
  if (!transport_) return UpstreamFault::kClosed;
  transport_->read_available(input_);
  auto parsed = parse_buffered(reply);
  return parsed.value_or(UpstreamFault::kProtocol);
}

void UpstreamConnection::forget_long_line() {
  long_line_.clear();
  in_long_line_ = false;
  long_line_dropped_ = 0;
}

awaitable<void> UpstreamConnection::quit() {
  if (is_open()) {
    // Plain TCP: QUIT and the FIN in one segment, without waiting (the reply is not read).
    constexpr std::string_view kQuit = "QUIT\r\n";
    if (trace_ != nullptr) trace_->to_upstream(kQuit);
    if (transport_->write_now(kQuit, /*last=*/true) == 0 && transport_->encrypted()) {
      boost::system::error_code ec;
      co_await transport_->write(kQuit, ec);
    }
  }
  close();
}

void UpstreamConnection::cancel() {
  if (resolver_) resolver_->cancel();
  if (transport_) transport_->cancel();
}

void UpstreamConnection::close(bool abortive) {
  if (transport_) {
    if (abortive) {
      transport_->abort();
    } else {
      transport_->close();
    }
  }
  transport_.reset();
  input_.clear();
  parser_ = smtp::ReplyParser{};
  forget_long_line();
  // What the lost connection offered says nothing about the next one (BR-21).
  capabilities_ = smtp::Capabilities{};
  esmtp_ = false;
  authenticated_ = false;
}

bool UpstreamConnection::stale() {
  return !is_open() || !input_.empty() || transport_->peer_spoke_or_left(input_);
}

}  // namespace gw::dataplane
