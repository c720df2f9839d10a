// gw-smtp-sink: an SMTP server that accepts every message and throws it away, with STARTTLS
// (RFC 3207) when given a certificate. The upstream of tls_bench.sh (tests/bench/README.md).
#include <openssl/ssl.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/tls/end_of_data.h"
#include "tests/bench/tls/smtp_stream.h"

namespace gw::bench {
namespace {

struct SinkOptions {
  std::string listen = "127.0.0.1";
  std::uint16_t port = 0;
  std::string port_file;
  std::string cert_file;
  std::string key_file;
  std::string hostname = "sink.bench.test";
  unsigned threads = 1;
  unsigned timeout_s = 300;
};

/// Counters of the whole process (relaxed atomics: sessions on several threads add to them;
/// XSTATS and the exit report read them).
struct SinkStats {
  std::atomic<std::uint64_t> sessions{0};
  std::atomic<std::uint64_t> messages{0};
  std::atomic<std::uint64_t> handshakes{0};
  std::atomic<std::uint64_t> tls_failures{0};
  std::atomic<std::uint64_t> errors{0};

  /// One line, for the XSTATS reply: "messages=N sessions=N handshakes=N tls_failures=N
  /// errors=N".
  [[nodiscard]] std::string line() const {
    return "messages=" + std::to_string(messages.load()) +
           " sessions=" + std::to_string(sessions.load()) +
           " handshakes=" + std::to_string(handshakes.load()) +
           " tls_failures=" + std::to_string(tls_failures.load()) +
           " errors=" + std::to_string(errors.load());
  }
  [[nodiscard]] nlohmann::json json() const {
    return {{"messages", messages.load()},
            {"sessions", sessions.load()},
            {"handshakes", handshakes.load()},
            {"tls_failures", tls_failures.load()},
            {"errors", errors.load()}};
  }
};

/// What every session shares, read-only once the sink runs (the stats excepted).
struct SinkConfig {
  asio::ssl::context* tls = nullptr;  // null: no STARTTLS
  std::string banner;
  std::string ehlo_plain;  // before TLS: with STARTTLS when `tls` is set
  std::string ehlo_tls;    // after TLS: without STARTTLS (RFC 3207 §4.2)
  std::string helo;
  std::chrono::seconds timeout{300};
  SinkStats* stats = nullptr;
};

SinkConfig make_config(const SinkOptions& o, asio::ssl::context* tls, SinkStats& stats) {
  SinkConfig c;
  c.tls = tls;
  c.banner = "220 " + o.hostname + " ESMTP gw-smtp-sink\r\n";
  std::string common = "250-" + o.hostname + "\r\n250-PIPELINING\r\n250-SIZE 1073741824\r\n";
  c.ehlo_tls = common + "250 8BITMIME\r\n";
  c.ehlo_plain = tls != nullptr ? common + "250-8BITMIME\r\n250 STARTTLS\r\n" : c.ehlo_tls;
  c.helo = "250 " + o.hostname + "\r\n";
  c.timeout = std::chrono::seconds(o.timeout_s);
  c.stats = &stats;
  return c;
}

/// The command verb (the line up to the first space), upper-cased; "" if over 8 octets.
std::string verb_of(std::string_view line) {
  std::string_view word = line.substr(0, line.find(' '));
  if (word.size() > 8) return {};
  std::string verb(word);  // at most 8 octets: no heap allocation
  for (char& c : verb) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return verb;
}

/// Reads the message after 354 up to CRLF.CRLF, discarding it; leaves pipelined octets after
/// the terminator in the buffer.
awaitable<void> skip_body(SmtpStream& s, error_code& ec) {
  EndOfDataScanner scanner;
  while (true) {
    std::string_view data = s.buffered();
    if (!data.empty()) {
      std::size_t n = scanner.feed(data);
      if (n != EndOfDataScanner::npos) {
        s.consume(n);
        co_return;
      }
      s.consume(data.size());
    }
    co_await s.fill(ec);
    if (ec) co_return;
  }
}

/// One client connection, from the banner to QUIT or EOF. Replies to pipelined commands are
/// gathered and written in one write when the input holds no further complete line
/// (RFC 2920 §3.1; never one write per reply, STYLE.md "Performance habits").
awaitable<void> serve(std::shared_ptr<SmtpStream> s, const SinkConfig* c) {
  SinkStats& stats = *c->stats;
  stats.sessions.fetch_add(1, std::memory_order_relaxed);
  s->start_watchdog();
  std::string out = c->banner;
  bool greeted = false;
  bool mail = false;
  unsigned rcpts = 0;
  error_code ec;
  while (true) {
    if (!out.empty() && !s->has_line()) {
      co_await s->write(out, ec);
      out.clear();
      if (ec) break;
    }
    std::string_view line = co_await s->read_line(ec);
    if (ec) break;  // EOF, reset or timeout: the client went away
    std::string verb = verb_of(line);
    if (verb == "EHLO" || verb == "HELO") {
      greeted = true;
      mail = false;
      rcpts = 0;
      out += verb == "HELO" ? c->helo : (s->encrypted() ? c->ehlo_tls : c->ehlo_plain);
    } else if (verb == "MAIL") {
      if (!greeted || mail) {
        out += "503 5.5.1 Error: send EHLO first, one MAIL per transaction\r\n";
      } else {
        mail = true;
        out += "250 2.1.0 Ok\r\n";
      }
    } else if (verb == "RCPT") {
      if (!mail) {
        out += "503 5.5.1 Error: need MAIL command\r\n";
      } else {
        ++rcpts;
        out += "250 2.1.5 Ok\r\n";
      }
    } else if (verb == "DATA") {
      if (rcpts == 0) {
        out += "503 5.5.1 Error: need RCPT command\r\n";
        continue;
      }
      out += "354 End data with <CR><LF>.<CR><LF>\r\n";
      co_await s->write(out, ec);
      out.clear();
      if (ec) break;
      co_await skip_body(*s, ec);
      if (ec) break;
      // Counted before the 250 goes out: a client that saw every 250 sees every count.
      stats.messages.fetch_add(1, std::memory_order_relaxed);
      mail = false;
      rcpts = 0;
      out += "250 2.0.0 Ok: queued as gw-smtp-sink\r\n";
    } else if (verb == "RSET") {
      mail = false;
      rcpts = 0;
      out += "250 2.0.0 Ok\r\n";
    } else if (verb == "NOOP") {
      out += "250 2.0.0 Ok\r\n";
    } else if (verb == "QUIT") {
      out += "221 2.0.0 Bye\r\n";
      co_await s->write(out, ec);
      out.clear();
      if (!ec) {
        error_code ignored;  // a client that closes without close_notify is no error here
        co_await s->shutdown(ignored);
      }
      break;
    } else if (verb == "STARTTLS") {
      if (c->tls == nullptr) {
        out += "502 5.5.1 Error: STARTTLS not offered\r\n";
      } else if (s->encrypted()) {
        out += "503 5.5.1 Error: TLS already active\r\n";
      } else {
        out += "220 2.0.0 Ready to start TLS\r\n";
        co_await s->write(out, ec);
        out.clear();
        if (ec) break;
        s->start_tls(*c->tls);  // drops plaintext pipelined after STARTTLS (RFC 3207 §4.2)
        co_await s->handshake(asio::ssl::stream_base::server, ec);
        if (ec) {
          stats.tls_failures.fetch_add(1, std::memory_order_relaxed);
          ec = {};
          break;
        }
        stats.handshakes.fetch_add(1, std::memory_order_relaxed);
        greeted = false;  // RFC 3207 §4.2: forget everything, expect a new EHLO
        mail = false;
        rcpts = 0;
      }
    } else if (verb == "XSTATS") {  // XSTATS: the benchmark's exact counters (not advertised)
      out += "250 " + stats.line() + "\r\n";
    } else {
      out += "500 5.5.2 Error: command not recognized\r\n";
    }
  }
  if (ec && ec != asio::error::eof && ec != asio::ssl::error::stream_truncated &&
      ec != asio::error::connection_reset) {
    stats.errors.fetch_add(1, std::memory_order_relaxed);
  }
  s->close();
}

awaitable<void> accept_loop(tcp::acceptor& acceptor,
                            std::vector<std::unique_ptr<asio::io_context>>& contexts,
                            const SinkConfig* config) {
  std::size_t next = 0;
  while (true) {
    error_code ec;
    asio::io_context& target = *contexts[next];
    next = (next + 1) % contexts.size();
    tcp::socket socket =
        co_await acceptor.async_accept(target, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // EMFILE and friends: say so, breathe, go on (the client sees a refused connection).
      std::cerr << "gw-smtp-sink: accept: " << ec.message() << "\n";
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    auto stream = std::make_shared<SmtpStream>(std::move(socket), config->timeout);
    asio::co_spawn(target, serve(std::move(stream), config), asio::detached);
  }
}

std::unique_ptr<asio::ssl::context> make_tls(const SinkOptions& o) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  ctx->use_certificate_chain_file(o.cert_file);
  ctx->use_private_key_file(o.key_file, asio::ssl::context::pem);
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    throw std::runtime_error("the key does not match the certificate");
  }
  return ctx;
}

int run(const SinkOptions& o) {
  std::unique_ptr<asio::ssl::context> tls;
  if (!o.cert_file.empty()) tls = make_tls(o);
  SinkStats stats;
  SinkConfig config = make_config(o, tls.get(), stats);

  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (unsigned i = 0; i < o.threads; ++i) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
  }
  asio::io_context& main = *contexts[0];
  tcp::endpoint endpoint(asio::ip::make_address(o.listen), o.port);
  tcp::acceptor acceptor(main);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(4096);
  std::uint16_t port = acceptor.local_endpoint().port();
  if (!o.port_file.empty()) {
    std::string tmp = o.port_file + ".tmp";  // written whole, then renamed: never half-read
    std::ofstream(tmp) << port << "\n";
    std::rename(tmp.c_str(), o.port_file.c_str());
  }
  std::cerr << "gw-smtp-sink: listening on " << o.listen << ":" << port
            << (tls ? " with STARTTLS" : "") << ", " << o.threads << " thread(s)\n";

