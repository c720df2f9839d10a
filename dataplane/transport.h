// A byte stream to one SMTP peer (client or upstream): plain TCP now, TLS-capable later
// (RFC 3207 upgrade in place), plus the bounded input buffer the session parses in place.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/asio.h"

namespace gw::dataplane {

/// Bytes read from a peer and not yet consumed. Fixed capacity (no growth: every line and
/// chunk the session keeps is bounded by its limits, STYLE.md "every read is bounded").
class InputBuffer {
 public:
  // Not zero-filled: only octets read from the peer are ever looked at (benchmark: the
  // memset of a zeroed vector was the top user-space cost per connection).
  explicit InputBuffer(std::size_t capacity)
      : storage_(new char[capacity]), capacity_(capacity) {}

  [[nodiscard]] std::string_view data() const {
    return {storage_.get() + begin_, end_ - begin_};
  }
  [[nodiscard]] bool empty() const { return begin_ == end_; }
  [[nodiscard]] std::size_t size() const { return end_ - begin_; }
  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void clear() { begin_ = end_ = 0; }
  /// Free space to read into, compacting first; empty if the buffer is full.
  asio::mutable_buffer prepare();
  void commit(std::size_t n) { end_ += n; }

 private:
  std::unique_ptr<char[]> storage_;
  std::size_t capacity_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

/// One connected stream, plain or TLS (upgraded in place: implicit TLS right after
/// connect/accept, STARTTLS after the 220, RFC 3207 / RFC 8314). Reads and writes report
/// errors through `ec` (never throw); an operation cancelled by cancel() ends with
/// asio::error::operation_aborted. Not thread-safe: use from the owning session's thread
/// (its io_context).
class Transport {
 public:
  explicit Transport(Socket socket);
  /// A stream not yet connected, on `executor` (an upstream connection before its connect).
  explicit Transport(const Executor& executor);
  Transport(Transport&&) = delete;

  /// TLS handshake as server with `context` (kept alive by the transport). The caller must
  /// have discarded any plaintext octets it buffered (RFC 3207 §4.2, field case BR-05).
  /// `keepalive` owns `context` and is held as long as the transport.
  awaitable<void> handshake_server(asio::ssl::context& context, std::shared_ptr<void> keepalive,
                                   boost::system::error_code& ec);
  /// TLS handshake as client: SNI `server_name` (if not an IP literal), and, when
  /// `verify_hostname`, RFC 6125 host name verification of the peer's certificate against it.
  awaitable<void> handshake_client(std::shared_ptr<asio::ssl::context> context,
                                   const std::string& server_name, bool verify_hostname,
                                   boost::system::error_code& ec);
  [[nodiscard]] bool encrypted() const { return tls_ != nullptr; }
  /// Negotiated protocol and cipher ("TLSv1.3 TLS_AES_256_GCM_SHA384"), empty if plain.
  [[nodiscard]] std::string tls_description() const;
  /// Why the peer's certificate was refused, or "" (OpenSSL's verify result text).
  [[nodiscard]] std::string verify_error() const;
  /// The SNI host name the client sent, or "".
  [[nodiscard]] std::string sni() const;

