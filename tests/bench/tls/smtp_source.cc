// gw-smtp-source: SMTP load generator with optional STARTTLS (RFC 3207): S concurrent sessions
// send N messages (or send for D seconds) and one JSON object reports messages/s, TLS
// handshakes/s and latency. The client of tls_bench.sh (tests/bench/README.md).
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/tls/latency_summary.h"
#include "tests/bench/tls/smtp_stream.h"

namespace gw::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct SourceOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 25;
  unsigned sessions = 10;
  std::uint64_t messages = 0;  // 0: --duration decides
  double duration_s = 0;
  std::size_t size = 1024;
  std::string mode = "close";  // close | reuse
  bool starttls = false;
  std::string ca_file;
  std::string server_name;  // default: host
  bool verify = true;
  std::string helo = "client.bench.test";
  std::string from = "sender@bench.example";
  std::string to = "rcpt@bench.example";
  unsigned threads = 1;
  unsigned timeout_s = 30;
};

/// The message after DATA, terminator included: four header lines, then `size` octets of
/// 80-octet lines (like Postfix smtp-source -l). No line starts with ".", so it needs no
/// dot-stuffing.
std::string make_message(const SourceOptions& o) {
  std::string m = "From: <" + o.from + ">\r\nTo: <" + o.to +
                  ">\r\nSubject: gw-smtp-source\r\nMessage-ID: <bench@bench.example>\r\n\r\n";
  std::size_t left = o.size;
  while (left > 0) {
    std::size_t n = std::min<std::size_t>(left, 80);
    m.append(n >= 2 ? n - 2 : n, 'x');
    if (n >= 2) m.append("\r\n");
    left -= n;
  }
  if (m.size() < 2 || m.compare(m.size() - 2, 2, "\r\n") != 0) m.append("\r\n");
  m.append(".\r\n");
  return m;
}

/// One event-loop thread and the latency samples (µs) of the sessions it runs.
struct Worker {
  asio::io_context context{1};
  std::vector<double> latencies_us;
};

/// What all sessions share. Counters are relaxed atomics (sessions run on several threads).
struct Shared {
  const SourceOptions* o = nullptr;
  tcp::endpoint target;
  asio::ssl::context* tls = nullptr;
  bool verify_ip = false;  // server name is an IP literal: check the IP SAN, send no SNI
  std::string mail_cmd, rcpt_cmd, ehlo_cmd;
  std::string message;
  bool reuse = false;
  Clock::time_point deadline;  // --duration
  std::atomic<std::uint64_t> claimed{0};
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> handshakes{0};
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> errors{0};
  std::mutex mutex;  // guards the two below; taken once per error and once per run
  std::map<std::string, std::uint64_t> error_kinds;
  std::string tls_description;

  /// Takes the right to send one more message: false when the count or time is used up.
  bool claim() {
    if (o->messages > 0) return claimed.fetch_add(1, std::memory_order_relaxed) < o->messages;
    return Clock::now() < deadline;
  }
  void error(const std::string& what) {
    errors.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex);
    ++error_kinds[what];
  }
};

/// Checks a reply; records the error and returns false when it is not `want`.
bool expect(Shared& sh, const char* step, int code, int want, const error_code& ec,
            const SmtpStream& s) {
  if (!ec && code == want) return true;
  std::string what = std::string(step) + ": ";
  if (s.timed_out()) {
    what += "timeout";
  } else if (ec) {
    what += ec.message();
  } else {
    what += "reply " + std::to_string(code);
  }
  sh.error(what);
  return false;
}

/// Sends `line` and reads the reply; returns its code (0 on an I/O error, see `ec`).
awaitable<int> command(SmtpStream& s, std::string_view line, error_code& ec,
                       std::string* text = nullptr) {
  co_await s.write(line, ec);
  if (ec) co_return 0;
  int code = co_await s.read_reply(ec, text);
  co_return code;
}

/// Capability `name` in an EHLO reply's text (RFC 5321 §4.1.1.1: "250-NAME" or "250 NAME").
bool has_capability(std::string_view text, std::string_view name) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    std::string_view line = text.substr(pos, end - pos);
    if (line.size() >= 4 + name.size()) {
      std::string_view word = line.substr(4, name.size());
      bool same = true;
      for (std::size_t i = 0; i < name.size(); ++i) {
        same = same && std::toupper(static_cast<unsigned char>(word[i])) == name[i];
      }
      if (same && (line.size() == 4 + name.size() || line[4 + name.size()] == ' ')) return true;
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return false;
}

