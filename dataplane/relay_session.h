// One client connection relayed to its service's upstream: the SMTP server side towards the
// client, the SMTP client side towards the upstream, and the rules between them
// (DESIGN.md §3, §7; reference "Deployment example" trace).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/attribute_template.h"
#include "dataplane/asio.h"
#include "dataplane/policy_client.h"
#include "dataplane/policy_counters.h"
#include "dataplane/held_message_budget.h"
#include "dataplane/session_registry.h"
#include "dataplane/relay_counters.h"
#include "dataplane/service_config.h"
#include "dataplane/tls_context.h"
#include "dataplane/smtp/address.h"
#include "dataplane/smtp/auth.h"
#include "dataplane/smtp/command.h"
#include "dataplane/smtp/protocol_trace.h"
#include "dataplane/smtp/reply.h"
#include "dataplane/smtp/session_rules.h"
#include "dataplane/transport.h"
#include "dataplane/upstream_connection.h"

namespace gw::dataplane {

/// What a listener hands to each session it accepts.
struct SessionEnv {
  std::shared_ptr<const ServiceConfig> service;  // the version the session runs on
  /// The interface's current service (null in some tests): a newer version replaces
  /// `service` and `config_version` at the session's next command.
  std::shared_ptr<const LiveService> live_service;
  std::int64_t interface_id = 0;
  gateway::v1::InterfaceType interface_type = gateway::v1::INTERFACE_TYPE_TCP;
  std::shared_ptr<TlsServerContext> tls;  // ssl/starttls interfaces; null: TLS unavailable
  /// The listener's current TLS context (null in tests): replaces `tls` at each command while
  /// the session is in plaintext.
  std::shared_ptr<const LiveTls> live_tls = nullptr;
  std::string hostname;        // name used in the banner and EHLO reply
  std::string session_id;      // unique per node, for logs
  std::string client_address;  // "ip:port"
  std::string local_address;   // "ip:port" (message.source)
  std::shared_ptr<void> slot;  // released when the session ends (session counters)
  std::shared_ptr<PolicyClient> policy;  // null: no control plane (handlers then fail safe)
  std::shared_ptr<PolicyCounters> policy_counters = nullptr;  // outcome counts; may be null
  /// The service's session and message counts (metrics); may be null (tests). The session
  /// decrements sessions_active when it is destroyed.
  std::shared_ptr<ServiceCounters> service_counters = nullptr;
  std::string node_id;
  std::uint64_t config_version = 0;
  /// The node's bound on message octets held for DATA decisions; null: none (tests).
  std::shared_ptr<HeldMessageBudget> held_messages = nullptr;
  /// The node's running sessions (graceful stop); null: none (tests).
  std::shared_ptr<SessionRegistry> sessions = nullptr;
  /// The sessions of its listener (drained when the interface goes); null: none (tests).
  std::shared_ptr<SessionRegistry> interface_sessions = nullptr;
};

/// The relay session. Created by a listener for an accepted socket; start() spawns run()
/// on the socket's executor (the io_context of one grelayd thread: every handler of the
/// session runs on that thread, NodeIdentity::session_contexts), and the session keeps
/// itself alive through shared_from_this until run() and the pending deadline timer wait
/// have ended. Every client read is bounded by the service's
/// limits and watched by the idle, DATA and session deadlines; every upstream operation by
/// the upstream timeouts. Faults end in a 4xx for the client, never a 2xx.
class RelaySession : public std::enable_shared_from_this<RelaySession> {
 public:
  RelaySession(Socket client, SessionEnv env);
  /// Counts the session as ended (ServiceCounters::sessions_active).
  ~RelaySession();
  RelaySession(const RelaySession&) = delete;
  RelaySession& operator=(const RelaySession&) = delete;

