// One SMTP connection of the TLS benchmark tools (gw-smtp-sink, gw-smtp-source): a TCP socket
// upgraded in place to TLS after STARTTLS (RFC 3207), a bounded input buffer parsed in place,
// and a deadline watchdog (Asio 1.18 has no cancel_after: the watchdog closes the socket).
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "dataplane/asio.h"

namespace gw::bench {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
template <typename T = void>
using awaitable = asio::awaitable<T>;

/// A plain TCP connection that can become TLS once (start_tls + handshake). Errors come back
/// through `ec` (never thrown); an operation stopped by the watchdog ends with
/// asio::error::operation_aborted or bad_descriptor and timed_out() is then true.
///
/// Not thread-safe: every call, and the watchdog, run on the socket's executor (both tools run
/// one io_context per thread, so a connection never changes thread). Always held by
/// shared_ptr (the watchdog keeps one); call close() when done so the watchdog ends.
class SmtpStream : public std::enable_shared_from_this<SmtpStream> {
 public:
  using clock = std::chrono::steady_clock;
  /// Input buffer capacity: the longest line (reply or command) the tools accept.
  static constexpr std::size_t kBufferSize = 64 * 1024;

  /// Takes a connected socket (TCP_NODELAY is set here). `timeout`: the longest any single
  /// read, write or handshake may wait before the watchdog closes the socket.
  SmtpStream(tcp::socket socket, clock::duration timeout);
  SmtpStream(const SmtpStream&) = delete;
  SmtpStream& operator=(const SmtpStream&) = delete;

  /// Starts the watchdog coroutine on the socket's executor.
  void start_watchdog();
  /// Closes the socket (no TLS close_notify: see shutdown()) and ends the watchdog.
  void close();
  [[nodiscard]] bool timed_out() const { return timed_out_; }

  /// The next line without its CRLF (a bare LF also ends a line: these are load tools, not
  /// validators). The view points into the input buffer and stays valid until the next read
  /// call. A line longer than kBufferSize fails with asio::error::message_size.
  awaitable<std::string_view> read_line(error_code& ec);
  /// True if a complete line is already buffered (read_line will not touch the socket).
  [[nodiscard]] bool has_line() const;
  /// Reads an SMTP reply (RFC 5321 §4.2: "ddd-" lines then one "ddd " line) and returns its
  /// code, or 0 on a malformed line. With `text`, the reply's lines are appended to it.
  awaitable<int> read_reply(error_code& ec, std::string* text = nullptr);

  /// Octets buffered and not consumed yet; consume() drops the first `n` of them.
  [[nodiscard]] std::string_view buffered() const {
    return {buffer_.get() + begin_, end_ - begin_};
  }
  void consume(std::size_t n);
  /// Reads at least one more octet into the buffer.
  awaitable<void> fill(error_code& ec);

  /// Writes all of `data` (kept alive by the caller until the write completes).
  awaitable<void> write(std::string_view data, error_code& ec);

  /// Puts a TLS layer with `context` (which must outlive this stream) over the socket and
  /// drops any buffered plaintext (RFC 3207 §4.2: nothing sent before the handshake counts).
  /// Returns the SSL object, to set SNI or host name checks before handshake().
  SSL* start_tls(asio::ssl::context& context);
  /// The TLS handshake of the layer start_tls() put in place.
  awaitable<void> handshake(asio::ssl::stream_base::handshake_type type, error_code& ec);
  /// TLS close_notify exchange (RFC 8446 §6.1) when encrypted; nothing otherwise.
  awaitable<void> shutdown(error_code& ec);
  [[nodiscard]] bool encrypted() const { return tls_ != nullptr; }
  /// "TLSv1.3 TLS_AES_256_GCM_SHA384", or "" before TLS.
  [[nodiscard]] std::string tls_description() const;

 private:
  static awaitable<void> watch(std::shared_ptr<SmtpStream> self);
  void touch() { deadline_ = clock::now() + timeout_; }

  tcp::socket socket_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  clock::duration timeout_;
  clock::time_point deadline_;
  asio::steady_timer timer_;
  bool closed_ = false;
  bool timed_out_ = false;
  std::unique_ptr<char[]> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace gw::bench