/// STARTTLS, handshake (SNI and host name check as configured), new EHLO. False on failure
/// (already recorded).
awaitable<bool> upgrade(Shared& sh, SmtpStream& s) {
  error_code ec;
  int code = co_await command(s, "STARTTLS\r\n", ec);
  if (!expect(sh, "STARTTLS", code, 220, ec, s)) co_return false;
  SSL* ssl = s.start_tls(*sh.tls);
  const std::string& name = sh.o->server_name;
  if (!sh.verify_ip) {
    // SSL_set_tlsext_host_name is a macro with an old-style cast: call SSL_ctrl directly.
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(name.c_str()));
  }
  if (sh.o->verify) {
    int ok = sh.verify_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str())
                          : SSL_set1_host(ssl, name.c_str());
    if (ok != 1) {
      sh.error("TLS: bad server name " + name);
      co_return false;
    }
  }
  co_await s.handshake(asio::ssl::stream_base::client, ec);
  if (ec) {
    long verify = SSL_get_verify_result(ssl);
    sh.error("TLS handshake: " + (verify != X509_V_OK
                                      ? std::string(X509_verify_cert_error_string(verify))
                                      : (s.timed_out() ? std::string("timeout") : ec.message())));
    co_return false;
  }
  if (sh.handshakes.fetch_add(1, std::memory_order_relaxed) == 0) {
    std::lock_guard lock(sh.mutex);
    sh.tls_description = s.tls_description();
  }
  code = co_await command(s, sh.ehlo_cmd, ec);
  bool ok = expect(sh, "EHLO after TLS", code, 250, ec, s);
  co_return ok;
}

/// One connection: banner, EHLO, optional STARTTLS, then one message (close mode) or messages
/// until the claim fails (reuse mode), QUIT. The caller has claimed the first message.
awaitable<void> one_connection(Shared* shared, Worker* worker) {
  Shared& sh = *shared;
  Clock::time_point connect_start = Clock::now();
  tcp::socket socket(worker->context);
  error_code ec;
  co_await socket.async_connect(sh.target, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    sh.error("connect: " + ec.message());
    co_return;
  }
  sh.connections.fetch_add(1, std::memory_order_relaxed);
  auto stream =
      std::make_shared<SmtpStream>(std::move(socket), std::chrono::seconds(sh.o->timeout_s));
  struct Closer {  // every path out of this coroutine ends the watchdog
    SmtpStream* s;
    ~Closer() { s->close(); }
  } closer{stream.get()};
  SmtpStream& s = *stream;
  s.start_watchdog();

  int code = co_await s.read_reply(ec);
  if (!expect(sh, "banner", code, 220, ec, s)) co_return;
  std::string caps;
  code = co_await command(s, sh.ehlo_cmd, ec, &caps);
  if (!expect(sh, "EHLO", code, 250, ec, s)) co_return;
  if (sh.tls != nullptr) {
    if (!has_capability(caps, "STARTTLS")) {
      sh.error("EHLO: no STARTTLS offered");
      co_return;
    }
    bool upgraded = co_await upgrade(sh, s);  // a named local: g++ 12 (dataplane/asio.h)
    if (!upgraded) co_return;
  }

  bool first = true;
  do {
    // Close mode: the message's latency includes connect, banner, EHLO and TLS.
    Clock::time_point start = first && !sh.reuse ? connect_start : Clock::now();
    first = false;
    code = co_await command(s, sh.mail_cmd, ec);
    if (!expect(sh, "MAIL", code, 250, ec, s)) co_return;
    code = co_await command(s, sh.rcpt_cmd, ec);
    if (!expect(sh, "RCPT", code, 250, ec, s)) co_return;
    code = co_await command(s, "DATA\r\n", ec);
    if (!expect(sh, "DATA", code, 354, ec, s)) co_return;
    code = co_await command(s, sh.message, ec);
    if (!expect(sh, "end of data", code, 250, ec, s)) co_return;
    sh.delivered.fetch_add(1, std::memory_order_relaxed);
    worker->latencies_us.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  } while (sh.reuse && sh.claim());

  code = co_await command(s, "QUIT\r\n", ec);
  if (!expect(sh, "QUIT", code, 221, ec, s)) co_return;
  error_code ignored;  // the server may close without close_notify: not an error here
  co_await s.shutdown(ignored);
}

/// One of the S concurrent sessions: connections one after another while claims succeed.
awaitable<void> session(Shared* shared, Worker* worker) {
  while (shared->claim()) {
    co_await one_connection(shared, worker);
  }
}

std::unique_ptr<asio::ssl::context> make_tls(const SourceOptions& o) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  // Every handshake is a full one: no session cache, so close mode measures full handshakes.
  SSL_CTX_set_session_cache_mode(ctx->native_handle(), SSL_SESS_CACHE_OFF);
  if (o.verify) {
    ctx->set_verify_mode(asio::ssl::verify_peer);
    if (o.ca_file.empty()) {
      ctx->set_default_verify_paths();
    } else {
      ctx->load_verify_file(o.ca_file);
    }
  } else {
    ctx->set_verify_mode(asio::ssl::verify_none);
  }
  return ctx;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