  /// Spawns the session on its socket's executor and registers it with env.sessions. Call
  /// once.
  static void start(std::shared_ptr<RelaySession> session);
  /// The node is stopping, or the session's interface closed (SessionRegistry::drain_all;
  /// on the session's executor): a session waiting for its client's next command answers
  /// `421 4.3.2 ... shutting down` and closes now; one in the middle of a command (a
  /// message being received, an upstream or policy wait) finishes that command, then does
  /// the same (RFC 5321 §3.8). `reason` (static text) ends the session's log line.
  void begin_drain(std::string_view reason = "node stopping");

 private:
  using Clock = std::chrono::steady_clock;
  enum class LineKind { kLine, kTooLong, kBadOctets, kHardTooLong, kTimeout, kClosed };
  enum class ReadStatus { kOk, kTimeout, kClosed };

  awaitable<void> run();
  /// Deadlines: one timer per session, armed at (or before) the earliest deadline. A
  /// deadline that moves later leaves the timer alone; on expiry on_timer() cancels the
  /// operations whose deadline passed and re-arms at the next one. So the usual command
  /// cycle (deadline set before the read, cleared after) costs no timer operation.
  void arm_timer(Clock::time_point t);
  void on_timer();

  // Client side.
  awaitable<ReadStatus> read_client();
  awaitable<LineKind> next_line();
  /// Writes the pending replies (out_): at once when the socket takes them, else waits.
  awaitable<bool> flush();
  /// flush() without waiting: true if nothing is left pending.
  bool flush_now();
  /// Hands the replies queued in out_ since the last call to the protocol trace, if on.
  void trace_replies();
  /// Drops the first `n` octets of out_ (written to the client).
  void forget_written(std::size_t n);
  /// Starts or stops the protocol trace as the service's protocol_trace now says (DESIGN.md
  /// §8): at the session's start and whenever the service changes.
  void update_trace();
  /// The two halves of a client read around client_.read_some: the deadline and free space
  /// before, the count, deadline and timeout bookkeeping after.
  asio::mutable_buffer begin_client_read();
  ReadStatus end_client_read(std::size_t n, const boost::system::error_code& ec);
  /// Queues a reply. A 4xx/5xx reply counts as a command without progress (BR-33: loops
  /// of refused MAIL/RCPT/DATA are capped like NOOP loops).
  void reply(const smtp::Reply& r) {
    note_refusal(r.code);
    r.append_wire(out_);
  }
  /// Counts a 4xx/5xx reply as one command without progress, once per command.
  void note_refusal(int code) {
    if (code >= 400 && !command_counted_) {
      if (recipient_refusal_exempt_ && recipient_overshoot_ < kRecipientOvershoot) {
        ++recipient_overshoot_;  // a recipient refused inside a transaction: no idling
      } else {
        ++idle_commands_;
      }
      command_counted_ = true;
    }
  }
  void reply(int code, smtp::EnhancedStatus status, std::string_view text);
  /// Sends the replies queued so far before a wait on the upstream or the control plane,
  /// so that a finished message's 250 is not held behind the next pipelined command's
  /// round trip (probe round 24: held up to the upstream timeout; a client giving up would
  /// send the message again).
  awaitable<void> send_queued_replies();
  /// 421 4.7.0 and closing when more than max_idle_commands commands went without progress
  /// (a delivered message); true then.
  bool over_idle_limit();
  /// Ends the command loop after the current command (closing_) and records `reason` (a
  /// string literal) for the session's last log line, unless a reason is already recorded:
  /// the first cause is the one logged ("timeout", not the "client closed" after it; probe
  /// round 39: every close but three logged "quit").
  void close_session(std::string_view reason);
  /// The 421 4.3.2 of a stopping node, and closing (begin_drain).
  void drain_reply();
  /// 421 for a line over the hard limit (kHardLineLimit, no CRLF in sight), and closing:
  /// in command mode and inside an AUTH exchange alike (RFC 5321 §3.8: no close without 421).
  void line_limit_reply();
  void timeout_reply();
  void count_error();
  bool count_idle_command();

