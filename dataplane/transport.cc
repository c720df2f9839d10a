// Plain TCP transport and input buffer.
#include "dataplane/transport.h"

#include "dataplane/socket_state.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace gw::dataplane {

asio::mutable_buffer InputBuffer::prepare() {
  if (begin_ != 0 && end_ == capacity_) {
    std::memmove(storage_.get(), storage_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  return asio::buffer(storage_.get() + end_, capacity_ - end_);
}

namespace {

// Synchronous operations on the socket (decrypt_now's look at what a peer sent, close()'s
// close_notify) then return would_block instead of waiting; Asio's asynchronous operations
// work the same either way.
void make_non_blocking(Socket& socket) {
  boost::system::error_code ignored;
  socket.non_blocking(true, ignored);
}

}  // namespace

Transport::Transport(Socket socket) : socket_(std::move(socket)) {}
Transport::Transport(const Executor& executor) : socket_(executor) {}

awaitable<std::size_t> Transport::read_some(asio::mutable_buffer space,
                                            boost::system::error_code& ec) {
  last_read_waited_ = false;
  if (tls_) co_return co_await tls_->async_read_some(space, asio::redirect_error(use_awaitable, ec));
  // A pending wait_error (the session's client watch) makes Asio re-arm epoll for the read,
  // which reports what is already queued: Asio's own read makes no useless recv() there.
  if (!tracks_reported_input() || space.size() == 0 || reads_rearm_epoll(socket_)) {
    co_return co_await socket_.async_read_some(space, asio::redirect_error(use_awaitable, ec));
  }
  if (input_reported(socket_)) {
    // Octets (or an end) may be there: one recv() now, as Asio's speculative read would.
    const ssize_t n = ::recv(socket_.native_handle(), space.data(), space.size(), MSG_DONTWAIT);
    if (n > 0) {
      ec = {};
      co_return static_cast<std::size_t>(n);
    }
    if (n == 0) {
      ec = asio::error::eof;
      co_return 0;
    }
    const int error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK) {
      mark_read_drained(socket_);  // nothing there: the read below waits for epoll's report
    } else if (error != EINTR) {  // interrupted: Asio's read below tries again
      ec.assign(error, boost::system::system_category());
      co_return 0;
    }
  }
  // The socket was found empty and epoll has reported nothing since: the read waits for
  // epoll's next report, with no recv() tried first (mark_read_drained).
  const std::size_t n =
      co_await socket_.async_read_some(space, asio::redirect_error(use_awaitable, ec));
  last_read_waited_ = true;
  co_return n;
}

awaitable<std::size_t> Transport::write(std::string_view data, boost::system::error_code& ec) {
  auto buffer = asio::buffer(data.data(), data.size());
  if (tls_) return asio::async_write(*tls_, buffer, asio::redirect_error(use_awaitable, ec));
  return asio::async_write(socket_, buffer, asio::redirect_error(use_awaitable, ec));
}

std::size_t Transport::write_now(std::string_view data, bool last) {
  if (tls_ || data.empty() || !socket_.is_open()) return 0;
  int flags = MSG_DONTWAIT | MSG_NOSIGNAL | (last ? MSG_MORE : 0);
  ssize_t n = ::send(socket_.native_handle(), data.data(), data.size(), flags);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

awaitable<void> Transport::handshake_server(asio::ssl::context& context,
                                            std::shared_ptr<void> keepalive,
                                            boost::system::error_code& ec) {
  tls_keepalive_ = std::move(keepalive);
  tls_ = std::make_unique<asio::ssl::stream<Socket&>>(socket_, context);
  make_non_blocking(socket_);
  co_await tls_->async_handshake(asio::ssl::stream_base::server,
                                 asio::redirect_error(use_awaitable, ec));
}

awaitable<void> Transport::handshake_client(std::shared_ptr<asio::ssl::context> context,
                                            const std::string& server_name, bool verify_hostname,
                                            boost::system::error_code& ec) {
  tls_ = std::make_unique<asio::ssl::stream<Socket&>>(socket_, *context);
  tls_keepalive_ = std::move(context);
  make_non_blocking(socket_);
  boost::system::error_code parse_ec;
  asio::ip::make_address(server_name, parse_ec);
  bool is_ip = !parse_ec;
  if (!server_name.empty() && !is_ip) {
    // SNI (RFC 6066 §3) only for host names, never for IP literals.
    SSL_ctrl(tls_->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(server_name.c_str()));
  }
  if (verify_hostname) {
    // Let OpenSSL check the name during chain verification (RFC 6125), so a mismatch is
    // reported as such ("hostname mismatch") rather than as an unspecified failure.
    SSL* ssl = tls_->native_handle();
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name.c_str())
                   : SSL_set1_host(ssl, server_name.c_str());
    if (ok != 1) {
      ec = asio::error::invalid_argument;
      co_return;
    }
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  }
  co_await tls_->async_handshake(asio::ssl::stream_base::client,
                                 asio::redirect_error(use_awaitable, ec));
}

std::string Transport::tls_description() const {
  if (!tls_) return {};
  SSL* ssl = tls_->native_handle();
  return std::string(SSL_get_version(ssl)) + " " + SSL_get_cipher_name(ssl);
}

std::string Transport::verify_error() const {
  if (!tls_) return {};
  long result = SSL_get_verify_result(tls_->native_handle());
  if (result == X509_V_OK) return {};
  return X509_verify_cert_error_string(result);
}

std::string Transport::sni() const {
  if (!tls_) return {};
  const char* name = SSL_get_servername(tls_->native_handle(), TLSEXT_NAMETYPE_host_name);
  return name ? name : "";
}

void Transport::cancel() {
  boost::system::error_code ignored;
  socket_.cancel(ignored);
}

void Transport::close() {
  boost::system::error_code ignored;
  if (tls_ && socket_.is_open() && SSL_is_init_finished(tls_->native_handle()) == 1) {
    // close_notify before the FIN (RFC 8446 §6.1; probe round 38: strict clients reported
    // a truncation after the 221). Not after a fatal error (OpenSSL leaves the handshake
    // state then). Marked as if the peer's close_notify had come, SSL_shutdown only writes
    // ours and reads nothing: waiting for the peer's would read whatever it still sends,
    // synchronously, for as long as it keeps the socket full (2.7 MB of a client's flood
    // after a 421 in one try). The
    // socket is non-blocking: the alert goes out if the socket takes it now.
    SSL_set_shutdown(tls_->native_handle(), SSL_RECEIVED_SHUTDOWN);
    tls_->shutdown(ignored);
  }
  // The shutdown() is needed although the socket is never shared: close() alone, with octets
  // the peer sent still unread, resets the connection instead of sending the FIN, and the
  // last reply (corked by write_now's MSG_MORE) never leaves (BR-12 and BR-23 scripts).
  socket_.shutdown(Socket::shutdown_both, ignored);
  socket_.close(ignored);
}

void Transport::abort() {
  boost::system::error_code ignored;
  socket_.set_option(asio::socket_base::linger(true, 0), ignored);
  socket_.close(ignored);
}

std::size_t Transport::tls_pending() const {
  if (!tls_) return 0;
  // TLS records already read from the socket but not yet handed to us: decrypted and
  // pending in OpenSSL, or still encrypted in the engine's input BIO. Without them a second
  // record sent in the same segment would pass for "nothing sent" (BR-23, BR-31).
  SSL* ssl = tls_->native_handle();
  std::size_t n = static_cast<std::size_t>(std::max(SSL_pending(ssl), 0));
  if (BIO* rbio = SSL_get_rbio(ssl)) n += BIO_ctrl_pending(rbio);
  return n;
}

bool Transport::socket_has_octets() {
  if (!socket_.is_open()) return false;
  char octet = 0;
  // At an urgent mark recv() steps over the urgent octet and peeks at what follows it.
  return ::recv(socket_.native_handle(), &octet, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

Transport::ExceptionalCondition Transport::exceptional_condition() {
  const int fd = socket_.native_handle();
  int error = 0;
  socklen_t size = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) == 0 && error != 0) {
    return ExceptionalCondition::kConnectionError;
  }
  char octet = 0;
  if (::recv(fd, &octet, 1, MSG_OOB | MSG_DONTWAIT) == 1) return ExceptionalCondition::kUrgentData;
  pollfd p{};
  p.fd = fd;
  p.events = POLLIN;
  if (::poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
    return ExceptionalCondition::kConnectionError;
  }
  return ExceptionalCondition::kNone;
}

Transport::Decrypted Transport::decrypt_now(InputBuffer& input) {
  auto space = input.prepare();
  if (space.size() == 0) return Decrypted::kData;  // no room to look: assume the worst
  boost::system::error_code ec;
  // The socket is non-blocking (handshake_*), so the synchronous read returns would_block
  // rather than wait once OpenSSL needs octets that have not arrived.
  const std::size_t n = tls_->read_some(space, ec);
  if (n > 0) {
    input.commit(n);
    return Decrypted::kData;
  }
  if (ec == asio::error::would_block || ec == asio::error::try_again) return Decrypted::kNothing;
  return Decrypted::kEnd;
}

bool Transport::unread_data(InputBuffer& input, bool look_at_socket) {
  if (!tls_) return look_at_socket && socket_has_octets();
  if (SSL_pending(tls_->native_handle()) > 0) return decrypt_now(input) == Decrypted::kData;
  const bool raw = tls_pending() > 0 || (look_at_socket && socket_has_octets());
  return raw && decrypt_now(input) == Decrypted::kData;
}

bool Transport::idle_records_say_stop(InputBuffer& input) {
  // A record that made OpenSSL answer (a TLS 1.2 HelloRequest gets a no_renegotiation
  // alert, and an OpenSSL server then drops the connection: probe round 39) leaves the
  // connection in doubt, so it counts as spoken. KeyUpdate and session tickets get no
  // answer here (OpenSSL answers a requested KeyUpdate with our next write).
  BIO* wbio = SSL_get_wbio(tls_->native_handle());
  const std::uint64_t written = wbio != nullptr ? BIO_number_written(wbio) : 0;
  if (decrypt_now(input) != Decrypted::kNothing) return true;
  return wbio != nullptr && BIO_number_written(wbio) != written;
}

void Transport::read_available(InputBuffer& input) {
  if (tls_) {
    // Stops when `input` is full too (unread_data() then reports data without reading).
    while (input.prepare().size() > 0 && unread_data(input)) {
    }
    return;
  }
  if (!socket_.is_open()) return;
  while (true) {
    auto space = input.prepare();
    if (space.size() == 0) return;
    const ssize_t n = ::recv(socket_.native_handle(), space.data(), space.size(), MSG_DONTWAIT);
    if (n <= 0) return;
    input.commit(static_cast<std::size_t>(n));
  }
}

bool Transport::peer_spoke_or_left(InputBuffer& input) {
  if (tls_ && tls_pending() > 0) return idle_records_say_stop(input);
  if (!tls_ && tracks_reported_input()) {
    // Plain TCP: read rather than peek. Nothing there (EAGAIN) also tells the reactor that
    // the reply read which follows the next command need not try a recv() first.
    auto space = input.prepare();
    if (space.size() > 0) {
      const ssize_t n = ::recv(socket_.native_handle(), space.data(), space.size(), MSG_DONTWAIT);
      if (n > 0) input.commit(static_cast<std::size_t>(n));
      if (n >= 0) return true;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        mark_read_drained(socket_);
        return false;
      }
      if (errno != EINTR) return true;
    }
  }
  char octet = 0;
  // Non-blocking peek: > 0 octets waiting, 0 the peer's FIN, -1 with EAGAIN nothing new,
  // any other error a reset (or a socket already unusable).
  const ssize_t n = ::recv(socket_.native_handle(), &octet, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0 && tls_) return idle_records_say_stop(input);
  if (n >= 0) return true;
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

void set_low_latency(Socket& socket) {
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
}

}  // namespace gw::dataplane