  /// Reads what is available (at least one octet) into `space` (from InputBuffer::prepare;
  /// the caller commits the count); errors in `ec` (asio::error::eof at the peer's FIN).
  /// Plain TCP reads with as few system calls as Asio 1.74's reactor allows: a read that
  /// finds the socket empty (EAGAIN) tells the reactor so (mark_read_drained,
  /// socket_state.h), and the read then waits for epoll's report, as does the next read
  /// while epoll has reported nothing since, without a recv() that would find nothing. The
  /// socket's io_context must be run by one thread.
  awaitable<std::size_t> read_some(asio::mutable_buffer space, boost::system::error_code& ec);
  /// True if the last read_some() waited for epoll's report rather than finding octets (or
  /// an end) at once.
  [[nodiscard]] bool last_read_waited() const { return last_read_waited_; }
  /// Writes all of `data` (kept alive by the caller until the write completes); returns the
  /// octets written. Returns the Asio operation itself rather than wrapping it in a
  /// coroutine of its own: one coroutine frame less per write (hot path).
  awaitable<std::size_t> write(std::string_view data, boost::system::error_code& ec);
  /// Plain TCP: writes what the socket takes at once, without blocking, and returns the octets
  /// written (0 with TLS, or when the socket takes nothing now or failed: the caller then
  /// writes the rest with write(), which also reports the error). A reply or a command
  /// nearly always fits, so the usual write costs one send() and no asynchronous operation
  /// (benchmark: half of grelayd's per-message user time was Asio per-operation overhead).
  /// With `last`, the octets are sent with MSG_MORE so that a close() right after puts its
  /// FIN in the same segment (one wake-up of the peer instead of two). Never call it while a
  /// write() is pending.
  std::size_t write_now(std::string_view data, bool last = false);
  /// Cancels pending reads/writes (watchdog); the stream stays usable.
  void cancel();
  /// Shuts down and closes; further operations fail.
  void close();
  /// Closes with a reset (SO_LINGER 0): octets still queued for the peer are discarded, not
  /// sent. For giving up on an upstream that may not have read the end of data yet.
  void abort();
  [[nodiscard]] bool is_open() const { return socket_.is_open(); }
  /// True if the kernel holds stream octets from the peer that no read has returned yet,
  /// found with a one-octet non-blocking MSG_PEEK recv(). Not FIONREAD: it counts only up to
  /// a pending TCP urgent mark, so octets sent after an urgent octet went unseen (probe round
  /// 54: "DATA" CRLF, an urgent octet, then content passed the BR-23 check and was relayed).
  /// The urgent octet itself (no part of the stream without SO_OOBINLINE) and a FIN are no
  /// octets. Raw socket octets: over TLS they may be records that carry no SMTP octets. For
  /// the plaintext leg of STARTTLS; elsewhere see unread_data().
  [[nodiscard]] bool socket_has_octets();
  /// Whether the peer sent SMTP octets that no read has returned yet, found without
  /// waiting. Used to spot pipelining (BR-23) and an upstream that spoke unasked (BR-31).
  /// - Plain TCP: socket_has_octets() when `look_at_socket`, else false; nothing is read.
  /// - TLS: records OpenSSL or the socket (when `look_at_socket`) hold are decrypted now and
  ///   the application data they carry is appended to `input`, where the caller's next parse
  ///   finds it. Records that carry none count for nothing: a TLS 1.3 KeyUpdate or
  ///   NewSessionTicket (RFC 8446 §4.6; probe round 38: a client's KeyUpdate during an
  ///   upstream wait got 503 and the connection closed), a record not complete yet, an alert
  ///   (the next read reports the close or the error). A full `input` counts as data.
  bool unread_data(InputBuffer& input, bool look_at_socket = true);
  /// Appends to `input` what the peer sent and no read has returned yet, without waiting,
  /// until the socket has nothing more or `input` is full: over TLS the application data of
  /// the records there (decrypted now). A reply the peer sent before it reset the connection
  /// is still read. Errors end the reading silently (the next read reports them).
  void read_available(InputBuffer& input);
  /// True if the peer sent SMTP octets no read has returned yet or has closed or reset the
  /// connection (FIN, RST, a TLS close_notify or fatal alert), found without waiting. Plain
  /// TCP: one non-blocking recv() into `input` (octets found are appended there; EAGAIN
  /// marks the socket drained, so the next read waits without trying: read_some), or a
  /// MSG_PEEK recv() when `input` is full or the reactor is not one socket_state.h knows.
  /// TLS: records are decrypted as by unread_data() (application data is appended to
  /// `input`), so a KeyUpdate or session ticket alone does not count, while a renegotiation
  /// request (refused with an alert, after which the peer may drop the connection) does.
  /// Used before reusing an idle upstream connection and before each command sent on it.
  bool peer_spoke_or_left(InputBuffer& input);
  /// What completed an asynchronous wait_error on socket(): Asio's epoll reactor reports
  /// TCP urgent data (EPOLLPRI) there as well as connection errors.
  enum class ExceptionalCondition {
    kConnectionError,  ///< a pending socket error (SO_ERROR: a RST) or a hang-up
    kUrgentData,       ///< an urgent octet, now read and discarded (MSG_OOB)
    kNone,             ///< neither any more
  };
  /// Classifies the condition without blocking: getsockopt(SO_ERROR) (which clears it), a
  /// non-blocking recv(MSG_OOB), then poll() for POLLERR/POLLHUP. SMTP has no urgent data
  /// (RFC 5321); without SO_OOBINLINE the urgent octet is no part of the stream, so it is
  /// dropped rather than taken for a broken connection (probe round 28).
  [[nodiscard]] ExceptionalCondition exceptional_condition();
  Socket& socket() { return socket_; }

 private:
  /// Over TLS: octets read from the socket but not handed to us yet (decrypted in OpenSSL,
  /// or still encrypted in the engine's input BIO). No system call.
  [[nodiscard]] std::size_t tls_pending() const;
  enum class Decrypted { kData, kNothing, kEnd };
  /// Over TLS: one SSL_read that never waits (the socket is in non-blocking mode from the
  /// handshake on), its application data appended to `input`.
  Decrypted decrypt_now(InputBuffer& input);
  /// Over TLS, for peer_spoke_or_left: decrypt_now() found data or an end, or the records
  /// made OpenSSL write an answer (an alert refusing a renegotiation).
  bool idle_records_say_stop(InputBuffer& input);

  Socket socket_;
  std::shared_ptr<void> tls_keepalive_;
  std::unique_ptr<asio::ssl::stream<Socket&>> tls_;
  bool last_read_waited_ = false;
};

/// Sets TCP_NODELAY (SMTP is request/response: Nagle + delayed ACK stall ~40 ms per reply,
/// STYLE.md "Performance habits").
void set_low_latency(Socket& socket);

}  // namespace gw::dataplane