  // Commands.
  /// Answers line_ when the gateway does so alone (sequence errors, NOOP, QUIT, ...) and
  /// returns nothing; otherwise returns the command's handler, not started, for the caller
  /// to await (no coroutine frame of its own per command).
  std::optional<awaitable<void>> handle_command();
  /// Takes the interface's current service when it is newer than the session's (handlers,
  /// limits, upstream settings from the next command on; an open upstream connection stays).
  void refresh_service();
  awaitable<void> on_helo(smtp::Verb verb, std::string_view args);
  awaitable<void> on_mail(std::string_view args);
  awaitable<void> on_rcpt(std::string_view args);
  awaitable<void> on_data(std::string_view args);
  awaitable<void> on_rset(std::string_view args);
  void on_quit();
  awaitable<void> on_starttls(std::string_view args);
  awaitable<void> on_auth(std::string_view args);
  awaitable<void> proxy_auth(std::string mechanism, std::string_view initial_response);
  awaitable<void> cancel_upstream_auth();
  /// AUTH as the client sees it (DESIGN.md §4 matrix + the plaintext rule).
  [[nodiscard]] smtp::AuthDecision auth_decision() const;
  [[nodiscard]] bool auth_allowed_here() const;
  [[nodiscard]] bool tls_required_but_missing() const;
  awaitable<bool> tls_handshake();

  // Policy decisions (DESIGN.md §3, §7 "Fail safe").
  /// Asks for a decision under `handler` with the reference's attributes for `command` plus
  /// `extra`. RCPT and DATA carry the envelope: `envelope_from` and `envelope_recipients`
  /// when given (DATA: the transaction is already reset), the session's otherwise. Never
  /// throws; an RPC failure comes back as kUnavailable.
  awaitable<Decision> ask_policy(const gateway::v1::Handler& handler,
                                 gateway::v1::SmtpCommand command,
                                 std::map<std::string, std::string> extra, std::string message,
                                 const std::string* envelope_from = nullptr,
                                 const std::vector<std::string>* envelope_recipients = nullptr);
  /// Answers the client when `decision` stops the command and returns true; returns false
  /// when the command goes on (continue, or unavailable with fail-open outside AUTH). A
  /// client whose connection broke while the decision was out stops every command, with
  /// no reply and the session ending (closing_).
  bool stopped_by(const Decision& decision, gateway::v1::SmtpCommand command);
  /// Sends "334 text" and reads the client's SASL response; nullopt when the exchange ended
  /// (cancel, bad line, timeout: the reply has been given).
  awaitable<std::optional<std::string>> sasl_challenge(std::string base64_text);
  awaitable<void> local_auth(std::string mechanism, std::string_view initial_response,
                             const gateway::v1::Handler& handler);
  [[nodiscard]] std::string protocol_type() const;
  /// The attributes every decision carries whatever its command (reference: message.source,
  /// message.protocol.type, monitoring.enabled; and client.address, the client's IP).
  [[nodiscard]] common::AttributeMap session_attributes() const;
  [[nodiscard]] UpstreamOptions upstream_options() const;