int run(SourceOptions o) {
  if (o.server_name.empty()) o.server_name = o.host;
  Shared sh;
  sh.o = &o;
  sh.target = tcp::endpoint(asio::ip::make_address(o.host), o.port);
  std::unique_ptr<asio::ssl::context> tls;
  if (o.starttls) tls = make_tls(o);
  sh.tls = tls.get();
  error_code parse_ec;
  asio::ip::make_address(o.server_name, parse_ec);
  sh.verify_ip = !parse_ec;
  sh.ehlo_cmd = "EHLO " + o.helo + "\r\n";
  sh.mail_cmd = "MAIL FROM:<" + o.from + ">\r\n";
  sh.rcpt_cmd = "RCPT TO:<" + o.to + ">\r\n";
  sh.message = make_message(o);
  sh.reuse = o.mode == "reuse";

  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < o.threads; ++i) {
    workers.push_back(std::make_unique<Worker>());
    if (o.messages > 0) workers.back()->latencies_us.reserve(o.messages / o.threads + 16);
  }
  double cpu_start = cpu_seconds();
  Clock::time_point start = Clock::now();
  sh.deadline = start + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(o.duration_s));
  for (unsigned i = 0; i < o.sessions; ++i) {
    Worker* w = workers[i % workers.size()].get();
    asio::co_spawn(w->context, session(&sh, w), asio::detached);
  }
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < workers.size(); ++i) {
    threads.emplace_back([w = workers[i].get()] { w->context.run(); });
  }
  workers[0]->context.run();
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  double cpu = cpu_seconds() - cpu_start;

  std::vector<double> all;
  for (auto& w : workers) all.insert(all.end(), w->latencies_us.begin(), w->latencies_us.end());
  LatencySummary lat = summarize(std::move(all));
  std::uint64_t delivered = sh.delivered.load();
  std::uint64_t handshakes = sh.handshakes.load();
  nlohmann::json report = {
      {"target", o.host + ":" + std::to_string(o.port)},
      {"mode", o.mode},
      {"starttls", o.starttls},
      {"sessions", o.sessions},
      {"threads", o.threads},
      {"size", o.size},
      {"messages", delivered},
      {"connections", sh.connections.load()},
      {"handshakes", handshakes},
      {"errors", sh.errors.load()},
      {"error_kinds", sh.error_kinds},
      {"elapsed_s", elapsed},
      {"messages_per_s", elapsed > 0 ? static_cast<double>(delivered) / elapsed : 0.0},
      {"handshakes_per_s", elapsed > 0 ? static_cast<double>(handshakes) / elapsed : 0.0},
      {"latency_ms",
       {{"p50", lat.p50 / 1000},
        {"p99", lat.p99 / 1000},
        {"max", lat.max / 1000},
        {"mean", lat.mean / 1000}}},
      {"client_cpu_s", cpu},
      {"tls", sh.tls_description},
  };
  std::cout << report.dump() << std::endl;
  return sh.errors.load() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace gw::bench

int main(int argc, char** argv) {
  gw::bench::SourceOptions o;
  CLI::App app{
      "gw-smtp-source: SMTP load generator with optional STARTTLS; prints one JSON object.\n"
      "Exit status: 0 all messages delivered, 1 some session failed (see errors), 2 usage."};
  app.add_option("--host", o.host, "server IP address")->capture_default_str();
  app.add_option("--port", o.port, "server port")->required();
  app.add_option("--sessions,-s", o.sessions, "concurrent sessions")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  auto* messages = app.add_option("--messages,-m", o.messages, "messages in total");
  auto* duration = app.add_option("--duration,-d", o.duration_s,
                                  "send for this many seconds instead of --messages");
  messages->excludes(duration);
  app.add_option("--size,-l", o.size, "message payload octets after the headers")
      ->capture_default_str();
  app.add_option("--mode", o.mode,
                 "close: one message per connection (one handshake per message); reuse: all of "
                 "a session's messages over one connection")
      ->check(CLI::IsMember({"close", "reuse"}))
      ->capture_default_str();
  app.add_flag("--starttls", o.starttls, "STARTTLS after EHLO, then EHLO again (RFC 3207)");
  app.add_option("--tls-ca", o.ca_file, "PEM CA certificate(s) to verify the server against")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-server-name", o.server_name,
                 "name checked in the server's certificate and sent as SNI [--host]");
  app.add_flag("!--no-verify", o.verify, "do not verify the server's certificate");
  app.add_option("--helo", o.helo, "EHLO name")->capture_default_str();
  app.add_option("--from", o.from, "envelope sender")->capture_default_str();
  app.add_option("--to", o.to, "envelope recipient")->capture_default_str();
  app.add_option("--threads", o.threads, "event-loop threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--timeout", o.timeout_s, "seconds any one read or write may wait")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (o.messages == 0 && o.duration_s <= 0) {
    std::cerr << "gw-smtp-source: give --messages N or --duration SECONDS\n";
    return 2;
  }
  try {
    return gw::bench::run(o);
  } catch (const std::exception& e) {
    std::cerr << "gw-smtp-source: " << e.what() << "\n";
    return 2;
  }
}
