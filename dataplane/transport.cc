// Plain TCP transport and input buffer.
#include "dataplane/transport.h"

#include <cstring>

namespace gw::dataplane {

asio::mutable_buffer InputBuffer::prepare() {
  if (begin_ != 0 && end_ == storage_.size()) {
    std::memmove(storage_.data(), storage_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  return asio::buffer(storage_.data() + end_, storage_.size() - end_);
}

Transport::Transport(tcp::socket socket) : socket_(std::move(socket)) {}

awaitable<std::size_t> Transport::read_some(InputBuffer& buffer, boost::system::error_code& ec) {
  auto space = buffer.prepare();
  if (space.size() == 0) {
    ec = asio::error::no_buffer_space;
    co_return 0;
  }
  std::size_t n =
      co_await socket_.async_read_some(space, asio::redirect_error(asio::use_awaitable, ec));
  buffer.commit(n);
  co_return n;
}

awaitable<void> Transport::write(std::string_view data, boost::system::error_code& ec) {
  co_await asio::async_write(socket_, asio::buffer(data.data(), data.size()),
                             asio::redirect_error(asio::use_awaitable, ec));
}

void Transport::cancel() {
  boost::system::error_code ignored;
  socket_.cancel(ignored);
}

void Transport::close() {
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

std::size_t Transport::available() const {
  boost::system::error_code ec;
  std::size_t n = socket_.available(ec);
  return ec ? 0 : n;
}

void set_low_latency(tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
}

}  // namespace gw::dataplane
