// The relay session: check → proceed for every client command, mirrored on the upstream.
#include "dataplane/relay_session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <deque>
#include <optional>
#include <charconv>

#include "common/logging.h"
#include "common/message_limits.h"
#include "common/printable_line.h"
#include "dataplane/handler_selector.h"
#include "dataplane/smtp/address.h"
#include "dataplane/smtp/capabilities.h"
#include "dataplane/smtp/data_reader.h"

namespace gw::dataplane {
namespace {

using smtp::make_reply;
using smtp::Verb;
namespace es = smtp::es;

constexpr std::size_t kInputCapacity = 64 * 1024;
// A command line longer than this is not an over-long command but an attack: 421 and close
// (field case BR-12: memory per connection stays constant either way).
constexpr std::size_t kHardLineLimit = 64 * 1024;
// A line within the configured limits must fit the input buffer with its CRLF, so that it
// is either taken whole or skipped, never left unanswerable (service_config.cc clamps).
static_assert(common::kMaxCommandLineLimit < kInputCapacity);

bool starts_with_auth(std::string_view line) {
  return line.size() >= 5 && smtp::iequals_ascii(line.substr(0, 5), "AUTH ");
}

/// RFC 4954 §5: where AUTH is offered, the AUTH= parameter may make a MAIL command up to
/// 500 octets longer than the command line limit (the gateway does not forward AUTH=, so
/// the upstream never sees the longer line; probe round 36).
constexpr std::size_t kMailAuthParameterAllowance = 500;

/// A MAIL command line with an " AUTH=" parameter (any case): the one that gets the
/// allowance above.
bool mail_with_auth_parameter(std::string_view line) {
  if (line.size() < 5 || !smtp::iequals_ascii(line.substr(0, 5), "MAIL ")) return false;
  for (std::size_t i = line.find(' '); i != std::string_view::npos; i = line.find(' ', i + 1)) {
    if (smtp::iequals_ascii(line.substr(i + 1, 5), "AUTH=")) return true;
  }
  return false;
}

std::string_view trim_trailing_spaces(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

RelaySession::RelaySession(Socket client, SessionEnv env)
    : env_(std::move(env)),
      limits_(env_.service->limits),
      client_(std::move(client)),
      upstream_(client_.socket().get_executor()),
      timer_(client_.socket().get_executor()),
      in_(kInputCapacity) {
  session_deadline_ = Clock::now() + limits_.session_timeout;
}

RelaySession::~RelaySession() {
  if (env_.service_counters) {
    env_.service_counters->sessions_active.fetch_sub(1, std::memory_order_relaxed);
  }
}

void RelaySession::start(std::shared_ptr<RelaySession> session) {
  auto executor = session->client_.socket().get_executor();
  auto request_drain = [executor, weak = std::weak_ptr<RelaySession>(session)](
                           std::string_view reason) {
    return [executor, weak, reason] {
      asio::post(executor, [weak, reason] {
        if (auto s = weak.lock()) s->begin_drain(reason);
      });
    };
  };
  // Node-wide (SIGTERM) and per listener (its interface went away).
  const std::uint64_t ticket =
      session->env_.sessions ? session->env_.sessions->add(request_drain("node stopping")) : 0;
  const std::uint64_t interface_ticket =
      session->env_.interface_sessions
          ? session->env_.interface_sessions->add(request_drain("interface closed"))
          : 0;
  asio::co_spawn(executor, session->run(), [session, ticket, interface_ticket](std::exception_ptr e) {
    if (session->env_.sessions) session->env_.sessions->remove(ticket);
    if (session->env_.interface_sessions) {
      session->env_.interface_sessions->remove(interface_ticket);
    }
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("session={} aborted: {}", session->env_.session_id, ex.what());
      }
    }
    session->finished_ = true;
    session->client_.close();
    session->upstream_.close();
    session->timer_.cancel();  // its pending wait holds the session: let it go
  });
}

// ---------------------------------------------------------------------------------------
// Deadlines: one timer per session; deadlines only move the timer when they come earlier.

void RelaySession::set_client_deadline(Clock::time_point t) {
  client_deadline_ = t;
  if (t < timer_expiry_ && !finished_) arm_timer(t);
}

void RelaySession::set_upstream_deadline(Clock::time_point t) {
  upstream_deadline_ = t;
  if (t < timer_expiry_ && !finished_) arm_timer(t);
  if (t == Clock::time_point::max()) {
    unwatch_client();
  } else {
    watch_client();
  }
}

void RelaySession::begin_drain(std::string_view reason) {
  if (finished_ || draining_) return;
  draining_ = true;
  drain_reason_ = reason;
  // Waiting for the next command: the read ends now (run() then answers 421). In a TLS
  // handshake nothing is under way and no 421 can be sent in clear: it ends now too (probe
  // round 43: a client that never sent its ClientHello held the stop for --drain-timeout).
  // Elsewhere the command under way finishes first.
  if (awaiting_command_ || in_tls_handshake_) client_.cancel();
}

void RelaySession::watch_client() {
  if (finished_ || !client_.is_open()) return;
  watching_client_ = true;
  arm_client_watch();
}

void RelaySession::arm_client_watch() {
  if (client_watch_armed_) return;
  // One wait_error stays armed from the first upstream or decision wait to the end of the
  // session (the socket's close completes it): arming and cancelling it around every wait
  // cost an epoll_ctl, a cancel and a completion per command (relay benchmark, session 13).
  client_watch_armed_ = true;
  client_.socket().async_wait(
      tcp::socket::wait_error, [self = shared_from_this()](const boost::system::error_code& ec) {
        self->client_watch_armed_ = false;
        if (ec == asio::error::operation_aborted || self->finished_) return;
        // Outside a wait the next read or write on the client meets the error itself, and
        // an urgent octet fires the watch again when the next wait arms it: nothing to
        // classify (this is also how every session ends, the client's FIN completing the
        // watch: three system calls saved per session).
        if (!self->watching_client_) return;
        switch (self->client_.exceptional_condition()) {
          case Transport::ExceptionalCondition::kUrgentData:
            // A live client that sent an urgent octet: no failure (a 451 here would make it
            // send a message again that the upstream already took, probe round 28).
            self->arm_client_watch();
            return;
          case Transport::ExceptionalCondition::kNone:
            return;  // armed again by the next wait
          case Transport::ExceptionalCondition::kConnectionError:
            break;
        }
        self->watching_client_ = false;
        spdlog::debug("session={} client connection failed during an upstream or decision wait",
                      self->env_.session_id);
        self->close_session("client connection failed");
        self->client_failed_ = true;
        self->upstream_.cancel();
        self->decision_cancellation_.cancel();
      });
}

void RelaySession::unwatch_client() { watching_client_ = false; }

void RelaySession::arm_timer(Clock::time_point t) {
  timer_expiry_ = t;
  timer_.expires_at(t);  // a wait still pending completes with operation_aborted
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec != asio::error::operation_aborted) self->on_timer();
  });
}

void RelaySession::on_timer() {
  if (finished_) return;
  auto now = Clock::now();
  if (client_deadline_ <= now) {
    client_deadline_ = Clock::time_point::max();
    client_timed_out_ = true;
    client_.cancel();
  }
  if (upstream_deadline_ <= now) {
    upstream_deadline_ = Clock::time_point::max();
    upstream_timed_out_ = true;
    upstream_.cancel();
  }
  auto next = std::min(client_deadline_, upstream_deadline_);
  if (next == Clock::time_point::max()) {
    timer_expiry_ = next;
  } else {
    arm_timer(next);
  }
}

RelaySession::Clock::time_point RelaySession::client_read_deadline() const {
  auto t = std::min(Clock::now() + limits_.idle_timeout, session_deadline_);
  return std::min(t, in_data_ ? data_deadline_ : line_deadline_);
}

// ---------------------------------------------------------------------------------------
// Client I/O.

bool RelaySession::flush_now() {
  trace_replies();
  forget_written(client_.write_now(out_));
  return out_.empty();
}

void RelaySession::trace_replies() {
  if (!trace_ || out_traced_ >= out_.size()) return;
  trace_->to_client(std::string_view(out_).substr(out_traced_));
  out_traced_ = out_.size();
}

void RelaySession::forget_written(std::size_t n) {
  if (n > 0) ++client_io_;
  out_.erase(0, n);
  out_traced_ = out_traced_ > n ? out_traced_ - n : 0;
}

void RelaySession::update_trace() {
  if (env_.service->protocol_trace == (trace_ != nullptr)) return;
  if (!env_.service->protocol_trace) {
    upstream_.set_trace(nullptr);
    trace_.reset();
    return;
  }
  // Info level: the operator switched it on for this service (DESIGN.md §8).
  trace_ = std::make_unique<smtp::ProtocolTrace>(
      [id = env_.session_id](smtp::TraceDirection direction, std::string_view text) {
        spdlog::info("session={} trace {} {}", id, smtp::trace_direction_name(direction), text);
      });
  upstream_.set_trace(trace_.get());
}

asio::mutable_buffer RelaySession::begin_client_read() {
  set_client_deadline(client_read_deadline());
  return in_.prepare();
}

RelaySession::ReadStatus RelaySession::end_client_read(std::size_t n,
                                                       const boost::system::error_code& ec) {
  in_.commit(n);
  ++client_io_;
  client_deadline_ = Clock::time_point::max();
  if (client_timed_out_) {
    client_timed_out_ = false;
    return ReadStatus::kTimeout;
  }
  return ec ? ReadStatus::kClosed : ReadStatus::kOk;
}

awaitable<RelaySession::ReadStatus> RelaySession::read_client() {
  // next_line() has the same steps inlined (one coroutine frame less per command).
  if (!flush_now()) {
    bool flushed = co_await flush();
    if (!flushed) co_return ReadStatus::kClosed;
  }
  auto space = begin_client_read();
  if (space.size() == 0) co_return ReadStatus::kClosed;  // unreachable: lines are bounded
  boost::system::error_code ec;
  std::size_t n = co_await client_.read_some(space, ec);
  co_return end_client_read(n, ec);
}

awaitable<bool> RelaySession::flush() {
  if (flush_now()) co_return true;
  set_client_deadline(std::min(Clock::now() + limits_.idle_timeout, session_deadline_));
  trace_replies();
  boost::system::error_code ec;
  co_await client_.write(out_, ec);
  ++client_io_;
  client_deadline_ = Clock::time_point::max();
  client_timed_out_ = false;
  out_.clear();
  out_traced_ = 0;
  co_return !ec;
}

awaitable<void> RelaySession::send_queued_replies() {
  if (out_.empty()) co_return;
  // A failed write means the client is gone; the next client read says so.
  co_await flush();
}

void RelaySession::reply(int code, smtp::EnhancedStatus status, std::string_view text) {
  note_refusal(code);
  smtp::append_reply(out_, code, status, text);
}

void RelaySession::drain_reply() {
  // RFC 5321 §3.8: a server that must close answers 421 first; X.3.2 "system not
  // accepting network messages" (RFC 3463).
  reply(421, smtp::EnhancedStatus{3, 2},
        env_.hostname + " Service shutting down, try again later");
  in_.clear();
  close_session(drain_reason_.empty() ? std::string_view("node stopping") : drain_reason_);
}

void RelaySession::close_session(std::string_view reason) {
  closing_ = true;
  if (end_reason_.empty()) end_reason_ = reason;
}

void RelaySession::line_limit_reply() {
  reply(421, es::kSecurityOther, env_.hostname + " Error: line too long, closing connection");
  close_session("line too long");
}

void RelaySession::timeout_reply() {
  if ((!in_data_ && !in_.empty() && in_.data().back() == '\n') || (in_data_ && bare_lf_pause_)) {
    // The wait ended on a line that ends in a bare LF (next_line, or message content): say
    // why, not "timeout".
    reply(421, es::kSyntaxError,
          env_.hostname + " Error: bare <LF> received, lines end in <CR><LF>, closing connection");
    if (trace_ && !in_data_) trace_->client_line_refused("bare LF");
    close_session("bare LF");  // the reason the session ends with, not "timeout"
    return;
  } else {
    reply(421, es::kBadConnection, env_.hostname + " Error: timeout exceeded, closing connection");
  }
  close_session("timeout");
}

void RelaySession::count_error() {
  if (++errors_ >= limits_.max_errors) {
    reply(421, es::kSecurityOther, env_.hostname + " Error: too many errors, closing connection");
    close_session("too many errors");
  }
}

bool RelaySession::over_idle_limit() {
  if (idle_commands_ <= limits_.max_idle_commands) return false;
  reply(421, es::kSecurityOther,
        env_.hostname + " Error: too many commands without progress, closing connection");
  close_session("too many commands without progress");
  return true;
}

bool RelaySession::count_idle_command() {
  if (!command_counted_) ++idle_commands_;
  command_counted_ = true;
  return !over_idle_limit();
}