  auto guards = std::vector<asio::executor_work_guard<asio::io_context::executor_type>>();
  for (auto& ctx : contexts) guards.push_back(asio::make_work_guard(*ctx));
  asio::signal_set signals(main, SIGINT, SIGTERM);
  signals.async_wait([&](const error_code&, int) {
    error_code ignored;
    acceptor.close(ignored);
    for (auto& ctx : contexts) ctx->stop();
  });
  asio::co_spawn(main, accept_loop(acceptor, contexts, &config), asio::detached);

  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < contexts.size(); ++i) {
    threads.emplace_back([ctx = contexts[i].get()] { ctx->run(); });
  }
  main.run();
  for (auto& t : threads) t.join();
  std::cout << stats.json().dump() << std::endl;
  return 0;
}

}  // namespace
}  // namespace gw::bench

int main(int argc, char** argv) {
  gw::bench::SinkOptions o;
  CLI::App app{"gw-smtp-sink: SMTP server that discards every message, STARTTLS optional"};
  app.add_option("--listen", o.listen, "address to listen on")->capture_default_str();
  app.add_option("--port", o.port, "port (0: any free port, see --port-file)")
      ->capture_default_str();
  app.add_option("--port-file", o.port_file, "write the port listened on to this file");
  app.add_option("--cert", o.cert_file, "PEM certificate chain: offer STARTTLS")
      ->check(CLI::ExistingFile);
  app.add_option("--key", o.key_file, "PEM private key of --cert")->check(CLI::ExistingFile);
  app.add_option("--hostname", o.hostname, "name in the banner and EHLO reply")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "event-loop threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--timeout", o.timeout_s, "seconds any one read or write may wait")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (o.cert_file.empty() != o.key_file.empty()) {
    std::cerr << "gw-smtp-sink: --cert and --key go together\n";
    return 2;
  }
  try {
    return gw::bench::run(o);
  } catch (const std::exception& e) {
    std::cerr << "gw-smtp-sink: " << e.what() << "\n";
    return 1;
  }
}
