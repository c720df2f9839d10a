// One SMTP connection of the TLS benchmark tools: plain or TLS I/O, line buffer, watchdog.
#include "tests/bench/tls/smtp_stream.h"

#include <cstring>

namespace gw::bench {

SmtpStream::SmtpStream(tcp::socket socket, clock::duration timeout)
    : socket_(std::move(socket)),
      timeout_(timeout),
      deadline_(clock::now() + timeout),
      timer_(socket_.get_executor()),
      buffer_(new char[kBufferSize]) {
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
}

void SmtpStream::start_watchdog() {
  asio::co_spawn(socket_.get_executor(), watch(shared_from_this()), asio::detached);
}

// Sleeps until the deadline; if no operation moved it meanwhile, closes the socket, which
// ends the pending operation with an error. One timer wait per timeout period, not per I/O.
awaitable<void> SmtpStream::watch(std::shared_ptr<SmtpStream> self) {
  while (!self->closed_) {
    self->timer_.expires_at(self->deadline_);
    error_code ec;
    co_await self->timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (self->closed_) break;
    if (self->deadline_ <= clock::now()) {
      self->timed_out_ = true;
      self->close();
    }
  }
}

void SmtpStream::close() {
  if (closed_) return;
  closed_ = true;
  error_code ignored;
  socket_.close(ignored);
  timer_.cancel();
}

void SmtpStream::consume(std::size_t n) {
  begin_ += n;
  if (begin_ >= end_) begin_ = end_ = 0;
}

awaitable<void> SmtpStream::fill(error_code& ec) {
  if (begin_ > 0) {
    std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == kBufferSize) {
    ec = asio::error::message_size;
    co_return;
  }
  touch();
  asio::mutable_buffer space(buffer_.get() + end_, kBufferSize - end_);
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  std::size_t n = 0;  // g++ 12 and co_await inside ?: do not mix well: plain branches
  if (tls_) {
    n = co_await tls_->async_read_some(space, token);
  } else {
    n = co_await socket_.async_read_some(space, token);
  }
  if (!ec) end_ += n;
}

bool SmtpStream::has_line() const { return buffered().find('\n') != std::string_view::npos; }

awaitable<std::string_view> SmtpStream::read_line(error_code& ec) {
  while (true) {
    std::string_view data = buffered();
    std::size_t lf = data.find('\n');
    if (lf != std::string_view::npos) {
      std::string_view line = data.substr(0, lf);
      consume(lf + 1);  // only moves indices: the octets stay in place until the next fill
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      co_return line;
    }
    co_await fill(ec);
    if (ec) co_return std::string_view{};
  }
}

awaitable<int> SmtpStream::read_reply(error_code& ec, std::string* text) {
  while (true) {
    std::string_view line = co_await read_line(ec);
    if (ec) co_return 0;
    if (line.size() < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
        line[2] < '0' || line[2] > '9' || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
      co_return 0;
    }
    if (text != nullptr) {
      text->append(line);
      text->append("\n");
    }
    if (line.size() == 3 || line[3] == ' ') {
      co_return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    }
  }
}

awaitable<void> SmtpStream::write(std::string_view data, error_code& ec) {
  touch();
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  if (tls_) {
    co_await asio::async_write(*tls_, asio::buffer(data), token);
  } else {
    co_await asio::async_write(socket_, asio::buffer(data), token);
  }
}

SSL* SmtpStream::start_tls(asio::ssl::context& context) {
  begin_ = end_ = 0;
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, context);
  return tls_->native_handle();
}

awaitable<void> SmtpStream::handshake(asio::ssl::stream_base::handshake_type type, error_code& ec) {
  touch();
  co_await tls_->async_handshake(type, asio::redirect_error(asio::use_awaitable, ec));
}

awaitable<void> SmtpStream::shutdown(error_code& ec) {
  if (!tls_) co_return;
  touch();
  co_await tls_->async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
}

std::string SmtpStream::tls_description() const {
  if (!tls_) return {};
  SSL* ssl = tls_->native_handle();
  return std::string(SSL_get_version(ssl)) + " " + SSL_get_cipher_name(ssl);
}

}  // namespace gw::bench
