#include "cli/tls_diagnosis.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <utility>
#include <algorithm>

#include "common/tls/client_tls_files.h"

namespace gw::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct Target {
  std::string host;
  std::string port;
};

// "host:port", "[v6]:port", "dns:///host:port"; nullopt for other gRPC target forms.
std::optional<Target> parse_target(std::string server) {
  if (server.rfind("dns:///", 0) == 0) server.erase(0, 7);
  Target target;
  if (!server.empty() && server.front() == '[') {
    const auto close = server.find(']');
    if (close == std::string::npos || close + 1 >= server.size() || server[close + 1] != ':') {
      return std::nullopt;
    }
    target.host = server.substr(1, close - 1);
    target.port = server.substr(close + 2);
  } else {
    const auto colon = server.find(':');
    if (colon == std::string::npos || server.find(':', colon + 1) != std::string::npos) {
      return std::nullopt;
    }
    target.host = server.substr(0, colon);
    target.port = server.substr(colon + 1);
  }
  if (target.host.empty() || target.port.empty()) return std::nullopt;
  return target;
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

int remaining_ms(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits until `fd` is ready for `events` or `deadline`; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  pollfd entry{fd, events, 0};
  for (;;) {
    const int ready = ::poll(&entry, 1, remaining_ms(deadline));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return false;
  }
}

// A non-blocking TCP connection to `target`, or -1.
int connect_tcp(const Target& target, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(target.host.c_str(), target.port.c_str(), &hints, &found) != 0) return -1;
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (fd.get() < 0) continue;
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS || !wait_for(fd.get(), POLLOUT, deadline)) continue;
      int error = 0;
      socklen_t length = sizeof error;
      if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
        continue;
      }
    }
    return fd.release();
  }
  return -1;
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Drives `step` (SSL_connect or SSL_read) until it completes, fails or the deadline passes.
// Returns the SSL_get_error code (SSL_ERROR_NONE on success); SSL_ERROR_WANT_READ on timeout.
template <class Step>
int drive(SSL* ssl, int fd, Clock::time_point deadline, Step step) {
  for (;;) {
    const int result = step();
    if (result > 0) return SSL_ERROR_NONE;
    const int error = SSL_get_error(ssl, result);
    if (error == SSL_ERROR_WANT_READ) {
      if (!wait_for(fd, POLLIN, deadline)) return error;
    } else if (error == SSL_ERROR_WANT_WRITE) {
      if (!wait_for(fd, POLLOUT, deadline)) return error;
    } else {
      return error;
    }
  }
}

// Without --tls-ca: does the server answer a TLS ClientHello with its certificate? (gctld's
// TLS listener closes a plaintext HTTP/2 connection without a word.)
std::string diagnose_plaintext(int fd, Clock::time_point deadline) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        &SSL_CTX_free);
  if (!ctx) return "";
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) return "";
  const int handshake = drive(ssl.get(), fd, deadline, [&] { return SSL_connect(ssl.get()); });
  ERR_clear_error();
  if (handshake == SSL_ERROR_NONE || SSL_get0_peer_certificate(ssl.get()) != nullptr) {
    return "the server speaks TLS: give --tls-ca (and --tls-cert/--tls-key if it asks for a "
           "client certificate)";
  }
  return "";
}

std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  return reason != nullptr ? reason : "";
}

// After a handshake gctld ended (TLS 1.3 checks the client certificate after it): its alert
// if it sent one, and the likely cause.
std::string refused_text(const std::string& reason, bool client_certificate_given) {
  std::string text = reason.empty() || reason == "unexpected eof while reading"
                         ? "gctld closed the connection during the TLS handshake"
                         : "gctld refused the TLS handshake (" + reason + ")";
  text += client_certificate_given
              ? ": it may not trust --tls-cert"
              : ": it may want a client certificate (--tls-cert, --tls-key)";
  return text;
}