awaitable<RelaySession::LineKind> RelaySession::next_line() {
  // One deadline for the whole line, however it is split into reads.
  line_deadline_ = Clock::now() + limits_.idle_timeout;
  struct ClearDeadline {
    Clock::time_point& deadline;
    ~ClearDeadline() { deadline = Clock::time_point::max(); }
  } clear_deadline{line_deadline_};
  while (true) {
    smtp::LineScan scan = smtp::scan_line(in_.data());
    if (scan.end != std::string_view::npos) {
      std::string_view data = in_.data();
      if (skipping_line_) {
        // The octets up to the CRLF count towards the hard limit too: a line of 100 KiB
        // that arrives in one read is as long as one that arrives in many (PROTOCOL.md).
        const bool hard = skipped_octets_ + scan.end - 2 > kHardLineLimit;
        in_.consume(scan.end);
        skipping_line_ = false;
        skipped_octets_ = 0;
        if (trace_) trace_->client_line_refused("too long");
        co_return hard ? LineKind::kHardTooLong : LineKind::kTooLong;
      }
      line_.assign(data.data(), scan.end - 2);
      in_.consume(scan.end);
      if (scan.bare_cr || scan.bare_lf || scan.nul) {
        if (trace_) trace_->client_line_refused("bare CR, bare LF or NUL");
        co_return LineKind::kBadOctets;
      }
      std::size_t limit = (sasl_line_ || starts_with_auth(line_)) ? limits_.max_auth_line
                                                                   : limits_.max_command_line;
      if (auth_advertised_ && mail_with_auth_parameter(line_)) limit += kMailAuthParameterAllowance;
      if (line_.size() + 2 > limit) {
        if (trace_) trace_->client_line_refused("too long");
        co_return LineKind::kTooLong;
      }
      // A command is traced by handle_command(), under the service settings it runs with.
      if (trace_ && sasl_line_) trace_->client_line(line_, /*sasl_response=*/true);
      co_return LineKind::kLine;
    }
    // No CRLF buffered. A line that cannot fit any limit is skipped, not stored.
    std::size_t cap = std::max(limits_.max_auth_line,
                               limits_.max_command_line + kMailAuthParameterAllowance);
    if (in_.size() > cap || (skipping_line_ && !in_.empty())) {
      bool keep_cr = in_.data().back() == '\r';
      std::size_t drop = in_.size() - (keep_cr ? 1 : 0);
      if (!skipping_line_) {
        line_.assign(in_.data().substr(0, std::min<std::size_t>(drop, 5)));  // the verb, for AUTH
      }
      in_.consume(drop);
      skipping_line_ = true;
      skipped_octets_ += drop;
      if (skipped_octets_ > kHardLineLimit) {
        if (trace_) trace_->client_line_refused("too long");
        co_return LineKind::kHardTooLong;
      }
    }
    // A client that ends its lines with a bare LF (RFC 5321 §2.3.8 forbids it) would wait
    // for a reply until the idle timeout: once the buffered octets end in a LF, a pause of
    // kBareLfPause is taken for such a line, and timeout_reply() says so (probe round 23).
    // Nothing of the line runs: it only ends sooner.
    if (!in_.empty() && in_.data().back() == '\n') {
      line_deadline_ = std::min(line_deadline_, Clock::now() + kBareLfPause);
    }
    // read_client(), inlined.
    if (!flush_now()) {
      bool flushed = co_await flush();
      if (!flushed) co_return LineKind::kClosed;
    }
    auto space = begin_client_read();
    if (space.size() == 0) co_return LineKind::kClosed;  // unreachable: lines are bounded
    boost::system::error_code ec;
    std::size_t n = co_await client_.read_some(space, ec);
    switch (end_client_read(n, ec)) {
      case ReadStatus::kOk:
        break;
      case ReadStatus::kTimeout:
        co_return LineKind::kTimeout;
      case ReadStatus::kClosed:
        co_return LineKind::kClosed;
    }
  }
}

// ---------------------------------------------------------------------------------------
// The session.

awaitable<void> RelaySession::run() {
  // First expiry: the earliest deadline the first commands set (banner write and read,
  // upstream connect at HELO), so that a short session never re-arms the timer.
  arm_timer(std::min(client_read_deadline(), Clock::now() + limits_.upstream_connect_timeout));
  set_low_latency(client_.socket());
  update_trace();
  spdlog::debug("session={} service={} client={} connected", env_.session_id, env_.service->name,
                env_.client_address);
  if (env_.interface_type == gateway::v1::INTERFACE_TYPE_SSL) {
    // Implicit TLS (RFC 8314 §3.3): the handshake comes before the banner.
    bool secured = co_await tls_handshake();
    if (!secured) {
      client_.close();
      // The same last line as every other session, with the service (probe round 42: a
      // failed implicit-TLS handshake left only the "TLS handshake failed" line).
      spdlog::info("session={} service={} client={} end messages=0 reason=tls handshake failed",
                   env_.session_id, env_.service->name, env_.client_address);
      co_return;
    }
  }
  // RFC 2034 §4: the greeting carries no enhanced status code.
  out_ += "220 ";
  out_ += env_.hostname;
  out_ += " ESMTP relay ready\r\n";
  while (!closing_) {
    if (draining_) {
      drain_reply();
      break;
    }
    awaiting_command_ = true;
    LineKind kind = co_await next_line();
    awaiting_command_ = false;
    if (draining_ && kind != LineKind::kLine) {
      drain_reply();  // the read was cancelled for the stop, or ended on its own meanwhile
      break;
    }
    command_counted_ = false;  // a new command: its refusal counts once (note_refusal)
    recipient_refusal_exempt_ = false;
    switch (kind) {
      case LineKind::kLine: {
        const std::uint64_t io_before = client_io_;
        if (auto handler = handle_command()) co_await std::move(*handler);
        // A reply the gateway gave itself (a refused DATA, EHLO or AUTH, a NOOP after HELO)
        // is not sent yet: octets on the socket were sent before it, and must not run as
        // commands or content (BR-23; probe round 50: a RCPT sent while DATA waited behind
        // an upstream RCPT ran after DATA's local 554). Replies after an upstream wait were
        // checked already (pipelined_before_reply).
        if (group_end_unchecked_ && !closing_ && !finished_ && client_io_ == io_before) {
          pipelined_before_reply(*group_end_unchecked_);
        }
        group_end_unchecked_.reset();
        if (message_ended_) {
          // The message got its reply (queued, not yet sent). Without PIPELINING a command
          // the client sent with the end of data, before that reply, is a violation
          // (BR-23): it gets 503 and the connection closes; it never runs.
          message_ended_ = false;
          if (!closing_ && !esmtp_) pipelined_before_reply(Verb::kData);
        }
        break;
      }
      case LineKind::kTooLong:
        // A line refused for its length or its octets is a command all the same: without
        // PIPELINING nothing may follow it before its reply (BR-23; probe round 22: the
        // command stuffed behind "RSET<CR>X" ran).
        if (!esmtp_ && client_sent_more()) {
          refuse_pipelining("a line too long");
          break;
        }
        if (starts_with_auth(line_)) {
          reply(500, es::kAuthLineTooLong, "Authentication Exchange line is too long");
        } else {
          reply(500, es::kSyntaxError, "Line too long");
        }
        count_error();
        break;
      case LineKind::kBadOctets:
        if (!esmtp_ && client_sent_more()) {
          refuse_pipelining("a line with bare CR, bare LF or NUL");
          break;
        }
        reply(501, es::kSyntaxError, "Bare CR, bare LF or NUL in command line");
        count_error();
        break;
      case LineKind::kHardTooLong:
        line_limit_reply();
        break;
      case LineKind::kTimeout:
        timeout_reply();
        break;
      case LineKind::kClosed:
        close_session("client closed");
        break;
    }
  }
  // The watch ended the session (a reset during an upstream or decision wait): not a QUIT.
  if (client_failed_) end_reason_ = "client connection failed";
  // The last reply (221, 421) leaves with the FIN in one segment when the socket takes it
  // at once (plain TCP); whatever it does not take is written as usual.
  trace_replies();
  forget_written(client_.write_now(out_, /*last=*/true));
  // The session reads nothing more: once the kernel has the last reply, the session's slot
  // goes back at once, so a client that connects again as soon as it has the 221 is not
  // refused for a session that is only closing (--max-sessions-per-client; with --threads N
  // the new connection may be accepted on another thread before this one has run its last
  // handler: 421 in 6 of 100 reconnects, session 13). A client that does not read keeps the
  // slot until the write ends, so the session caps still bound every open connection.
  if (out_.empty()) env_.slot.reset();
  if (!out_.empty()) co_await flush();
  client_.close();
  // QUIT without awaiting its reply (RFC 5321 §4.1.1.10 only says SHOULD wait): the
  // upstream connection ends with the client's session, so upstream sockets never outlive
  // or outnumber client sessions (BR-33), and the session's slot is free at once. Inside an
  // open SASL exchange a QUIT would be read as a credential: the connection is just closed.
  if (upstream_sasl_open_) {
    upstream_.close();
  } else {
    co_await upstream_.quit();
  }
  spdlog::info("session={} service={} client={} end messages={} reason={}", env_.session_id,
               env_.service->name, env_.client_address, messages_,
               end_reason_.empty() ? std::string_view("closed") : end_reason_);
}

void RelaySession::refresh_service() {
  if (!env_.live_service || env_.live_service->version() == env_.config_version) return;
  auto [service, version] = env_.live_service->get();
  if (!service) return;
  env_.service = std::move(service);
  env_.config_version = version;
  limits_ = env_.service->limits;
  update_trace();
  // A STARTTLS still to come uses the interface's TLS settings of now (the listener sets
  // them before it publishes the new version: ListenerManager).
  if (env_.live_tls && !client_.encrypted()) env_.tls = env_.live_tls->get();
}

std::optional<awaitable<void>> RelaySession::handle_command() {
  refresh_service();
  if (trace_) trace_->client_line(line_, /*sasl_response=*/false);
  smtp::Command cmd = smtp::parse_command(line_);
  // RFC 2920 §3.1: commands that change the dialogue's state must end a pipelined group,
  // and without PIPELINING in force (before EHLO, after HELO) nothing may be pipelined.
  // Bytes already buffered here were sent before the reply: field cases BR-05, BR-23.
  // STARTTLS is the exception: what follows it in plaintext is discarded (on_starttls).
  // Over TLS a later record of the same segment may still sit undecrypted (BR-23).
  // AUTH PLAIN with an initial response does not end the group (RFC 4954 §4).
  const bool ends_group = cmd.verb == Verb::kAuth
                              ? smtp::auth_command_ends_pipeline_group(cmd.args)
                              : smtp::must_end_pipeline_group(cmd.verb);
  if (cmd.verb != Verb::kStarttls && client_sent_more() && (ends_group || !esmtp_)) {
    refuse_pipelining(smtp::verb_name(cmd.verb));
    return std::nullopt;
  }
  // Octets still in the socket are looked for once the reply is ready (run()): a system
  // call here would be a second one for every command the upstream answers.
  if (cmd.verb != Verb::kStarttls && cmd.verb != Verb::kQuit && (ends_group || !esmtp_)) {
    group_end_unchecked_ = cmd.verb;
  }
  // Refused commands count too (reply()): a loop of refused MAIL/RCPT/DATA ends here.
  if (over_idle_limit()) return std::nullopt;
  if (cmd.verb == Verb::kBdat) {
    // CHUNKING is never offered, yet the octets after "BDAT n" are chunk data, not
    // commands: executing them would let a message smuggle commands (RFC 3030 §2). The
    // dialogue cannot be resynchronised safely, so the connection ends.
    reply(*smtp::check_command_order(state_, cmd.verb));  // 502 5.5.1
    spdlog::warn("session={} client={} BDAT although CHUNKING is not offered",
                 env_.session_id, env_.client_address);
    close_after_refusal();
    return std::nullopt;
  }
  if (tls_required_but_missing() && !smtp::allowed_before_starttls(cmd.verb)) {
    reply(530, es::kSecurityOther, "Must issue a STARTTLS command first");  // RFC 3207 §4
    count_error();
    return std::nullopt;
  }
  if (cmd.verb == Verb::kData && state_ == smtp::SessionState::kMail && !upstream_.is_open()) {
    // Every RCPT got 451 because the upstream of this transaction is gone: DATA gets that
    // 451 too (transaction_lost), not "554 no valid recipients" (probe round 19).
    transaction_lost();
    return std::nullopt;
  }
  if (auto error = smtp::check_command_order(state_, cmd.verb)) {
    reply(*error);
    count_error();
    return std::nullopt;
  }
  switch (cmd.verb) {
    case Verb::kEhlo:
    case Verb::kHelo:
      return on_helo(cmd.verb, cmd.args);
    case Verb::kMail:
      return on_mail(cmd.args);
    case Verb::kRcpt:
      return on_rcpt(cmd.args);
    case Verb::kData:
      return on_data(cmd.args);
    case Verb::kRset:
      return on_rset(cmd.args);
    case Verb::kNoop:
      if (count_idle_command()) reply(250, es::kUndefined, "OK");
      break;
    case Verb::kHelp:
      if (count_idle_command()) {
        reply(214, es::kUndefined, "See RFC 5321 https://www.rfc-editor.org/rfc/rfc5321");
      }
      break;
    case Verb::kVrfy:
    case Verb::kExpn:
      if (count_idle_command()) {
        reply(502, es::kInvalidCommand, std::string(smtp::verb_name(cmd.verb)) +
                                            " command is disabled");
      }
      break;
    case Verb::kQuit:
      // RFC 5321 §4.1.1.10: "QUIT" CRLF, no argument (like RSET and DATA, probe round 14).
      if (!trim_trailing_spaces(cmd.args).empty()) {
        reply(501, es::kInvalidArguments, "Syntax: QUIT");
        count_error();
        break;
      }
      on_quit();
      break;
    case Verb::kStarttls:
      return on_starttls(cmd.args);
    case Verb::kAuth:
      return on_auth(cmd.args);
    case Verb::kBdat:  // answered above
    case Verb::kUnknown:
      reply(500, es::kInvalidCommand, "Command unrecognized");
      count_error();
      break;
  }
  return std::nullopt;
}

