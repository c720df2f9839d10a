// Upstream SMTP client used by the relay session.
#include "dataplane/upstream_connection.h"

#include <charconv>

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
  }
  return "?";
}

UpstreamConnection::UpstreamConnection(asio::any_io_executor executor)
    : executor_(std::move(executor)) {}

awaitable<UpstreamFault> UpstreamConnection::open(std::string host, std::uint16_t port,
                                                  std::string helo_domain) {
  close();
  input_.clear();
  parser_ = smtp::ReplyParser{};
  capabilities_ = smtp::Capabilities{};
  esmtp_ = false;
  boost::system::error_code ec;

  tcp::resolver::results_type endpoints;
  resolver_.emplace(executor_);
  endpoints = co_await resolver_->async_resolve(host, std::to_string(port),
                                                asio::redirect_error(asio::use_awaitable, ec));
  resolver_.reset();
  if (ec) co_return ec == asio::error::operation_aborted ? UpstreamFault::kTimeout
                                                         : UpstreamFault::kResolve;

  tcp::socket socket(executor_);
  transport_.emplace(std::move(socket));
  co_await asio::async_connect(transport_->socket(), endpoints,
                               asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    close();
    co_return ec == asio::error::operation_aborted ? UpstreamFault::kTimeout
                                                   : UpstreamFault::kConnect;
  }
  set_low_latency(transport_->socket());

  smtp::Reply reply;
  if (auto f = co_await read_reply(reply); f != UpstreamFault::kNone) {
    close();
    co_return f;
  }
  if (reply.code != 220) {
    last_reply_ = reply;
    close();
    co_return UpstreamFault::kRejected;
  }
  std::string ehlo = "EHLO " + helo_domain + "\r\n";
  if (auto f = co_await command(ehlo, reply); f != UpstreamFault::kNone) {
    close();
    co_return f;
  }
  if (reply.code == 250) {
    esmtp_ = true;
    capabilities_ = smtp::parse_ehlo_reply(reply);
    co_return UpstreamFault::kNone;
  }
  if (reply.permanent()) {
    // RFC 5321 §3.2: a server that does not know EHLO answers 5xx; fall back to HELO.
    std::string helo = "HELO " + helo_domain + "\r\n";
    if (auto f = co_await command(helo, reply); f != UpstreamFault::kNone) {
      close();
      co_return f;
    }
    if (reply.code == 250) co_return UpstreamFault::kNone;
  }
  last_reply_ = reply;
  close();
  co_return UpstreamFault::kRejected;
}

awaitable<UpstreamFault> UpstreamConnection::write(std::string_view wire) {
  if (!is_open()) co_return UpstreamFault::kClosed;
  boost::system::error_code ec;
  co_await transport_->write(wire, ec);
  if (ec) co_return ec == asio::error::operation_aborted ? UpstreamFault::kTimeout
                                                         : UpstreamFault::kClosed;
  co_return UpstreamFault::kNone;
}

awaitable<UpstreamFault> UpstreamConnection::command(std::string_view wire, smtp::Reply& reply) {
  if (auto f = co_await write(wire); f != UpstreamFault::kNone) co_return f;
  co_return co_await read_reply(reply);
}

awaitable<UpstreamFault> UpstreamConnection::read_reply(smtp::Reply& reply) {
  if (!is_open()) co_return UpstreamFault::kClosed;
  while (true) {
    // Parse every complete line already buffered.
    while (true) {
      std::string_view data = input_.data();
      std::size_t crlf = data.find("\r\n");
      if (crlf == std::string_view::npos) {
        if (data.size() > smtp::ReplyParser::kMaxLineOctets) co_return UpstreamFault::kProtocol;
        break;
      }
      auto status = parser_.feed_line(data.substr(0, crlf));
      input_.consume(crlf + 2);
      if (status == smtp::ReplyParser::Status::kError) co_return UpstreamFault::kProtocol;
      if (status == smtp::ReplyParser::Status::kComplete) {
        reply = parser_.take();
        last_reply_ = reply;
        co_return UpstreamFault::kNone;
      }
    }
    boost::system::error_code ec;
    co_await transport_->read_some(input_, ec);
    if (ec) co_return ec == asio::error::operation_aborted ? UpstreamFault::kTimeout
                                                           : UpstreamFault::kClosed;
  }
}

awaitable<void> UpstreamConnection::quit() {
  if (is_open()) {
    boost::system::error_code ec;
    co_await transport_->write("QUIT\r\n", ec);
  }
  close();
}

void UpstreamConnection::cancel() {
  if (resolver_) resolver_->cancel();
  if (transport_) transport_->cancel();
}

void UpstreamConnection::close() {
  if (transport_) transport_->close();
  transport_.reset();
  input_.clear();
  parser_ = smtp::ReplyParser{};
}

bool UpstreamConnection::stale() const {
  return !is_open() || !input_.empty() || transport_->available() > 0;
}

}  // namespace gw::dataplane