// The client TLS context gctl's options make, or the local cause that stops it
// (common::load_client_tls_files; probe round 42: a key file given as --tls-ca said nothing).
using SslCtx = common::SslCtxPtr;
SslCtx client_context(const ChannelOptions& options, std::string& cause) {
  return common::load_client_tls_files(options.tls_ca_file, options.tls_cert_file,
                                       options.tls_key_file, cause);
}

std::string diagnose_tls(const ChannelOptions& options, const Target& target, int fd,
                         Clock::time_point deadline) {
  std::string cause;
  SslCtx ctx = client_context(options, cause);
  if (!ctx || !cause.empty()) return cause;
  const bool with_client_certificate = !options.tls_cert_file.empty();
  static constexpr unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof kAlpn);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) return "";
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (is_ip_literal(target.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, target.host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, target.host.c_str(), 0);
    // SSL_set_tlsext_host_name is a macro with a C cast.
    SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(target.host.c_str()));
  }
  ERR_clear_error();
  const int handshake = drive(ssl.get(), fd, deadline, [&] { return SSL_connect(ssl.get()); });
  if (handshake != SSL_ERROR_NONE) {
    const long verify = SSL_get_verify_result(ssl.get());
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      return "gctld's certificate does not name " + target.host +
             " (connect by a name or address its certificate holds)";
    }
    if (verify != X509_V_OK) {
      return std::string("gctld's certificate is not trusted by --tls-ca (") +
             X509_verify_cert_error_string(verify) + ")";
    }
    if (handshake == SSL_ERROR_WANT_READ || handshake == SSL_ERROR_WANT_WRITE) {
      return "";  // no answer in time: nothing to say about TLS
    }
    const unsigned long code = ERR_peek_last_error();
    const int reason = ERR_GET_REASON(code);
    // A server that sent its certificate speaks TLS, whatever ended the handshake after it
    // (TLS 1.2 asks for the client certificate there).
    const bool spoke_tls = SSL_get0_peer_certificate(ssl.get()) != nullptr;
    if (!spoke_tls && (code == 0 || reason == SSL_R_WRONG_VERSION_NUMBER ||
                       reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
                       reason == SSL_R_UNEXPECTED_EOF_WHILE_READING ||
                       reason == SSL_R_RECORD_LENGTH_MISMATCH)) {
      return "the server does not speak TLS (gctld started without --tls-cert? then leave out "
             "--tls-ca)";
    }
    return refused_text(openssl_reason(), with_client_certificate);
  }
  // TLS 1.3: a refused client certificate is only known after the handshake, from the
  // server's alert; gctld sends its HTTP/2 settings otherwise.
  char byte = 0;
  ERR_clear_error();
  const auto short_deadline = std::min(deadline, Clock::now() + std::chrono::milliseconds(800));
  const int read =
      drive(ssl.get(), fd, short_deadline, [&] { return SSL_read(ssl.get(), &byte, 1); });
  if (read == SSL_ERROR_SSL || read == SSL_ERROR_SYSCALL || read == SSL_ERROR_ZERO_RETURN) {
    return refused_text(openssl_reason(), with_client_certificate);
  }
  return "";
}

}  // namespace

std::string diagnose_unreachable(const ChannelOptions& options,
                                 std::chrono::milliseconds timeout) {
  if (!options.tls_ca_file.empty()) {
    // A local cause first: it holds whatever the server is.
    std::string cause;
    client_context(options, cause);
    if (!cause.empty()) return cause;
  }
  const auto target = parse_target(options.server);
  if (!target) return "";
  const auto deadline = Clock::now() + timeout;
  Fd fd(connect_tcp(*target, deadline));
  if (fd.get() < 0) return "";
  if (options.tls_ca_file.empty()) return diagnose_plaintext(fd.get(), deadline);
  return diagnose_tls(options, *target, fd.get(), deadline);
}

}  // namespace gw::cli