  // Upstream side.
  /// True if the upstream connection can take a new transaction as it is.
  [[nodiscard]] bool upstream_ready() { return upstream_.is_open() && !upstream_.stale(); }
  /// Reconnects an upstream that is closed or stale; false when the client was answered
  /// (451 4.4.x, or for AUTH, `for_auth`, 454 4.7.0 as RFC 4954 §6 gives).
  awaitable<bool> reopen_upstream(bool for_auth = false);
  /// The replies a command may get (RFC 5321 §4.3.2, RFC 4954 §4): kFinal 250/251/4xx/5xx
  /// (MAIL, RCPT, RSET, end of data), kData 354/4xx/5xx (DATA), kSasl 235/334/4xx/5xx
  /// (AUTH steps).
  // kFinal: 250/251 (MAIL, RCPT); kEndOfData: any 2yz; kData: 354; kSasl: 235/334; 4yz
  // and 5yz always.
  enum class Expect { kFinal, kEndOfData, kData, kSasl };
  /// Sends `wire` and reads the reply into `r`. Faults: the transport's, kTimeout after
  /// `timeout`, and kProtocol when the upstream had spoken unasked before the command
  /// (its replies would no longer match the commands, BR-31) or answers with a code that
  /// `expect` does not allow (a 250 to DATA, a 354 to RCPT). `checked_unasked`: the caller
  /// found the connection ready (upstream_ready()) with no suspension since, so the check
  /// for octets sent unasked is not made twice (one MSG_PEEK per MAIL).
  awaitable<UpstreamFault> upstream_command(std::string_view wire, smtp::Reply& r,
                                            std::chrono::milliseconds timeout,
                                            Expect expect = Expect::kFinal,
                                            bool checked_unasked = false);
  /// True if `code` is a reply `expect` allows.
  static bool expected_reply(Expect expect, int code);
  /// The upstream spoke during DATA content (or closed on it): its 4xx/5xx reply, read
  /// without waiting, or nullopt (no whole reply, or a 2xx, which would acknowledge content
  /// it never got). The caller closes the upstream and relays that reply, after the
  /// client's end of data, instead of 451.
  std::optional<smtp::Reply> upstream_refused_early();
  /// Answers the end of data of a message the upstream did not take: its early refusal
  /// (counted refused for 5xx, failed for 4xx), else 451 4.4.2 (counted failed).
  void answer_lost_message(const std::optional<smtp::Reply>& early_refusal);
  void relay_upstream_reply(const smtp::Reply& r);
  /// RFC 2920 §3.1 / BR-23 for octets that arrive *while* a group-ending command (EHLO,
  /// HELO, DATA) waits for the upstream: true, after answering 503 5.5.0, closing the
  /// upstream (nothing of the stuffed octets reaches it, no DATA content is started) and
  /// marking the session closing, when the client sent anything before our reply.
  bool pipelined_before_reply(smtp::Verb verb);
  /// pipelined_before_reply() for a command that waited (upstream or policy) when the rule
  /// applies to it: always for EHLO, HELO, DATA, STARTTLS and AUTH; for the other commands
  /// only while PIPELINING is not in force (after HELO), where any second command in the
  /// buffer is a violation (BR-23).
  bool pipelined_during_wait(smtp::Verb verb);
  /// True when the client sent octets we have not answered yet: buffered in in_, or TLS
  /// records already read but not yet decrypted.
  [[nodiscard]] bool client_sent_more();
  /// RFC 2920 §3.1 / BR-23 for octets buffered behind a command line (`after` names it in
  /// the log): answers 503 5.5.0, drops the buffered octets unexecuted and marks the
  /// session closing. Nothing is sent upstream.
  void refuse_pipelining(std::string_view after);
  /// Ends the session after a refusal that cannot be recovered from (improper pipelining,
  /// BDAT): `421 4.5.0 <host> Error: protocol violation, closing connection` follows the
  /// refusal, the buffered octets are dropped unexecuted and the session is marked closing.
  /// RFC 5321 §3.8 / §4.1.4: a server closes only after QUIT, on a timeout or with a 421.
  void close_after_refusal();
  void upstream_failed(UpstreamFault fault, std::string_view during);
  /// Counts the end of a message's data under `outcome` (delivered, upstream_refused,
  /// refused, failed) when the session has service counters.
  void count_message(std::atomic<std::uint64_t> ServiceCounters::*outcome);
  /// Counts one upstream fault (connect, greeting, timeout, protocol, lost connection).
  void count_upstream_failure();
  /// What ended an upstream operation, for the log: fault_name(fault), except that a wait the
  /// client watch cancelled (the client reset its connection: client_failed_) is said to be
  /// that rather than an upstream "timeout".
  [[nodiscard]] std::string_view fault_reason(UpstreamFault fault) const;
  /// Answers 451 4.4.2 to a RCPT or DATA whose transaction's upstream connection is gone,
  /// leaving the client's transaction open (RFC 5321 §4.1.1.3).
  void transaction_lost();
  void reset_transaction();
  /// Answers a MAIL/RCPT argument error (RFC 5321 §4.1.1.2/.3, RFC 3463 X.1.7 / X.1.3) and
  /// returns true; false for PathError::kNone.
  bool refused_path(smtp::PathError error, smtp::Verb verb);
  /// The SIZE the client was told: the smaller non-zero of the service's and upstream's.
  [[nodiscard]] std::uint64_t effective_max_size() const;
  /// The service's message size limit (0: none), with a DATA policy (`data_policy`) no
  /// more than the node's --max-held-message-octets.
  [[nodiscard]] std::uint64_t service_size_limit(bool data_policy) const;