void RelaySession::on_quit() {
  reply(221, es::kUndefined, env_.hostname + " closing connection");
  close_session("quit");
}

awaitable<void> RelaySession::on_helo(Verb verb, std::string_view args) {
  std::string_view domain = trim_trailing_spaces(args);
  if (domain.empty()) {
    reply(501, es::kInvalidArguments,
          std::string("Syntax: ") + std::string(smtp::verb_name(verb)) + " hostname");
    count_error();
    co_return;
  }
  if (!smtp::is_valid_helo_argument(domain)) {
    reply(501, es::kSyntaxError, "Invalid domain name or address literal");
    count_error();
    co_return;
  }
  // Repeated HELO/EHLO without a delivered message counts like NOOP and RSET (BR-33).
  if (!count_idle_command()) co_return;
  // The session changes only once the EHLO is accepted: a refused one leaves the state, the
  // transaction and smtp.helo.domain as they were (RFC 5321 §4.1.4), so a name the HELO
  // policy refused never reaches a later decision.
  std::string helo_domain(domain);
  std::string upstream_helo = env_.hostname.empty() ? std::string("localhost") : env_.hostname;
  std::string greeting = "Hello " + helo_domain;
  if (const auto* handler = select_handler(env_.service->handlers, gateway::v1::SMTP_COMMAND_HELO)) {
    // The reference's HELO handler: the policy may rewrite the greeting and the domain the
    // upstream will see (smtp.helo.greeting, smtp.helo.domain). Without a rewrite the
    // upstream sees the relay's own name (upstream_helo_).
    const std::string greeting_template =
        handler->greeting().empty() ? "Hello ${smtp.helo.domain}" : handler->greeting();
    std::map<std::string, std::string> extra;
    extra["smtp.helo.domain"] = helo_domain;
    extra["smtp.helo.greeting"] = greeting_template;
    std::string no_message;
    Decision decision = co_await ask_policy(*handler, gateway::v1::SMTP_COMMAND_HELO,
                                            std::move(extra), std::move(no_message));
    if (pipelined_before_reply(verb)) co_return;
    if (stopped_by(decision, gateway::v1::SMTP_COMMAND_HELO)) co_return;
    if (decision.outcome == Decision::Outcome::kUnavailable) {
      // Failed open: no policy ran, but the greeting is the handler's, not the built-in
      // one (probe round 47). Expanded here as gctld would before the first filter.
      common::AttributeMap attributes = session_attributes();
      attributes["smtp.helo.domain"] = helo_domain;
      greeting = common::printable_line(common::expand_template(greeting_template, attributes), 200);
    }
    auto& changes = decision.attribute_changes;
    if (auto it = changes.find("smtp.helo.domain"); it != changes.end()) {
      if (smtp::is_valid_helo_argument(it->second)) {
        helo_domain = it->second;
        upstream_helo = it->second;
      } else {
        spdlog::warn("session={} policy produced an invalid smtp.helo.domain, ignored",
                     env_.session_id);
      }
    }
    if (auto it = changes.find("smtp.helo.greeting"); it != changes.end()) {
      greeting = common::printable_line(it->second, 200);  // one line, never CR/LF
    }
  }
  reset_transaction();
  helo_domain_ = std::move(helo_domain);
  upstream_helo_ = std::move(upstream_helo);
  greeting_ = std::move(greeting);
  co_await send_queued_replies();
  UpstreamOptions options = upstream_options();
  UpstreamFault fault = UpstreamFault::kNone;
  bool greeted_again = false;
  // Only a connection to the upstream the service names now: after a change of its host,
  // port, security, TLS settings or credentials the next EHLO connects afresh.
  if (same_upstream(upstream_opened_with_, options) && upstream_ready()) {
    // A second EHLO (after STARTTLS, or any later one): the open upstream connection is
    // greeted again, and both sides reset the transaction the same way (RFC 5321 §4.1.4).
    // A login proxied on it stays (RFC 4954 §4; a fresh connection would relay the mail as
    // an anonymous user), and the upstream sees one connection per client session, not one
    // per EHLO (probe round 50: 50 HELOs in a loop opened 50 upstream connections).
    set_upstream_deadline(Clock::now() + limits_.upstream_timeout);
    fault = co_await upstream_.greet_again(options.helo_domain);
    set_upstream_deadline(Clock::time_point::max());
    upstream_timed_out_ = false;
    if (fault == UpstreamFault::kNone) {
      greeted_again = true;
    } else {
      upstream_failed(fault, upstream_login_ ? "EHLO on the logged-in connection" : "EHLO");
    }
  }
  // A client that reset during that EHLO is gone: no fresh upstream connection for it
  // (BR-33; probe round 28).
  if (client_failed_) co_return;
  if (!greeted_again) {
    // Connect lazily, as in the reference trace. A proxied login whose connection the
    // upstream dropped meanwhile (an idle timeout, seen as a FIN before the EHLO or as a
    // failed EHLO) is gone with it: AUTH is offered again.
    if (upstream_login_) {
      upstream_login_ = false;
      authenticated_ = false;
    }
    co_await upstream_.quit();
    set_upstream_deadline(Clock::now() + limits_.upstream_connect_timeout);
    fault = co_await upstream_.open(options);
    upstream_opened_with_ = options;
  }
  set_upstream_deadline(Clock::time_point::max());
  upstream_timed_out_ = false;
  if (fault != UpstreamFault::kNone) {
    count_upstream_failure();
    spdlog::warn("session={} service={} upstream {}:{} unavailable: {} ({})", env_.session_id,
                 env_.service->name, common::log_escape(env_.service->upstream_host),
                 env_.service->upstream_port, fault_reason(fault),
                 common::log_escape(upstream_.detail()));
    reply(421, es::kNoAnswer, env_.hostname + " Upstream mail server unavailable, try again later");
    close_session("upstream unavailable");
    co_return;
  }
  if (pipelined_before_reply(verb)) co_return;
  state_ = smtp::SessionState::kGreeted;
  esmtp_ = verb == Verb::kEhlo;
  smtp::Reply r;
  r.code = 250;
  r.lines.push_back(env_.hostname + " " + greeting_);
  auth_advertised_ = false;
  if (esmtp_) {
    smtp::GatewayOffer offer;
    offer.data_policy =
        select_handler(env_.service->handlers, gateway::v1::SMTP_COMMAND_DATA) != nullptr;
    offer.max_message_size = service_size_limit(offer.data_policy);
    offer.offer_starttls = env_.interface_type == gateway::v1::INTERFACE_TYPE_STARTTLS &&
                           env_.tls != nullptr && !client_.encrypted();
    if (auth_decision().advertise && auth_allowed_here() && !authenticated_) {
      if (select_handler(env_.service->handlers, gateway::v1::SMTP_COMMAND_AUTH)) {
        offer.auth_mechanisms = {"PLAIN", "LOGIN"};  // verified locally (DESIGN.md §4)
      } else {
        offer.auth_mechanisms = smtp::relayable_mechanisms(upstream_.capabilities());
      }
    }
    // What this EHLO offers is what holds from now on (RFC 5321 §4.1.4, RFC 4954 §5):
    // AUTH= on MAIL only while AUTH is offered, or the session is logged in (probe round
    // 34: a second EHLO without AUTH still let "MAIL ... AUTH=<>" through).
    auth_advertised_ = !offer.auth_mechanisms.empty() || authenticated_;
    eightbitmime_advertised_ = upstream_.capabilities().eightbitmime;
    smtputf8_advertised_ = upstream_.capabilities().smtputf8 && upstream_.capabilities().eightbitmime;
    for (auto& line : smtp::client_capabilities(upstream_.capabilities(), offer)) {
      r.lines.push_back(std::move(line));
    }
  }
  reply(r);
}

std::uint64_t RelaySession::service_size_limit(bool data_policy) const {
  // A message the DATA policy must see is held whole: no larger than the node's bound on
  // held messages, or it could only ever get 452 (probe round 40).
  const std::uint64_t bound =
      data_policy && env_.held_messages != nullptr ? env_.held_messages->capacity() : 0;
  if (bound == 0) return limits_.max_message_size;
  return limits_.max_message_size == 0 ? bound : std::min(limits_.max_message_size, bound);
}

std::uint64_t RelaySession::effective_max_size() const {
  const bool data_policy =
      select_handler(env_.service->handlers, gateway::v1::SMTP_COMMAND_DATA) != nullptr;
  return smtp::message_size_limit(upstream_.capabilities(), service_size_limit(data_policy),
                                  data_policy);
}

UpstreamOptions RelaySession::upstream_options() const {
  const ServiceConfig& svc = *env_.service;
  UpstreamOptions o;
  o.host = svc.upstream_host;
  o.port = svc.upstream_port;
  o.helo_domain = upstream_helo_;
  o.security = svc.security;
  o.tls = svc.upstream_tls;
  o.verify_hostname = svc.verify_hostname;
  o.tls_server_name = svc.tls_server_name;
  o.username = svc.username;
  o.password = svc.password;
  return o;
}

bool RelaySession::tls_required_but_missing() const {
  // An interface that requires client certificates requires TLS: without it the
  // certificate check is skipped by skipping STARTTLS.
  const bool required =
      env_.service->require_tls || (env_.tls != nullptr && env_.tls->requires_client_certificate());
  return required && !client_.encrypted();
}

smtp::AuthDecision RelaySession::auth_decision() const {
  bool handler = select_handler(env_.service->handlers, gateway::v1::SMTP_COMMAND_AUTH) != nullptr;
  // Pass-through AUTH needs a mechanism that survives the relaying (relayable_mechanisms);
  // the gateway's own login to the upstream picks from all it offers.
  const bool credentials = env_.service->has_credentials();
  const bool upstream_offers =
      credentials ? !upstream_.capabilities().auth_mechanisms.empty()
                  : !smtp::relayable_mechanisms(upstream_.capabilities()).empty();
  return smtp::auth_matrix(handler, credentials, upstream_offers);
}

bool RelaySession::auth_allowed_here() const {
  // require_tls wins over allow_plaintext_auth: before TLS such a service refuses AUTH
  // (530, RFC 3207 §4), so its EHLO must not offer it either (probe round 19).
  if (tls_required_but_missing()) return false;
  return client_.encrypted() || env_.service->allow_plaintext_auth;
}

awaitable<bool> RelaySession::tls_handshake() {
  if (!env_.tls) {
    spdlog::warn("session={} interface={} has no usable certificate", env_.session_id,
                 env_.interface_id);
    co_return false;
  }
  set_client_deadline(std::min(Clock::now() + limits_.idle_timeout, session_deadline_));
  boost::system::error_code ec;
  in_tls_handshake_ = true;
  co_await client_.handshake_server(env_.tls->context(), env_.tls, ec);
  in_tls_handshake_ = false;
  client_deadline_ = Clock::time_point::max();
  client_timed_out_ = false;
  if (ec) {
    spdlog::info("session={} service={} client={} TLS handshake failed: {}", env_.session_id,
                 env_.service->name, env_.client_address, common::log_escape(ec.message()));
    if (trace_) trace_->tls(smtp::TraceDirection::kFromClient, false, ec.message());
    co_return false;
  }
  spdlog::debug("session={} TLS {}", env_.session_id, client_.tls_description());
  if (trace_) trace_->tls(smtp::TraceDirection::kFromClient, true, client_.tls_description());
  co_return true;
}

awaitable<void> RelaySession::on_starttls(std::string_view args) {
  // A refused STARTTLS still ends a pipelined group (RFC 2920 §3.1): bytes sent after it
  // get 503 and the connection closes, so they are never executed (BR-05), whichever
  // refusal it would have been.
  auto refuse = [&](int code, smtp::EnhancedStatus enhanced, std::string_view text) {
    if (pipelined_before_reply(Verb::kStarttls)) return;
    reply(code, enhanced, text);
    count_error();
  };
  if (client_.encrypted()) {
    refuse(503, es::kInvalidCommand, "TLS already active");
    co_return;
  }
  if (env_.interface_type != gateway::v1::INTERFACE_TYPE_STARTTLS || !env_.tls) {
    refuse(454, es::kSecurityOther, "TLS not available");  // RFC 3207 §4
    co_return;
  }
  if (!trim_trailing_spaces(args).empty()) {
    refuse(501, es::kInvalidArguments, "Syntax: STARTTLS");  // RFC 3207 §4
    co_return;
  }
  reply(220, es::kUndefined, "Ready to start TLS");
  bool flushed = co_await flush();
  if (!flushed) {
    close_session("client closed");
    co_return;
  }
  if (!in_.empty()) {
    // Plaintext pipelined after STARTTLS is never executed (RFC 3207 §4.2, BR-05, BR-06).
    spdlog::warn("session={} client={} discarded {} plaintext octets sent after STARTTLS",
                 env_.session_id, env_.client_address, in_.size());
    in_.clear();
  }
  bool secured = co_await tls_handshake();
  if (!secured) {
    // Never fall back to plaintext after the 220 (BR-36).
    close_session("tls handshake failed");
    client_.close();
    co_return;
  }
  // RFC 3207 §4.2: forget everything learnt before TLS, on both legs.
  reset_transaction();
  state_ = smtp::SessionState::kConnected;
  esmtp_ = false;
  authenticated_ = false;
  const bool had_upstream_login = upstream_login_;
  upstream_login_ = false;
  auth_advertised_ = false;
  eightbitmime_advertised_ = false;
  smtputf8_advertised_ = false;
  helo_domain_.clear();
  upstream_helo_.clear();
  // A login proxied before TLS must not carry over (the client authenticates again inside
  // TLS): that upstream connection ends. Otherwise it is kept, and greeted again at the
  // client's next EHLO, which resets its transaction (RFC 5321 §4.1.4): one upstream
  // connection per client session, not two for every STARTTLS client.
  if (had_upstream_login) co_await upstream_.quit();
}

awaitable<void> RelaySession::on_auth(std::string_view args) {
  if (state_ == smtp::SessionState::kConnected) {
    reply(503, es::kInvalidCommand, "Send EHLO first");
    count_error();
    co_return;
  }
  smtp::AuthDecision decision = auth_decision();
  const auto* handler = select_handler(env_.service->handlers, gateway::v1::SMTP_COMMAND_AUTH);
  // This session's EHLO offered the upstream's AUTH, and the connection that offered it is
  // gone (closed by the upstream, or dropped after a fault): what AUTH can do now is only
  // known once a new connection says so. Not "not enabled" (503), which contradicts the
  // EHLO reply and makes clients drop the login (RFC 4954 §4; probe round 22).
  const bool offered_upstream_gone = auth_advertised_ && !handler && !upstream_ready();
  if (!esmtp_ || (!decision.advertise && !offered_upstream_gone)) {
    reply(503, es::kInvalidCommand, "Authentication not enabled");
    count_error();
    co_return;
  }
  if (!auth_allowed_here()) {
    reply(538, es::kEncryptionRequired, "Encryption required for requested authentication mechanism");
    count_error();
    co_return;
  }
  if (authenticated_) {
    reply(503, es::kInvalidCommand, "Already authenticated");
    count_error();
    co_return;
  }
  if (state_ != smtp::SessionState::kGreeted) {
    reply(503, es::kInvalidCommand, "AUTH not permitted during a mail transaction");
    count_error();
    co_return;
  }
  std::string_view rest = trim_trailing_spaces(args);
  std::size_t sp = rest.find(' ');
  std::string mechanism(rest.substr(0, sp));
  for (char& c : mechanism) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  std::string_view initial = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
  if (mechanism.empty()) {
    reply(501, es::kInvalidArguments, "Syntax: AUTH mechanism [initial-response]");
    count_error();
    co_return;
  }
  if (!smtp::is_sasl_mechanism_name(mechanism)) {
    // Not a sasl-mech (RFC 4422 §3.1: 1*20 of A-Z 0-9 - _): a syntax error, not an
    // unknown mechanism ("AUTH PLAIN<TAB>blob" is no PLAIN with a response; probe round 35).
    reply(501, es::kInvalidArguments, "Syntax: AUTH mechanism [initial-response]");
    count_error();
    co_return;
  }
  if (initial.find(' ') != std::string_view::npos) {
    // "AUTH PLAIN AGFs aWNl": whitespace inside the initial response is base64 that cannot
    // be decoded (field case BR-11: 501 5.5.2, RFC 4954 §4), in either AUTH mode.
    reply(501, es::kSyntaxError, "Invalid base64 in initial response");
    count_error();
    co_return;
  }
  if (handler) {
    if (mechanism != "PLAIN" && mechanism != "LOGIN") {
      reply(504, es::kInvalidArguments, "Unrecognized authentication type");
      count_error();
      co_return;
    }
    co_await local_auth(std::move(mechanism), initial, *handler);
    co_return;
  }
  if (offered_upstream_gone) {
    // As MAIL does (on_mail): a new connection first. Failing that, or when the new one no
    // longer offers AUTH, the answer is a temporary authentication failure (RFC 4954 §6).
    if (!co_await reopen_upstream(/*for_auth=*/true)) co_return;
    decision = auth_decision();
    if (!decision.proxy) {
      reply(454, es::kSecurityOther, "Temporary authentication failure, try again later");
      co_return;
    }
  }
  const auto offered = smtp::relayable_mechanisms(upstream_.capabilities());
  if (std::find(offered.begin(), offered.end(), mechanism) == offered.end()) {
    reply(504, es::kInvalidArguments, "Unrecognized authentication type");
    count_error();
    co_return;
  }
  if (decision.proxy) co_await proxy_auth(std::move(mechanism), initial);
}

awaitable<std::optional<std::string>> RelaySession::sasl_challenge(std::string base64_text) {
  // The challenge is a reply to the AUTH step before it, which ends a pipelined group: a
  // response already on the socket was sent before the challenge (BR-23; probe round 51: a
  // credential sent while an earlier MAIL of the group waited for the upstream was taken
  // as the answer to the 334 that followed).
  if (pipelined_before_reply(Verb::kAuth)) co_return std::nullopt;
  out_ += "334 ";
  out_ += base64_text;
  out_ += "\r\n";
  sasl_line_ = true;
  LineKind kind = co_await next_line();
  sasl_line_ = false;
  if (kind == LineKind::kTimeout || kind == LineKind::kClosed || kind == LineKind::kHardTooLong) {
    if (kind == LineKind::kTimeout) timeout_reply();
    if (kind == LineKind::kHardTooLong) line_limit_reply();  // 421, as in command mode
    close_session("client closed");
    co_return std::nullopt;
  }
  // An AUTH step ends a pipelined group (RFC 4954 §4, RFC 2920 §3.1): anything sent behind
  // the response, before our reply, is refused with 503, never run (BR-23).
  if (pipelined_before_reply(Verb::kAuth)) co_return std::nullopt;
  if (kind == LineKind::kTooLong) {
    reply(500, es::kAuthLineTooLong, "Authentication Exchange line is too long");
    count_error();
    co_return std::nullopt;
  }
  if (kind == LineKind::kBadOctets) {
    reply(501, es::kSyntaxError, "Bad octets in AUTH response");
    count_error();
    co_return std::nullopt;
  }
  if (smtp::is_sasl_cancel(line_)) {
    reply(501, es::kSecurityOther, "Authentication cancelled");
    co_return std::nullopt;
  }
  co_return line_;
}

// AUTH verified by the service's auth handler (reference scenarios 5–8): PLAIN with or
// without initial response, LOGIN's two challenges, strict base64, "*" cancels (RFC 4954 §4).
// The credentials go to the policy as authentication.subject.id/password and are never
// logged; an empty identity or password never reaches it (BR-08).
awaitable<void> RelaySession::local_auth(std::string mechanism, std::string_view initial_response,
                                         const gateway::v1::Handler& handler) {
  auto decode = [this](std::string_view text,
                       smtp::SaslPosition position) -> std::optional<std::string> {
    auto decoded = smtp::decode_sasl_base64(text, position);
    if (!decoded) {
      reply(501, es::kSyntaxError, "Invalid base64 in AUTH response");
      count_error();
    }
    return decoded;
  };
  smtp::PlainCredentials creds;
  if (mechanism == "PLAIN") {
    std::optional<std::string> response;
    if (initial_response.empty()) {
      std::string empty_challenge;
      response = co_await sasl_challenge(std::move(empty_challenge));
    } else {
      response = std::string(initial_response);
    }
    if (!response) co_return;
    auto decoded = decode(*response, initial_response.empty()
                                         ? smtp::SaslPosition::kContinuation
                                         : smtp::SaslPosition::kInitialResponse);
    if (!decoded) co_return;
    if (smtp::parse_plain(*decoded, creds) != smtp::PlainError::kNone) {
      reply(501, es::kSyntaxError, "Malformed PLAIN response");
      count_error();
      co_return;
    }
  } else {
    std::optional<std::string> user_b64;
    if (initial_response.empty()) {
      std::string username_prompt = "VXNlcm5hbWU6";  // "Username:"
      user_b64 = co_await sasl_challenge(std::move(username_prompt));
    } else {
      user_b64 = std::string(initial_response);
    }
    if (!user_b64) co_return;
    auto user = decode(*user_b64, initial_response.empty() ? smtp::SaslPosition::kContinuation
                                                           : smtp::SaslPosition::kInitialResponse);
    if (!user) co_return;
    if (user->empty()) {
      // BR-08: an empty user name never authenticates. Refused before the password is asked
      // for, as in pass-through mode: the client's next line is then a command again, not
      // a password it never meant to send (probe round 21).
      reply(535, es::kBadCredentials, "Authentication credentials invalid");
      co_return;
    }
    std::string password_prompt = "UGFzc3dvcmQ6";  // "Password:"
    auto pass_b64 = co_await sasl_challenge(std::move(password_prompt));
    if (!pass_b64) co_return;
    auto pass = decode(*pass_b64, smtp::SaslPosition::kContinuation);
    if (!pass) co_return;
    if (common::is_valid_utf8(*user) && !smtp::is_printable_identity(*user)) {
      reply(501, es::kSyntaxError, "Malformed user name");
      count_error();
      co_return;
    }
    // The repository's names and passwords are UTF-8 (gctl refuses anything else), so
    // other octets can never match; like PLAIN (RFC 4616 §2) they are a malformed response.
    if (!common::is_valid_utf8(*user) || !common::is_valid_utf8(*pass)) {
      reply(501, es::kSyntaxError, "User name and password must be UTF-8");
      count_error();
      co_return;
    }
    creds.authcid = std::move(*user);
    creds.password = std::move(*pass);
  }
  if (creds.authcid.empty() || creds.password.empty()) {
    reply(535, es::kBadCredentials, "Authentication credentials invalid");
    co_return;
  }
  std::map<std::string, std::string> extra;
  extra["authentication.subject.id"] = creds.authcid;
  extra["authentication.subject.password"] = creds.password;
  if (!creds.authzid.empty()) extra["authentication.authorization.id"] = creds.authzid;
  std::string no_message;
  Decision decision = co_await ask_policy(handler, gateway::v1::SMTP_COMMAND_AUTH,
                                          std::move(extra), std::move(no_message));
  // Commands may follow an AUTH PLAIN with initial response in the same group; they run
  // after this reply (RFC 4954 §4). Anything else ends the group (BR-23).
  if (smtp::auth_ends_pipeline_group(mechanism, !initial_response.empty()) &&
      pipelined_before_reply(Verb::kAuth)) {
    co_return;
  }
  if (stopped_by(decision, gateway::v1::SMTP_COMMAND_AUTH)) co_return;
  authenticated_ = true;
  reply(235, smtp::EnhancedStatus{7, 0}, "Authentication successful");
}

awaitable<void> RelaySession::cancel_upstream_auth() {
  smtp::Reply r;
  UpstreamFault fault = co_await upstream_command("*\r\n", r, limits_.upstream_timeout);
  if (fault != UpstreamFault::kNone) upstream_failed(fault, "AUTH cancel");
}