  void set_client_deadline(Clock::time_point t);
  /// Bounds the upstream wait that starts now (max(): the wait is over). While a wait is
  /// bounded the client socket is watched for a connection error (watch_client).
  void set_upstream_deadline(Clock::time_point t);
  /// During an upstream wait no client read is pending; a client that resets the connection
  /// meanwhile would hold its session slot and the upstream socket until the upstream
  /// answered (up to the reply timeout). A wait_error on the client socket (EPOLLERR: a RST,
  /// never plain data or a half-close) cancels the upstream operation instead, so the
  /// session ends at once (BR-33, BR-36). The wait_error, once armed, stays armed until the
  /// session ends; unwatch_client() only marks the wait over, so a failure seen outside a
  /// wait is left to the next client read or write.
  void watch_client();
  void unwatch_client();
  /// Starts the wait_error unless one is pending; its handler tells a connection error
  /// from TCP urgent data (Transport::exceptional_condition) and re-arms after the latter.
  void arm_client_watch();
  Clock::time_point client_read_deadline() const;

  SessionEnv env_;
  SessionLimits limits_;  // env_.service->limits, refreshed with it
  Transport client_;
  // Before upstream_, which points to it while it is on (destroyed after upstream_).
  std::unique_ptr<smtp::ProtocolTrace> trace_;
  std::size_t out_traced_ = 0;  // octets at the front of out_ already traced
  UpstreamConnection upstream_;
  SteadyTimer timer_;

  InputBuffer in_;
  std::string out_;
  std::string line_;
  std::string wire_;
  std::string command_;  // MAIL/RCPT line for the upstream