// Relays the client's SASL exchange to the upstream (scenario 2 of the reference matrix),
// after checking every client response locally: strict base64 and the PLAIN/LOGIN rules,
// so that malformed or empty credentials never reach the upstream (BR-08, BR-09, BR-11).
// Payloads are never logged.
awaitable<void> RelaySession::proxy_auth(std::string mechanism, std::string_view initial_response) {
  const bool plain = mechanism == "PLAIN";
  const bool login = mechanism == "LOGIN";
  std::size_t step = 0;  // client responses checked so far
  // Checks one client response; returns an error reply, or nothing if it may go upstream.
  auto check = [&](std::string_view response,
                   smtp::SaslPosition position) -> std::optional<smtp::Reply> {
    auto decoded = smtp::decode_sasl_base64(response, position);
    if (!decoded) return make_reply(501, es::kSyntaxError, "Invalid base64 in AUTH response");
    if (plain && step == 0) {
      smtp::PlainCredentials creds;
      if (smtp::parse_plain(*decoded, creds) != smtp::PlainError::kNone) {
        return make_reply(501, es::kSyntaxError, "Malformed PLAIN response");
      }
    }
    // BR-08: an empty user name or password ("=") never reaches the upstream's backend.
    if (login && decoded->empty()) {
      return make_reply(535, es::kBadCredentials, "Authentication credentials invalid");
    }
    // A LOGIN user name with a control character (NUL, CRLF, NEL...) is refused as in local
    // mode (probe round 23: pass-through forwarded it). Octets that are not UTF-8 may be a
    // legacy upstream's user name: only their C0 controls and DEL are refused.
    if (login && step == 0) {
      const bool c0 = std::any_of(decoded->begin(), decoded->end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      });
      if (c0 || (common::is_valid_utf8(*decoded) && !smtp::is_printable_identity(*decoded))) {
        return make_reply(501, es::kSyntaxError, "Malformed user name");
      }
    }
    ++step;
    return std::nullopt;
  };
  if (!initial_response.empty()) {
    if (auto error = check(initial_response, smtp::SaslPosition::kInitialResponse)) {
      reply(*error);
      count_error();
      co_return;
    }
  }
  // PLAIN and LOGIN: the client's responses are collected with the gateway's own challenges
  // (PLAIN's empty one, LOGIN's "Username:" and "Password:") and checked before the upstream
  // hears of the exchange, so a refused or cancelled one never reaches it (BR-08, BR-09,
  // BR-11: "Upstream: nothing"; probe round 24 saw "AUTH PLAIN" and "*" go upstream).
  // Other mechanisms relay the upstream's challenges (below).
  std::string first(initial_response);
  std::deque<std::string> collected;  // LOGIN responses for the upstream's challenges
  auto collect = [&](std::string prompt) -> awaitable<std::optional<std::string>> {
    auto response = co_await sasl_challenge(std::move(prompt));
    if (!response) co_return std::nullopt;  // cancelled, malformed line, closed: replied
    if (auto error = check(*response, smtp::SaslPosition::kContinuation)) {
      reply(*error);
      count_error();
      co_return std::nullopt;
    }
    co_return response;
  };
  if (plain && first.empty()) {
    auto response = co_await collect("");
    if (!response) co_return;
    first = std::move(*response);
  } else if (login) {
    if (first.empty()) {
      auto user = co_await collect("VXNlcm5hbWU6");  // "Username:"
      if (!user) co_return;
      collected.push_back(std::move(*user));
    } else {
      collected.push_back(std::exchange(first, {}));
    }
    auto password = co_await collect("UGFzc3dvcmQ6");  // "Password:"
    if (!password) co_return;
    collected.push_back(std::move(*password));
  }
  // A response that would make the AUTH line too long waits for the upstream's 334.
  std::string deferred;
  const std::string wire = smtp::auth_command_line(mechanism, first, deferred);
  smtp::Reply r;
  UpstreamFault fault =
      co_await upstream_command(wire, r, limits_.upstream_timeout, Expect::kSasl);
  if (fault == UpstreamFault::kNone && r.code == 334 && !deferred.empty()) {
    // The challenge is the empty one of a client-first mechanism: the client has answered
    // it already. Any other reply (504, 535...) is relayed below as the AUTH's answer.
    deferred += "\r\n";
    fault = co_await upstream_command(deferred, r, limits_.upstream_timeout, Expect::kSasl);
  }
  // LOGIN: the upstream's challenges get the collected responses, in order.
  while (fault == UpstreamFault::kNone && r.code == 334 && !collected.empty()) {
    std::string line = std::move(collected.front()) + "\r\n";
    collected.pop_front();
    fault = co_await upstream_command(line, r, limits_.upstream_timeout, Expect::kSasl);
  }
  // AUTH PLAIN with an initial response may have commands behind it, which run after the
  // final reply (RFC 4954 §4), unless the upstream asks for more (334): then the exchange
  // is no longer one round trip and the bytes behind it would be read as a SASL response.
  bool group_may_go_on = !smtp::auth_ends_pipeline_group(mechanism, !initial_response.empty());
  while (true) {
    if (fault != UpstreamFault::kNone) {
      upstream_failed(fault, "AUTH");
      reply(454, es::kSecurityOther, "Temporary authentication failure");
      co_return;
    }
    if (r.code == 334) group_may_go_on = false;
    // Nothing else may arrive before our reply to an AUTH step (RFC 4954 §4, BR-23).
    if (!group_may_go_on && pipelined_before_reply(Verb::kAuth)) co_return;
    if (r.code != 334) break;
    reply(r);
    sasl_line_ = true;
    upstream_sasl_open_ = true;  // until the response (or "*") goes upstream
    LineKind kind = co_await next_line();
    sasl_line_ = false;
    if (kind == LineKind::kTimeout || kind == LineKind::kClosed || kind == LineKind::kHardTooLong) {
      if (kind == LineKind::kTimeout) timeout_reply();
      if (kind == LineKind::kHardTooLong) line_limit_reply();  // 421, as in command mode
      close_session("client closed");
      co_return;  // the exchange stays open: the session's end closes without QUIT
    }
    upstream_sasl_open_ = false;
    std::optional<smtp::Reply> error;
    if (kind == LineKind::kTooLong) {
      error = make_reply(500, es::kAuthLineTooLong, "Authentication Exchange line is too long");
    } else if (kind == LineKind::kBadOctets) {
      error = make_reply(501, es::kSyntaxError, "Bad octets in AUTH response");
    } else if (smtp::is_sasl_cancel(line_)) {
      error = make_reply(501, es::kSecurityOther, "Authentication cancelled");
    } else if (line_.size() + 2 > limits_.max_auth_line) {
      error = make_reply(500, es::kAuthLineTooLong, "Authentication Exchange line is too long");
    } else {
      error = check(line_, smtp::SaslPosition::kContinuation);
    }
    if (!error && pipelined_before_reply(Verb::kAuth)) {
      // Bytes behind the response: 503 and close before the credential goes upstream (the
      // upstream connection is dropped mid-exchange, never sent a QUIT).
      co_return;
    }
    if (error) {
      // Keep the upstream's dialogue aligned: cancel there and swallow its 501.
      co_await cancel_upstream_auth();
      // What the client sent behind the refused response came before our reply (BR-23).
      if (pipelined_before_reply(Verb::kAuth)) co_return;
      reply(*error);
      if (error->code != 501 || !smtp::is_sasl_cancel(line_)) count_error();
      co_return;
    }
    // A zero-length response goes upstream in its RFC 4954 §4 form, the empty line (the
    // client may have written "=", see smtp::SaslPosition).
    if (line_ == "=") line_.clear();
    line_ += "\r\n";
    fault = co_await upstream_command(line_, r, limits_.upstream_timeout, Expect::kSasl);
  }
  relay_upstream_reply(r);
  if (r.code == 235) {
    authenticated_ = true;
    upstream_login_ = true;
  }
}

std::string RelaySession::protocol_type() const {
  return client_.encrypted() ? "smtp-ssl" : "smtp-tcp";
}

common::AttributeMap RelaySession::session_attributes() const {
  common::AttributeMap attributes;
  std::string_view local = env_.local_address;
  attributes["message.source"] = std::string(local.substr(local.rfind(':') + 1));
  attributes["message.protocol.type"] = protocol_type();
  attributes["monitoring.enabled"] = env_.service->monitoring ? "true" : "false";
  std::string_view client = env_.client_address;
  std::string client_ip(client.substr(0, client.rfind(':')));
  if (client_ip.size() >= 2 && client_ip.front() == '[') client_ip = client_ip.substr(1, client_ip.size() - 2);
  // An IPv4 client on a dual-stack listener arrives as ::ffff:a.b.c.d (RFC 4291 §2.5.5.2);
  // policies see the IPv4 address, so "127.*" and equals rules work as written.
  if (client_ip.size() > 7 && smtp::iequals_ascii(client_ip.substr(0, 7), "::ffff:") &&
      client_ip.find('.') != std::string::npos) {
    client_ip.erase(0, 7);
  }
  attributes["client.address"] = std::move(client_ip);
  return attributes;
}

awaitable<Decision> RelaySession::ask_policy(const gateway::v1::Handler& handler,
                                             gateway::v1::SmtpCommand command,
                                             std::map<std::string, std::string> extra,
                                             std::string message,
                                             const std::string* envelope_from,
                                             const std::vector<std::string>* envelope_recipients) {
  if (!env_.policy) {
    Decision none;
    none.error = "no control plane client";
    co_return none;
  }
  co_await send_queued_replies();
  gateway::v1::DecisionRequest request;
  request.set_node_id(env_.node_id);
  request.set_session_id(env_.session_id);
  request.set_service(env_.service->name);
  request.set_interface_id(env_.interface_id);
  request.set_command(command);
  request.set_handler_id(handler.id());
  const std::chrono::milliseconds timeout = limits_.decision_timeout_for(command, message.size());
  request.set_timeout_ms(static_cast<std::uint32_t>(timeout.count()));
  // When the wait begins, on this node's steady clock (gctld's ArrivalLag).
  request.set_sent_steady_us(std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count());
  request.set_config_version(env_.config_version);
  request.set_client_address(env_.client_address);
  auto& attributes = *request.mutable_attributes();
  // The attributes the reference lists for each command, plus the client address.
  for (auto& [name, value] : session_attributes()) attributes[name] = std::move(value);
  if (command != gateway::v1::SMTP_COMMAND_AUTH) attributes["smtp.helo.domain"] = helo_domain_;
  if (command == gateway::v1::SMTP_COMMAND_RCPT || command == gateway::v1::SMTP_COMMAND_DATA) {
    attributes["smtp.mail.from"] = envelope_from ? *envelope_from : mail_from_;
    for (const auto& r : envelope_recipients ? *envelope_recipients : recipients_) {
      request.add_recipients(r);
    }
  }
  for (auto& [k, v] : extra) attributes[k] = std::move(v);
  // Attribute values and recipients are protobuf strings, which must be UTF-8: a single
  // ill-formed one makes gctld drop the node's whole decision stream, failing the decisions
  // of every session in flight (probe round 12: a Latin-1 AUTH password). The session
  // validates what it sends; this is the last guard. (The DATA message travels as bytes.)
  for (auto& [name, value] : attributes) {
    if (common::is_valid_utf8(value)) continue;
    spdlog::warn("session={} attribute {} is not UTF-8: sent with U+FFFD in its place",
                 env_.session_id, name);
    value = common::to_valid_utf8(value);
  }
  for (std::string& recipient : *request.mutable_recipients()) {
    if (!common::is_valid_utf8(recipient)) recipient = common::to_valid_utf8(recipient);
  }
  if (command == gateway::v1::SMTP_COMMAND_DATA) {
    request.set_message(std::move(message));
    request.set_eight_bit_allowed(body_8bitmime_);
  }
  // A client that resets its connection meanwhile is noticed (closing_, client_failed_):
  // the command is then not acted on (stopped_by), so a message whose DATA decision was
  // still out is never delivered for a client that cannot see its 250 and will send it
  // again (probe round 13).
  // The watch also cancels the decision (decision_cancellation_): the session then ends at
  // once instead of holding its slot and upstream connection until the decision or its
  // timeout comes.
  watch_client();
  Decision decision = co_await env_.policy->decide(std::move(request), timeout,
                                                   &decision_cancellation_);
  decision_cancellation_.set(nullptr);
  unwatch_client();
  co_return decision;
}

bool RelaySession::stopped_by(const Decision& decision, gateway::v1::SmtpCommand command) {
  const bool auth = command == gateway::v1::SMTP_COMMAND_AUTH;
  PolicyCounters* counters = env_.policy_counters.get();
  ServiceCounters* service_counters = env_.service_counters.get();
  using Outcome = ServiceCounters::DecisionOutcome;
  auto count = [counters, service_counters](std::atomic<std::uint64_t> PolicyCounters::*counter,
                                            Outcome outcome) {
    if (counters != nullptr) (counters->*counter).fetch_add(1, std::memory_order_relaxed);
    if (service_counters != nullptr) service_counters->count_decision(outcome);
  };
  if (client_failed_) {
    spdlog::info("session={} client connection failed while {} waited for its decision {}; "
                 "not acted on",
                 env_.session_id, gateway::v1::SmtpCommand_Name(command),
                 decision.decision_id.empty() ? std::string("(cancelled)")
                                              : common::log_escape(decision.decision_id));
    close_session("client connection failed");
    return true;
  }
  switch (decision.outcome) {
    case Decision::Outcome::kContinue:
      count(&PolicyCounters::continued, Outcome::kContinue);
      return false;
    case Decision::Outcome::kReject:
    case Decision::Outcome::kTempfail:
      count(&PolicyCounters::refused, decision.outcome == Decision::Outcome::kReject
                                          ? Outcome::kReject
                                          : Outcome::kTempfail);
      spdlog::info("session={} {} refused by policy (decision {})", env_.session_id,
                   gateway::v1::SmtpCommand_Name(command),
                   common::log_escape(decision.decision_id));
      // UTF-8 reply text only in an SMTPUTF8 transaction (RFC 6531 §3.7.4.2); the MAIL
      // that asks for one counts (utf8_command_).
      reply(smtputf8_ || utf8_command_ ? decision.reply : smtp::ascii_reply(decision.reply));
      // 421 says the service is closing the transmission channel (RFC 5321 §3.8, §4.2.2):
      // a policy that answers it ends the session, as an upstream's 421 does.
      if (decision.reply.code == 421) close_session("policy replied 421");
      if (auth) count_error();
      return true;
    case Decision::Outcome::kUnavailable:
      spdlog::warn("session={} service={} decision unavailable for {}: {}", env_.session_id,
                   env_.service->name, gateway::v1::SmtpCommand_Name(command),
                   common::log_escape(decision.error));
      // Fail open never applies to AUTH: that would accept any credentials.
      if (env_.service->fail_open && !auth) {
        count(&PolicyCounters::failed_open, Outcome::kFailedOpen);
        return false;
      }
      count(&PolicyCounters::unavailable, Outcome::kUnavailable);
      if (auth) {
        reply(454, es::kSecurityOther, "Temporary authentication failure, try again later");
      } else {
        reply(451, es::kSystemOther, "Policy service unavailable, try again later");
      }
      return true;
  }
  return true;
}