  smtp::SessionState state_ = smtp::SessionState::kConnected;
  bool esmtp_ = false;          // EHLO (not HELO): extensions and PIPELINING in force
  bool smtputf8_ = false;       // MAIL carried SMTPUTF8
  // The last accepted MAIL went upstream with BODY=8BITMIME: its DATA policy may leave
  // 8-bit octets (DecisionRequest.eight_bit_allowed). Set by every accepted MAIL.
  bool body_8bitmime_ = false;
  // The reply being sent is in an SMTPUTF8 transaction (its MAIL, its end of data): its text
  // may carry UTF-8.
  bool utf8_command_ = false;
  bool authenticated_ = false;  // AUTH succeeded in this (TLS) session
  bool upstream_login_ = false;  // that AUTH was proxied: the login lives on upstream_
  bool message_ended_ = false;   // on_data read a whole message (its reply is queued)
  /// The command being handled must end a pipelined group (RFC 2920 §3.1; any command
  /// without PIPELINING) and nothing has looked at the socket for octets sent before its
  /// reply yet: run() does after the handler unless pipelined_before_reply() did (BR-23).
  std::optional<smtp::Verb> group_end_unchecked_;
  /// Counts client reads and writes: the check after the handler only holds while the
  /// handler neither read from the client nor sent it anything.
  std::uint64_t client_io_ = 0;
  /// What the upstream connection was opened with: a later EHLO greets that connection
  /// again only while the service still names the same upstream (on_helo, same_upstream).
  UpstreamOptions upstream_opened_with_;
  bool upstream_sasl_open_ = false;  // a proxied AUTH exchange waits for a client response
  bool auth_advertised_ = false;  // AUTH was in an EHLO reply (MAIL AUTH= is then allowed)
  // 8BITMIME / SMTPUTF8 were in this session's EHLO reply: a MAIL using them that a later
  // upstream connection cannot take gets a 550 5.6.x, not "unsupported parameter" (BR-21).
  bool eightbitmime_advertised_ = false;
  bool smtputf8_advertised_ = false;
  bool command_counted_ = false;  // this command already counted toward max_idle_commands
  std::string helo_domain_;       // smtp.helo.domain: the client's, or as a HELO policy set it
  /// The name the relay greets the upstream with (RFC 5321 §4.1.1.1: the SMTP client's own
  /// name; field cases BR-15, BR-20: never the client's string): env_.hostname, unless a
  /// HELO policy set smtp.helo.domain (the reference's rewrite, issue 4), then that value.
  std::string upstream_helo_;
  std::string greeting_;        // text after the host name in the HELO/EHLO reply
  std::string mail_from_;       // smtp.mail.from of the open transaction
  /// How long a command line, or message content, that so far ends in a bare LF is waited
  /// for before it is taken for a client that ends its lines with LF alone: 421 4.5.2 and
  /// close.
  static constexpr std::chrono::milliseconds kBareLfPause{2000};
  bool bare_lf_pause_ = false;  // DATA: the read in progress waits kBareLfPause at most
  std::vector<std::string> recipients_;
  /// RCPTs of this transaction refused for their recipient: over max_recipients (452
  /// 4.5.3), by a RCPT policy, or by the upstream (550 5.1.1 for a stale address, its own
  /// 452 recipient cap).
  std::size_t recipient_overshoot_ = 0;
  /// How many of those do not count toward max_idle_commands (as Postfix's default
  /// smtpd_recipient_overshoot_limit): the transaction goes on to DATA for the recipients
  /// accepted (RFC 5321 §4.1.1.3, §4.5.3.1.10; probe rounds 23 and 34).
  static constexpr std::size_t kRecipientOvershoot = 1000;
  /// The command being handled is a RCPT with a valid path inside a transaction: its
  /// refusal is one of recipient_overshoot_ (note_refusal). Reset for every command.
  bool recipient_refusal_exempt_ = false;
  std::size_t errors_ = 0;
  std::size_t idle_commands_ = 0;
  std::size_t messages_ = 0;
  bool closing_ = false;
  bool draining_ = false;          // begin_drain(): 421 at the next command boundary
  std::string_view drain_reason_;  // begin_drain()'s reason, for the session's end line
  bool awaiting_command_ = false;  // run() waits for the client's next command line
  bool in_tls_handshake_ = false;  // tls_handshake() waits for the client's handshake
  /// Why the session ends, for its last log line: the first close_session() reason.
  std::string_view end_reason_;
  bool finished_ = false;
  bool watching_client_ = false;     // an upstream or decision wait is in progress
  bool client_watch_armed_ = false;  // a wait_error is pending on the client socket
  DecisionCancellation decision_cancellation_;  // the decision out, if any (ask_policy)
  bool client_failed_ = false;    // the client connection broke during an upstream or decision wait
  bool in_data_ = false;
  bool skipping_line_ = false;
  bool sasl_line_ = false;      // the next line is a SASL response (AUTH line limit)
  std::size_t skipped_octets_ = 0;

  Clock::time_point session_deadline_;
  Clock::time_point data_deadline_ = Clock::time_point::max();
  /// While next_line() waits for a command line: when the whole line must have arrived
  /// (idle timeout from the start of the wait). Octets trickled one at a time do not move
  /// it (BR-33: caps that a trickle cannot defeat).
  Clock::time_point line_deadline_ = Clock::time_point::max();
  Clock::time_point client_deadline_ = Clock::time_point::max();
  Clock::time_point upstream_deadline_ = Clock::time_point::max();
  Clock::time_point timer_expiry_ = Clock::time_point::max();
  bool client_timed_out_ = false;
  bool upstream_timed_out_ = false;
};

}  // namespace gw::dataplane