bool RelaySession::refused_path(smtp::PathError error, smtp::Verb verb) {
  const bool mail = verb == smtp::Verb::kMail;
  switch (error) {
    case smtp::PathError::kNone:
      return false;
    case smtp::PathError::kSyntax:
      reply(501, es::kInvalidArguments, mail ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>");
      break;
    case smtp::PathError::kBadAddress:
      // RFC 3463: X.1.7 bad sender, X.1.3 bad destination mailbox address syntax.
      reply(501, mail ? es::kBadSenderSyntax : es::kBadDestinationSyntax,
            mail ? "Bad sender address syntax" : "Bad recipient address syntax");
      break;
    case smtp::PathError::kBadParameter:
      reply(501, es::kInvalidArguments, mail ? "Bad MAIL parameter syntax" : "Bad RCPT parameter syntax");
      break;
    case smtp::PathError::kInvalidUtf8:
      reply(501, es::kSyntaxError, "Invalid UTF-8 in address");
      break;
  }
  count_error();
  return true;
}

void RelaySession::transaction_lost() {
  // The upstream connection that carried this transaction is gone, and a new one would not
  // know its MAIL and RCPTs. The client's transaction stays open (a 4xx to RCPT or DATA does
  // not end it, RFC 5321 §4.1.1.3, §4.1.1.4): every later RCPT and DATA of it gets this 451
  // too, never a 503 "need MAIL" (a 5xx would bounce the recipients already accepted;
  // probe round 13), until RSET, a new EHLO or QUIT.
  reply(451, es::kBadConnection,
        "Upstream connection lost in this transaction; RSET and try again later");
}

void RelaySession::reset_transaction() {
  if (state_ == smtp::SessionState::kMail || state_ == smtp::SessionState::kRcpt) {
    state_ = smtp::SessionState::kGreeted;
  }
  recipients_.clear();
  recipient_overshoot_ = 0;
  mail_from_.clear();
  smtputf8_ = false;
  // body_8bitmime_ stays: the DATA decision reads it after this reset, and every accepted
  // MAIL sets it anew.
}

awaitable<bool> RelaySession::reopen_upstream(bool for_auth) {
  if (upstream_login_) {
    // The client's proxied login lived on the lost connection; a new one would relay mail
    // as an anonymous user, which the client did not ask for. (A login verified by the
    // gateway itself does not depend on the upstream connection.)
    reply(451, es::kBadConnection, "Upstream connection lost, try again later");
    co_return false;
  }
  co_await send_queued_replies();
  set_upstream_deadline(Clock::now() + limits_.upstream_connect_timeout);
  UpstreamOptions options = upstream_options();
  UpstreamFault fault = co_await upstream_.open(options);
  upstream_opened_with_ = options;
  set_upstream_deadline(Clock::time_point::max());
  upstream_timed_out_ = false;
  if (fault != UpstreamFault::kNone) {
    count_upstream_failure();
    spdlog::warn("session={} service={} upstream reconnect failed: {} ({})", env_.session_id,
                 env_.service->name, fault_reason(fault), common::log_escape(upstream_.detail()));
    if (for_auth) {
      reply(454, es::kSecurityOther, "Temporary authentication failure, try again later");
    } else {
      reply(451, es::kNoAnswer, "Upstream mail server unavailable, try again later");
    }
    co_return false;
  }
  co_return true;
}

bool RelaySession::expected_reply(Expect expect, int code) {
  const int cls = code / 100;
  if (cls == 4 || cls == 5) return true;
  switch (expect) {
    case Expect::kFinal:
      return code == 250 || code == 251;  // RFC 5321 §4.3.2 (251: RCPT only, harmless)
    case Expect::kEndOfData:
      return cls == 2;  // delivered: see on_data's end of data
    case Expect::kData:
      return code == 354;
    case Expect::kSasl:
      return code == 235 || code == 334;  // RFC 4954 §4, §6
  }
  return false;
}

awaitable<UpstreamFault> RelaySession::upstream_command(std::string_view wire, smtp::Reply& r,
                                                        std::chrono::milliseconds timeout,
                                                        Expect expect, bool checked_unasked) {
  if (!checked_unasked && upstream_.is_open() && upstream_.stale()) {
    // Octets the upstream sent unasked: the next reply read would belong to no command.
    co_return UpstreamFault::kProtocol;
  }
  co_await send_queued_replies();
  set_upstream_deadline(Clock::now() + timeout);
  UpstreamFault fault = co_await upstream_.command(wire, r);
  set_upstream_deadline(Clock::time_point::max());
  if (upstream_timed_out_) {
    upstream_timed_out_ = false;
    fault = UpstreamFault::kTimeout;
  }
  if (fault == UpstreamFault::kNone && !expected_reply(expect, r.code)) {
    fault = UpstreamFault::kProtocol;
  }
  // RFC 4954 §4: a challenge is one line ("334" SP [base64] CRLF); a multi-line 334 is no
  // challenge the client could answer (probe round 22).
  if (fault == UpstreamFault::kNone && expect == Expect::kSasl && r.code == 334 &&
      r.lines.size() > 1) {
    fault = UpstreamFault::kProtocol;
  }
  co_return fault;
}

std::string_view RelaySession::fault_reason(UpstreamFault fault) const {
  if (client_failed_ && fault == UpstreamFault::kTimeout) {
    return "cancelled (the client's connection failed meanwhile)";
  }
  return fault_name(fault);
}

void RelaySession::count_message(std::atomic<std::uint64_t> ServiceCounters::*outcome) {
  if (env_.service_counters) {
    (env_.service_counters.get()->*outcome).fetch_add(1, std::memory_order_relaxed);
  }
}

void RelaySession::count_upstream_failure() {
  if (env_.service_counters) {
    env_.service_counters->upstream_failures.fetch_add(1, std::memory_order_relaxed);
  }
}

std::optional<smtp::Reply> RelaySession::upstream_refused_early() {
  smtp::Reply r;
  if (upstream_.reply_sent_unasked(r) != UpstreamFault::kNone) return std::nullopt;
  // Only a refusal: a 2xx before the end of data acknowledges what the upstream never got.
  if (r.code < 400 || r.code > 599) return std::nullopt;
  spdlog::warn("session={} service={} upstream refused the message before its end: {}",
               env_.session_id, env_.service->name, r.code);
  return r;
}

void RelaySession::answer_lost_message(const std::optional<smtp::Reply>& early_refusal) {
  if (early_refusal) {
    relay_upstream_reply(*early_refusal);
    count_message(early_refusal->code >= 500 ? &ServiceCounters::refused
                                             : &ServiceCounters::failed);
    return;
  }
  reply(451, es::kBadConnection, "Upstream connection lost during DATA, try again later");
  count_message(&ServiceCounters::failed);
}

void RelaySession::upstream_failed(UpstreamFault fault, std::string_view during) {
  count_upstream_failure();
  spdlog::warn("session={} service={} upstream failed during {}: {}", env_.session_id,
               env_.service->name, during, fault_reason(fault));
  upstream_.close();
}

bool RelaySession::client_sent_more() {
  // Over TLS a later record of the same segment may still sit undecrypted (BR-23).
  return !in_.empty() || (client_.encrypted() && client_.unread_data(in_, false));
}

void RelaySession::close_after_refusal() {
  reply(421, es::kProtocolOther, env_.hostname + " Error: protocol violation, closing connection");
  in_.clear();
  close_session("protocol violation");
}

void RelaySession::refuse_pipelining(std::string_view after) {
  reply(503, es::kProtocolOther, "Improper use of SMTP command pipelining");
  spdlog::warn("session={} client={} improper pipelining after {}", env_.session_id,
               env_.client_address, after);
  close_after_refusal();
}

bool RelaySession::pipelined_during_wait(smtp::Verb verb) {
  if (esmtp_ && !smtp::must_end_pipeline_group(verb)) return false;
  return pipelined_before_reply(verb);
}

bool RelaySession::pipelined_before_reply(smtp::Verb verb) {
  group_end_unchecked_.reset();
  if (in_.empty() && !client_.unread_data(in_)) return false;
  reply(503, es::kProtocolOther, "Improper use of SMTP command pipelining");
  spdlog::warn("session={} client={} improper pipelining after {}", env_.session_id,
               env_.client_address, smtp::verb_name(verb));
  upstream_.close();
  reset_transaction();
  close_after_refusal();
  return true;
}

void RelaySession::relay_upstream_reply(const smtp::Reply& r) {
  // UTF-8 reply text only in an SMTPUTF8 transaction (RFC 6531 §3.7.4.2), whoever wrote
  // it: an upstream's "Empfänger unbekannt" reaches a 7-bit client as "Empf?nger
  // unbekannt", code and enhanced code unchanged (probe round 19).
  const bool eight_bit = std::any_of(r.lines.begin(), r.lines.end(), [](const std::string& l) {
    return std::any_of(l.begin(), l.end(), [](char c) { return (c & 0x80) != 0; });
  });
  if (eight_bit && !smtputf8_ && !utf8_command_) {
    reply(smtp::ascii_reply(r));
  } else {
    reply(r);
  }
  // 421: the upstream is closing the channel; so does the gateway (RFC 5321 §3.8).
  if (r.code == 421) close_session("upstream replied 421");
}

awaitable<void> RelaySession::on_mail(std::string_view args) {
  smtp::PathArgument parsed = smtp::parse_mail_from(args);
  if (refused_path(parsed.error, smtp::Verb::kMail)) co_return;
  // Ready, and nothing waits before the MAIL goes out unless a policy decides: then
  // upstream_command need not look for octets sent unasked again.
  bool checked_unasked = upstream_ready();
  if (!checked_unasked) {
    // Before the parameter checks: they use the capabilities of the connection the command
    // goes to, and a new connection may offer less than the lost one (BR-21).
    bool connected = co_await reopen_upstream();
    if (!connected) co_return;
  }
  if (!authenticated_ && auth_decision().require_client_auth) {
    // The upstream session is logged in as the service: only clients this gateway
    // authenticated may use it (smtp::AuthDecision::require_client_auth).
    reply(530, es::kSecurityOther, "Authentication required");  // RFC 4954 §6
    count_error();
    co_return;
  }
  const smtp::Capabilities& caps = upstream_.capabilities();
  std::string& forward = command_;  // reused buffer: no allocation per command
  forward.assign("MAIL FROM:<").append(parsed.path.mailbox).append(">");
  bool utf8 = false;
  bool body_8bitmime = false;
  bool sent_size = false;  // forwarded SIZE= / BODY= (a retried MAIL needs them offered)
  bool sent_body = false;
  for (std::size_t i = 0; i < parsed.params.size(); ++i) {
    const auto& p = parsed.params[i];
    if (!esmtp_) {
      reply(555, es::kInvalidArguments, "MAIL parameters need EHLO");
      count_error();
      co_return;
    }
    // A parameter given twice could be read one way here and the other way upstream.
    for (std::size_t k = 0; k < i; ++k) {
      if (parsed.params[k].keyword == p.keyword) {
        reply(501, es::kInvalidArguments,
              "Duplicate MAIL parameter " + common::log_escape(p.keyword, 32));
        count_error();
        co_return;
      }
    }
    if (p.keyword == "SIZE") {
      // RFC 1870 §4: size-value ::= 1*20DIGIT. A value too large for 64 bits is still a
      // size, one over any limit (§6: 552), not a syntax error.
      const bool digits = p.has_value && !p.value.empty() && p.value.size() <= 20 &&
                          std::all_of(p.value.begin(), p.value.end(),
                                      [](char c) { return c >= '0' && c <= '9'; });
      if (!digits) {
        reply(501, es::kInvalidArguments, "Bad SIZE parameter");
        count_error();
        co_return;
      }
      std::uint64_t size = 0;
      auto [ptr, ec] = std::from_chars(p.value.data(), p.value.data() + p.value.size(), size);
      (void)ptr;
      if (ec == std::errc::result_out_of_range) size = std::numeric_limits<std::uint64_t>::max();
      if (size > effective_max_size()) {
        // RFC 1870 §6: the declared size exceeds the fixed maximum.
        reply(552, es::kMessageTooBig, "Message size exceeds fixed maximum message size");
        co_return;
      }
      if (caps.size) {
        forward += " SIZE=" + p.value;
        sent_size = true;
      }
    } else if (p.keyword == "BODY" && caps.eightbitmime &&
               (smtp::iequals_ascii(p.value, "7BIT") || smtp::iequals_ascii(p.value, "8BITMIME"))) {
      forward += " BODY=" + p.value;
      sent_body = true;
      body_8bitmime = smtp::iequals_ascii(p.value, "8BITMIME");
    } else if (p.keyword == "SMTPUTF8" && caps.smtputf8 && caps.eightbitmime && !p.has_value) {
      // RFC 6531 §3.1: SMTPUTF8 needs 8BITMIME too (smtp::client_capabilities).
      utf8 = true;
      forward += " SMTPUTF8";
    } else if (p.keyword == "SMTPUTF8" && !p.has_value && smtputf8_advertised_) {
      // Offered in this session's EHLO reply, but the upstream connection opened since (after
      // RSET or a lost connection) lacks it: never forwarded nor downgraded (RFC 6531 §3.2,
      // field case BR-21: 550 5.6.7).
      reply(550, es::kNonAsciiAddress, "SMTPUTF8 cannot be relayed to the mail server now");
      co_return;
    } else if (p.keyword == "BODY" && eightbitmime_advertised_ &&
               smtp::iequals_ascii(p.value, "7BIT")) {
      // Valid on this session (8BITMIME was offered); the upstream without 8BITMIME takes
      // 7-bit content anyway, and a BODY parameter it does not know is not sent to it.
    } else if (p.keyword == "BODY" && eightbitmime_advertised_ &&
               smtp::iequals_ascii(p.value, "8BITMIME")) {
      // The same for 8-bit content (RFC 6152 §3; RFC 3463 X.6.3: conversion not supported).
      reply(550, smtp::EnhancedStatus{6, 3}, "8-bit content cannot be relayed to the mail server now");
      co_return;
    } else if (p.keyword == "AUTH" && p.has_value && !p.value.empty() && auth_advertised_) {
      // RFC 4954 §5: a server offering AUTH accepts AUTH= on MAIL. The gateway cannot vouch
      // for the identity the client names, so it is not passed on (§5 allows that). Its
      // value is xtext all the same (probe round 23: "AUTH=a+ZZ" got 250).
      if (!smtp::is_xtext(p.value)) {
        reply(501, es::kInvalidArguments, "Syntax: AUTH=xtext or AUTH=<>");
        count_error();
        co_return;
      }
    } else {
      reply(555, es::kInvalidArguments, "Unsupported MAIL parameter " + common::log_escape(p.keyword, 32));
      count_error();
      co_return;
    }
  }
  if (parsed.path.non_ascii && !utf8) {
    // RFC 6531 §3.5: an internationalised address needs the SMTPUTF8 parameter.
    reply(550, es::kNonAsciiAddress, "Non-ASCII address requires SMTPUTF8");
    co_return;
  }
  // Quoted forms of a local part are the same mailbox (RFC 5321 §4.1.2): a handler for
  // ceo@x also sees "ceo"@x and "c\eo"@x. The upstream gets the mailbox as written.
  const std::string sender = smtp::comparable_mailbox(parsed.path.mailbox);
  if (const auto* handler = select_handler(env_.service->handlers, gateway::v1::SMTP_COMMAND_MAIL,
                                           sender)) {
    checked_unasked = false;
    std::map<std::string, std::string> extra;
    extra["smtp.mail.from"] = sender;
    std::string no_message;
    Decision decision = co_await ask_policy(*handler, gateway::v1::SMTP_COMMAND_MAIL,
                                            std::move(extra), std::move(no_message));
    if (pipelined_during_wait(Verb::kMail)) co_return;
    utf8_command_ = utf8;
    const bool stopped = stopped_by(decision, gateway::v1::SMTP_COMMAND_MAIL);
    utf8_command_ = false;
    if (stopped) co_return;
  }
  if (!upstream_.is_open()) {  // lost while the policy decided
    reply(451, es::kBadConnection, "Upstream connection lost, try again later");
    co_return;
  }
  forward += "\r\n";
  smtp::Reply r;
  UpstreamFault fault = co_await upstream_command(forward, r, limits_.upstream_timeout,
                                                  Expect::kFinal, checked_unasked);
  if (fault == UpstreamFault::kClosed) {
    // The upstream closed the connection before answering: often right after its last
    // reply, without the 421 RFC 5321 §3.8 asks for, while this MAIL (pipelined behind the
    // end of data) was on its way. No transaction outlives its connection, so the MAIL goes
    // once more on a new one, which must offer what the forwarded parameters rely on
    // (probe round 44: 11 of 20 such MAILs got 451). Only the extensions this MAIL uses
    // need be offered again (probe round 46).
    upstream_failed(fault, "MAIL");
    if (pipelined_during_wait(Verb::kMail)) co_return;
    if (!co_await reopen_upstream()) co_return;  // it replied
    const smtp::Capabilities& now = upstream_.capabilities();
    if ((sent_size && !now.size) || (sent_body && !now.eightbitmime) ||
        (utf8 && !(now.smtputf8 && now.eightbitmime))) {
      reply(451, es::kBadConnection, "Upstream connection changed, try again");
      co_return;
    }
    fault = co_await upstream_command(forward, r, limits_.upstream_timeout, Expect::kFinal,
                                      /*checked_unasked=*/false);
  }
  if (fault != UpstreamFault::kNone) {
    upstream_failed(fault, "MAIL");
    if (pipelined_during_wait(Verb::kMail)) co_return;
    reply(451, es::kBadConnection, "Upstream connection failed, try again later");
    co_return;
  }
  // Without PIPELINING in force nothing may follow a command before its reply.
  if (pipelined_during_wait(Verb::kMail)) co_return;
  utf8_command_ = utf8;  // the MAIL that asks for SMTPUTF8 may be answered in UTF-8
  relay_upstream_reply(r);
  utf8_command_ = false;
  if (r.positive()) {
    state_ = smtp::SessionState::kMail;
    recipients_.clear();
    mail_from_ = sender;
    smtputf8_ = utf8;
    body_8bitmime_ = body_8bitmime;
  }
}

awaitable<void> RelaySession::on_rcpt(std::string_view args) {
  smtp::PathArgument parsed = smtp::parse_rcpt_to(args);
  if (refused_path(parsed.error, smtp::Verb::kRcpt)) co_return;
  if (!parsed.params.empty()) {
    // No RCPT extension (DSN, ...) is advertised, so none may be used (RFC 5321 §4.1.1.3).
    reply(555, es::kInvalidArguments, "Unsupported RCPT parameter");
    count_error();
    co_return;
  }
  if (parsed.path.non_ascii && !smtputf8_) {
    reply(553, es::kNonAsciiAddress, "Non-ASCII address requires SMTPUTF8");
    co_return;
  }
  // From here a refusal is about this recipient (the limit, a policy, the upstream): the
  // transaction goes on for the others (note_refusal; probe round 34: 50 stale addresses
  // refused by the upstream made the DATA for the valid ones 421).
  recipient_refusal_exempt_ = true;
  if (recipients_.size() >= limits_.max_recipients) {
    // RFC 5321 §4.5.3.1.8: addresses over the limit are refused, those accepted are kept,
    // and the client sends the rest in another transaction. Those 452s are no lack of
    // progress (the transaction goes on to DATA; probe round 23: 150 recipients ended in
    // 421 at DATA), up to kRecipientOvershoot refusals per transaction; past that they
    // count like any refusal (BR-33).
    reply(452, es::kTooManyRecipients, "Too many recipients");
    co_return;
  }
  const std::string recipient = smtp::comparable_mailbox(parsed.path.mailbox);  // §4.1.2
  if (const auto* handler = select_handler(env_.service->handlers, gateway::v1::SMTP_COMMAND_RCPT,
                                           recipient)) {
    std::map<std::string, std::string> extra;
    extra["smtp.rcpt.to"] = recipient;
    std::string no_message;
    Decision decision = co_await ask_policy(*handler, gateway::v1::SMTP_COMMAND_RCPT,
                                            std::move(extra), std::move(no_message));
    if (pipelined_during_wait(Verb::kRcpt)) co_return;
    if (stopped_by(decision, gateway::v1::SMTP_COMMAND_RCPT)) co_return;
  }
  if (!upstream_.is_open()) {
    transaction_lost();
    co_return;
  }
  std::string& forward = command_;  // reused buffer: no allocation per command
  forward.assign("RCPT TO:<").append(parsed.path.mailbox).append(">\r\n");
  smtp::Reply r;
  UpstreamFault fault = co_await upstream_command(forward, r, limits_.upstream_timeout);
  if (fault != UpstreamFault::kNone) {
    upstream_failed(fault, "RCPT");
    if (pipelined_during_wait(Verb::kRcpt)) co_return;
    transaction_lost();
    co_return;
  }
  // Without PIPELINING in force nothing may follow a command before its reply.
  if (pipelined_during_wait(Verb::kRcpt)) co_return;
  relay_upstream_reply(r);
  if (r.positive()) {
    recipients_.push_back(recipient);
    state_ = smtp::SessionState::kRcpt;
  }
}

awaitable<void> RelaySession::on_rset(std::string_view args) {
  if (!trim_trailing_spaces(args).empty()) {
    reply(501, es::kInvalidArguments, "Syntax: RSET");
    count_error();
    co_return;
  }
  if (!count_idle_command()) co_return;
  bool in_transaction =
      state_ == smtp::SessionState::kMail || state_ == smtp::SessionState::kRcpt;
  reset_transaction();
  if (in_transaction && upstream_.is_open()) {
    smtp::Reply r;
    UpstreamFault fault = co_await upstream_command("RSET\r\n", r, limits_.upstream_timeout);
    // RFC 5321 §4.1.1.5: RSET MUST get 250. An upstream that refuses it may still hold the
    // old transaction (probe round 24: its 451 was relayed, then the client's next MAIL got
    // "503 nested MAIL" from it): that connection is dropped, and the reset holds here.
    if (fault == UpstreamFault::kNone && r.code != 250) fault = UpstreamFault::kProtocol;
    if (fault == UpstreamFault::kNone) {
      // Without PIPELINING in force nothing may follow a command before its reply.
      if (pipelined_during_wait(Verb::kRset)) co_return;
      relay_upstream_reply(r);
      co_return;
    }
    upstream_failed(fault, "RSET");  // reconnected lazily by the next MAIL
    if (pipelined_during_wait(Verb::kRset)) co_return;
  }
  reply(250, es::kUndefined, "Flushed");
}

awaitable<void> RelaySession::on_data(std::string_view args) {
  if (!trim_trailing_spaces(args).empty()) {
    reply(501, es::kInvalidArguments, "Syntax: DATA");
    count_error();
    co_return;
  }
  if (!upstream_.is_open()) {
    transaction_lost();
    co_return;
  }
  smtp::Reply r;
  UpstreamFault fault =
      co_await upstream_command("DATA\r\n", r, limits_.upstream_timeout, Expect::kData);
  if (fault != UpstreamFault::kNone) {
    upstream_failed(fault, "DATA");
    // Octets sent during the wait are neither content nor commands, whatever became of the
    // upstream (BR-23): 503 and close rather than run them as commands after the 451.
    if (pipelined_before_reply(Verb::kData)) co_return;
    transaction_lost();
    co_return;
  }
  // Octets sent before our reply to DATA are neither message content nor commands
  // (BR-23), whatever the upstream answered.
  if (pipelined_before_reply(Verb::kData)) co_return;
  if (r.code != 354) {
    // The upstream refused DATA: pass its reply on and stay in command mode (BR-31).
    relay_upstream_reply(r);
    co_return;
  }
  relay_upstream_reply(r);
  bool flushed = co_await flush();
  if (!flushed) {
    close_session("client closed");
    co_return;
  }

  // DATA phase: client octets → DataReader → upstream, chunk by chunk (never the whole
  // message in memory). Only CRLF.CRLF ends it; defects abort the upstream transaction by
  // closing the connection without a terminator ("streaming abort") and are reported after
  // the client's end-of-data.
  in_data_ = true;
  const Clock::time_point data_phase_deadline = Clock::now() + limits_.data_timeout;
  data_deadline_ = data_phase_deadline;
  // The last two octets of the content so far: a client whose lines end in a bare LF sends
  // its "\n.\n" and waits for a reply that only CRLF.CRLF may bring (BR-01). As for command
  // lines (next_line), content ending in a bare LF is given kBareLfPause, then 421 says why
  // (probe round 34: silence until the data timeout, 10 minutes by default). The message
  // is refused for its bare LF (550 5.5.2) either way.
  char last_octet = 0;
  char octet_before = 0;
  smtp::DataReader reader(limits_.max_text_line, effective_max_size());
  // The gateway offers 8BITMIME only when the upstream does; 8-bit content it was not
  // offered must not reach an upstream that cannot take it (RFC 6152 §3).
  const bool eight_bit_ok = upstream_.capabilities().eightbitmime || smtputf8_;
  if (!eight_bit_ok) reader.refuse_8bit();
  // With a DATA handler the message is collected whole (bounded by the size limit) and
  // only sent upstream once the policy has decided (DESIGN.md §3 step 6).
  const auto* data_handler = select_handler(env_.service->handlers, gateway::v1::SMTP_COMMAND_DATA);
  std::string content;
  // The content held for the policy counts against the node's bound (HeldMessageBudget);
  // past it the rest of the message is read and dropped, and the answer is 452 4.3.1.
  HeldMessageShare held(data_handler ? env_.held_messages.get() : nullptr);
  bool over_budget = false;
  bool upstream_ok = true;
  UpstreamFault data_fault = UpstreamFault::kNone;
  bool client_gone = false;
  // A 4xx/5xx the upstream sent before the end of data (a size or content refusal, then
  // often a close): the client gets it after its own end of data instead of 451, so a
  // permanent refusal stays permanent (BR-31: upstream replies are relayed).
  std::optional<smtp::Reply> early_refusal;
  wire_.clear();
  while (true) {
    std::size_t consumed =
        data_handler ? reader.feed(in_.data(), nullptr, over_budget ? nullptr : &content)
                     : reader.feed(in_.data(), upstream_ok ? &wire_ : nullptr);
    if (data_handler && !over_budget && !held.cover(content.size())) {
      over_budget = true;
      std::string().swap(content);
      held.release_all();
      spdlog::warn("session={} message dropped: the node holds --max-held-message-octets of "
                   "messages for DATA policies already", env_.session_id);
    }
    if (consumed >= 2) {
      octet_before = in_.data()[consumed - 2];
      last_octet = in_.data()[consumed - 1];
    } else if (consumed == 1) {
      octet_before = last_octet;
      last_octet = in_.data()[0];
    }
    in_.consume(consumed);
    if (reader.defects() != 0 && upstream_ok) {
      upstream_.close();
      upstream_ok = false;
      wire_.clear();
    }
    if (reader.done() && upstream_ok && !data_handler) {
      if (upstream_.stale()) {
        // The upstream spoke during DATA: its next line would be taken for the reply to
        // the terminator (an early "250" acknowledging what it never got, BR-31). Abort
        // without a terminator.
        early_refusal = upstream_refused_early();
        upstream_failed(UpstreamFault::kProtocol, "DATA content");
        upstream_ok = false;
        wire_.clear();
      } else {
        wire_ += ".\r\n";
      }
    }
    if (upstream_ok && !wire_.empty()) {
      // What the socket takes at once goes without an asynchronous write (the usual case).
      std::string_view rest = wire_;
      rest.remove_prefix(upstream_.write_now(rest));
      if (!rest.empty()) {
        // An upstream that stops taking content and speaks (an early refusal, BR-31) ends
        // the write at once: no waiting for a write it may never read (probe rounds 51 and
        // 52: the client waited the whole upstream timeout, then got 451 or, late, the 552
        // already received).
        set_upstream_deadline(Clock::now() + limits_.upstream_timeout);
        data_fault = co_await upstream_.write_content(rest);
        set_upstream_deadline(Clock::time_point::max());
        if (upstream_timed_out_) {
          upstream_timed_out_ = false;
          data_fault = UpstreamFault::kTimeout;
        }
      }
      wire_.clear();
      if (data_fault != UpstreamFault::kNone) {
        // An upstream that refused the message and closed (or stopped reading) makes the
        // write fail or time out; its reply is still in the socket.
        early_refusal = upstream_refused_early();
        // With a reset: the terminator may already be queued (see the end-of-data reply).
        upstream_.close(/*abortive=*/true);
        upstream_failed(data_fault, "DATA content");
        upstream_ok = false;
      }
    }
    if (reader.done()) break;
    bare_lf_pause_ = last_octet == '\n' && octet_before != '\r';
    data_deadline_ = bare_lf_pause_ ? std::min(data_phase_deadline, Clock::now() + kBareLfPause)
                                    : data_phase_deadline;
    ReadStatus status = co_await read_client();
    if (status != ReadStatus::kOk) {
      if (status == ReadStatus::kTimeout) timeout_reply();
      client_gone = true;
      break;
    }
  }
  in_data_ = false;
  bare_lf_pause_ = false;
  data_deadline_ = Clock::time_point::max();
  // The DATA decision needs the envelope (smtp.mail.from, smtp.rcpt.recipients, as the
  // reference lists for DATA); the transaction itself ends here, whatever follows.
  const std::string envelope_from = std::move(mail_from_);
  const std::vector<std::string> envelope_recipients = std::move(recipients_);
  // The replies to this end of data still belong to the transaction: in an SMTPUTF8 one
  // they may carry UTF-8 (probe round 21: reset_transaction() cleared smtputf8_ first, and
  // "angenommen für" came out "f?r").
  struct Utf8Replies {
    bool& flag;
    ~Utf8Replies() { flag = false; }
  } utf8_replies{utf8_command_};
  utf8_command_ = smtputf8_;
  reset_transaction();
  message_ended_ = !client_gone;
  if (client_gone) {
    // The client never finished: nothing may be delivered (RFC 5321 §3.8).
    upstream_.close();
    close_session("client closed");
    co_return;
  }
  if (trace_) {
    trace_->message(smtp::TraceDirection::kFromClient, reader.size());
    // Streamed: the upstream got the same content with its terminator (a DATA policy's
    // message is traced when it is sent, below).
    if (!data_handler && upstream_ok) {
      trace_->message(smtp::TraceDirection::kToUpstream, reader.size());
    }
  }
  unsigned defects = reader.defects();
  if (defects & (smtp::DataReader::kBareCr | smtp::DataReader::kBareLf)) {
    reply(550, es::kSyntaxError, "Message contains bare CR or LF, refused (RFC 5321 2.3.8)");
    count_message(&ServiceCounters::refused);
    co_return;
  }
  if (defects & smtp::DataReader::kNul) {
    reply(550, smtp::EnhancedStatus{6, 0}, "Message contains NUL octets, refused (RFC 2045 2.8)");
    count_message(&ServiceCounters::refused);
    co_return;
  }
  if (defects & smtp::DataReader::kTooBig) {
    reply(552, es::kMessageTooBig, "Message size exceeds fixed maximum message size");
    count_message(&ServiceCounters::refused);
    co_return;
  }
  if (defects & smtp::DataReader::kLineTooLong) {
    reply(500, es::kSyntaxError, "Line too long");
    count_message(&ServiceCounters::refused);
    co_return;
  }
  if (defects & smtp::DataReader::kEightBit) {
    reply(554, smtp::EnhancedStatus{6, 3},
          "8-bit message content, but the upstream offers no 8BITMIME (RFC 6152)");
    count_message(&ServiceCounters::refused);
    co_return;
  }
  if (!upstream_ok) {
    answer_lost_message(early_refusal);
    co_return;
  }
  if (over_budget) {
    upstream_.close();  // the upstream is mid-DATA: abort without a terminator
    const std::uint64_t bound =
        env_.held_messages != nullptr ? env_.held_messages->capacity() : 0;
    if (bound != 0 && reader.size() > bound) {
      // More than the node can ever hold for its DATA policy: a 452 would have the client
      // retry until its queue lifetime ends (probe round 40). Permanent, with the cause
      // (RFC 1870 §6.3).
      reply(552, es::kMessageTooBig,
            "Message size exceeds what this gateway holds for its DATA policy (" +
                std::to_string(bound) + " octets)");
      count_message(&ServiceCounters::refused);
      co_return;
    }
    reply(452, smtp::EnhancedStatus{3, 1}, "Insufficient system storage, try again later");
    count_message(&ServiceCounters::failed);
    co_return;
  }
  if (data_handler) {
    std::map<std::string, std::string> extra;
    Decision decision =
        co_await ask_policy(*data_handler, gateway::v1::SMTP_COMMAND_DATA, std::move(extra),
                            content, &envelope_from, &envelope_recipients);
    if (stopped_by(decision, gateway::v1::SMTP_COMMAND_DATA)) {
      upstream_.close();  // the upstream is mid-DATA: abort without a terminator
      if (!client_failed_) {
        // The policy's answer, or 451 4.3.0 when none came in time (fail-safe).
        count_message(decision.outcome == Decision::Outcome::kUnavailable
                          ? &ServiceCounters::failed
                          : &ServiceCounters::refused);
      }
      co_return;
    }
    if (upstream_.stale()) {  // as above: the upstream spoke during DATA
      early_refusal = upstream_refused_early();
      upstream_failed(UpstreamFault::kProtocol, "DATA content");
      answer_lost_message(early_refusal);
      co_return;
    }
    // The upstream gets no 8-bit octet it did not offer to take (RFC 6152 §3), whether the
    // client sent it (refused above) or the DATA policy put it in (a footer in a part
    // labelled 8bit; the control plane re-encodes the others). The upstream is mid-DATA:
    // abort without a terminator.
    if (decision.replaced_message && !eight_bit_ok &&
        common::has_8bit(*decision.replaced_message)) {
      upstream_.close();
      reply(554, smtp::EnhancedStatus{6, 3},
            "The message as the DATA policy changed it is 8-bit, but the upstream offers no "
            "8BITMIME (RFC 6152)");
      count_message(&ServiceCounters::refused);
      co_return;
    }
    // What the policy added may take the message over the upstream's SIZE (beyond the
    // reserve held back from the SIZE offered): the upstream would refuse it with 552 after
    // the whole upload. Said here, with the cause (RFC 1870 §6.3).
    // A copy: close() forgets the capabilities, and the reply names the limit (probe round
    // 40: "exceeds the upstream's size limit (0 octets)").
    const std::optional<std::uint64_t> upstream_size = upstream_.capabilities().size;
    if (decision.replaced_message && upstream_size && *upstream_size != 0 &&
        decision.replaced_message->size() > *upstream_size) {
      upstream_.close();
      reply(552, es::kMessageTooBig,
            "Message as changed by this gateway's DATA policy (" +
                std::to_string(decision.replaced_message->size()) +
                " octets) exceeds the upstream's size limit (" + std::to_string(*upstream_size) +
                " octets)");
      count_message(&ServiceCounters::refused);
      co_return;
    }
    wire_.clear();
    const std::string& outgoing = decision.replaced_message ? *decision.replaced_message : content;
    smtp::append_dot_stuffed(outgoing, wire_);
    if (trace_) trace_->message(smtp::TraceDirection::kToUpstream, outgoing.size());
    std::string().swap(content);
    set_upstream_deadline(Clock::now() + limits_.upstream_timeout);
    data_fault = co_await upstream_.write_content(wire_);
    set_upstream_deadline(Clock::time_point::max());
    wire_.clear();
    if (upstream_timed_out_) {
      upstream_timed_out_ = false;
      data_fault = UpstreamFault::kTimeout;
    }
    if (data_fault != UpstreamFault::kNone) {
      early_refusal = upstream_refused_early();  // as when streaming (above)
      upstream_.close(/*abortive=*/true);  // the message may be queued whole: never send it
      upstream_failed(data_fault, "DATA content");
      answer_lost_message(early_refusal);
      co_return;
    }
  }
  set_upstream_deadline(Clock::now() + limits_.upstream_data_timeout);
  fault = co_await upstream_.read_reply(r);
  set_upstream_deadline(Clock::time_point::max());
  if (upstream_timed_out_) {
    upstream_timed_out_ = false;
    fault = UpstreamFault::kTimeout;
  }
  // Only 2xx means delivered; a 354 or other 3xx is no answer to the message (RFC 5321
  // §4.2.5). Octets after a valid reply are dealt with by the next command (stale).
  if (fault == UpstreamFault::kNone && !expected_reply(Expect::kEndOfData, r.code)) {
    fault = UpstreamFault::kProtocol;
  }
  if (fault == UpstreamFault::kNone && r.code != 250 && r.positive()) {
    // Any 2yz is the upstream taking responsibility for the message (RFC 5321 §4.2.1, §6.1):
    // a 451 here would have the client send it again (probe round 44: "252 2.0.0" became
    // 451). The client gets the one success reply the RFC names for the end of data, 250
    // (§4.3.2), with the upstream's text: clients such as Python's smtplib take anything
    // else as a failure.
    r.code = 250;
  }
  if (fault != UpstreamFault::kNone) {
    // The client gets a 4xx and will send the message again: a reset discards whatever of
    // it (the terminator included) still waits in the send queue, so a slow upstream does
    // not receive the whole message after all and deliver it twice (RFC 5321 §4.5.3.2.6;
    // probe round 24: a FIN let the queued octets and the terminator through 36 s later).
    upstream_.close(/*abortive=*/true);
    upstream_failed(fault, "end of data");
    reply(451, es::kBadConnection, "Upstream did not confirm the message, try again later");
    count_message(&ServiceCounters::failed);
    co_return;
  }
  relay_upstream_reply(r);
  if (!r.positive()) {
    count_message(&ServiceCounters::upstream_refused);
  } else {
    count_message(&ServiceCounters::delivered);
    if (env_.service_counters) {
      env_.service_counters->delivered_octets.fetch_add(reader.size(), std::memory_order_relaxed);
    }
    ++messages_;
    // Progress is a delivered message; a MAIL alone is not, or MAIL/RSET loops would never
    // reach the cap (BR-33).
    idle_commands_ = 0;
  }
}

}  // namespace gw::dataplane
