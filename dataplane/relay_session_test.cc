// In-process tests of the relay session over loopback: a scripted fake upstream, a real
// Listener + RelaySession, and a blocking test client.
#include "dataplane/relay_session.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <functional>
#include <future>
#include <tuple>
#include <mutex>
#include <thread>

#include "dataplane/listener.h"

namespace gw::dataplane {
namespace {

/// A minimal SMTP server: records commands and messages; replies per its settings.
class FakeUpstream {
 public:
  explicit FakeUpstream(asio::io_context& io) : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io, accept_loop(), asio::detached);
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<std::string> commands() {
    std::lock_guard l(m_);
    return commands_;
  }
  std::vector<std::string> messages() {
    std::lock_guard l(m_);
    return messages_;
  }
  std::string ehlo_extra = "250-PIPELINING\r\n250-8BITMIME\r\n250-CHUNKING\r\n250-SIZE 1000000\r\n250 ENHANCEDSTATUSCODES\r\n";
  /// Sent as is for AUTH and for each SASL response after it (until "*" or a 2xx/5xx).
  std::string auth_reply = "504 5.5.4 no\r\n";

 private:
  awaitable<void> accept_loop() {
    while (true) {
      Socket s = co_await acceptor_.async_accept(use_awaitable);
      asio::co_spawn(acceptor_.get_executor(), serve(std::move(s)), asio::detached);
    }
  }
  awaitable<void> serve(Socket s) {
    std::string buf;
    auto send = [&](std::string text) -> awaitable<void> {
      co_await asio::async_write(s, asio::buffer(text), use_awaitable);
    };
    co_await send("220 upstream ESMTP\r\n");
    bool data = false;
    std::string msg;
    try {
      while (true) {
        std::size_t n = co_await asio::async_read_until(s, asio::dynamic_buffer(buf), "\r\n", use_awaitable);
        std::string line = buf.substr(0, n - 2);
        buf.erase(0, n);
        if (data) {
          if (line == ".") {
            data = false;
            {
              std::lock_guard l(m_);
              messages_.push_back(msg);
            }
            msg.clear();
            co_await send("250 2.0.0 queued\r\n");
          } else {
            msg += line + "\r\n";
          }
          continue;
        }
        {
          std::lock_guard l(m_);
          commands_.push_back(line);
        }
        std::string verb = line.substr(0, 4);
        if (verb == "AUTH") co_await send(auth_reply);
        else if (verb == "EHLO") co_await send("250-upstream\r\n" + ehlo_extra);
        else if (verb == "RCPT" && line.find("reject") != std::string::npos)
          co_await send("550 5.1.1 no such user\r\n");
        else if (verb == "DATA") {
          data = true;
          co_await send("354 go ahead\r\n");
        } else if (verb == "QUIT") {
          co_await send("221 bye\r\n");
          break;
        } else co_await send("250 2.0.0 ok\r\n");
      }
    } catch (...) {
    }
  }
  Acceptor acceptor_;
  std::mutex m_;
  std::vector<std::string> commands_;
  std::vector<std::string> messages_;
};

/// Scripted PolicyClient: answers with `answer(request)` and records every request.
class FakePolicyClient : public PolicyClient {
 public:
  awaitable<Decision> decide(gateway::v1::DecisionRequest request, std::chrono::milliseconds,
                             DecisionCancellation*) override {
    Decision d = answer ? answer(request) : Decision{Decision::Outcome::kContinue, {}, "d-1", {}, {}, {}};
    std::lock_guard l(m);
    requests.push_back(std::move(request));
    co_return d;
  }
  std::vector<gateway::v1::DecisionRequest> seen() {
    std::lock_guard l(m);
    return requests;
  }
  std::function<Decision(const gateway::v1::DecisionRequest&)> answer;
  std::mutex m;
  std::vector<gateway::v1::DecisionRequest> requests;
};

class RelaySessionTest : public ::testing::Test {
 protected:
  /// Replaces the service with one carrying `handlers` (and optional tweaks).
  void use_handlers(std::vector<std::tuple<gateway::v1::SmtpCommand, std::string, std::string>> handlers,
                    bool fail_open = false) {
    auto cfg = std::make_shared<ServiceConfig>(*config_);
    cfg->fail_open = fail_open;
    std::int64_t id = 1;
    for (auto& [command, address, policy] : handlers) {
      auto* h = cfg->handlers.add_handlers();
      h->set_id(id++);
      h->set_command(command);
      h->set_address(address);
      h->set_policy(policy);
    }
    listener_->set_service(cfg, 7);
  }
  static Decision reject(std::string text) {
    gateway::v1::DecisionResponse r;
    r.set_decision_id("dec-42");
    r.set_verdict(gateway::v1::VERDICT_REJECT);
    r.mutable_reply()->set_code(550);
    r.mutable_reply()->set_enhanced_code("5.7.1");
    r.mutable_reply()->set_text(std::move(text));
    return to_decision(r);
  }
  void SetUp() override {
    upstream_ = std::make_unique<FakeUpstream>(io_);
    auto cfg = std::make_shared<ServiceConfig>();
    cfg->name = "svc";
    cfg->upstream_host = "127.0.0.1";
    cfg->upstream_port = upstream_->port();
    cfg->limits.idle_timeout = std::chrono::milliseconds(2000);
    config_ = cfg;
    listener_ = std::make_shared<Listener>(io_, 1, gateway::v1::INTERFACE_TYPE_TCP, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0),
                                           config_, NodeIdentity{"n1", "gw.test", "", policy_, counters_});
    ASSERT_FALSE(listener_->open());
    listener_->start();
    thread_ = std::thread([this] { io_.run(); });
    other_thread_ = std::thread([this] { other_io_.run(); });
  }
  void TearDown() override {
    listener_->stop();
    io_.stop();
    thread_.join();
    other_work_.reset();
    other_io_.stop();
    other_thread_.join();
  }
  /// Connects and returns a socket after reading the banner.
  std::unique_ptr<Socket> connect() {
    auto s = std::make_unique<Socket>(client_io_);
    s->connect(listener_->endpoint());
    EXPECT_EQ(read_reply(*s).substr(0, 4), "220 ");
    return s;
  }
  static void send(Socket& s, std::string_view bytes) { asio::write(s, asio::buffer(bytes.data(), bytes.size())); }
  /// Reads one complete (multi-line) reply.
  std::string read_reply(Socket& s) {
    std::string out;
    while (true) {
      std::size_t n = asio::read_until(s, asio::dynamic_buffer(pending_), "\r\n");
      std::string line = pending_.substr(0, n);
      pending_.erase(0, n);
      out += line;
      if (line.size() >= 4 && line[3] == ' ') return out;
    }
  }
  std::string exchange(Socket& s, std::string_view cmd) {
    send(s, cmd);
    return read_reply(s);
  }

  asio::io_context io_;
  asio::io_context client_io_;
  std::unique_ptr<FakeUpstream> upstream_;
  std::shared_ptr<const ServiceConfig> config_;
  std::shared_ptr<FakePolicyClient> policy_ = std::make_shared<FakePolicyClient>();
  std::shared_ptr<PolicyCounters> counters_ = std::make_shared<PolicyCounters>();
  std::shared_ptr<Listener> listener_;
  std::thread thread_;
  // A second thread's io_context, as grelayd --threads 2 has: sessions accepted by a
  // listener on io_ run there (NodeIdentity::session_contexts).
  asio::io_context other_io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> other_work_ =
      asio::make_work_guard(other_io_);
  std::thread other_thread_;
  std::string pending_;
};

TEST_F(RelaySessionTest, RelaysAMessageByteExact) {
  auto s = connect();
  std::string ehlo = exchange(*s, "EHLO client.example\r\n");
  EXPECT_NE(ehlo.find("250-gw.test Hello client.example"), std::string::npos) << ehlo;
  EXPECT_NE(ehlo.find("SIZE 1000000"), std::string::npos) << ehlo;
  EXPECT_NE(ehlo.find("8BITMIME"), std::string::npos);
  EXPECT_EQ(ehlo.find("CHUNKING"), std::string::npos);
  EXPECT_EQ(exchange(*s, "MAIL FROM:<a@example.com>\r\n").substr(0, 3), "250");
  EXPECT_EQ(exchange(*s, "RCPT TO:<b@example.org>\r\n").substr(0, 3), "250");
  EXPECT_EQ(exchange(*s, "RCPT TO:<reject@example.org>\r\n"), "550 5.1.1 no such user\r\n");
  EXPECT_EQ(exchange(*s, "DATA\r\n").substr(0, 3), "354");
  EXPECT_EQ(exchange(*s, "Subject: x\r\n\r\n..dot\r\nbody\r\n.\r\n").substr(0, 3), "250");
  EXPECT_EQ(exchange(*s, "QUIT\r\n").substr(0, 3), "221");
  auto msgs = upstream_->messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0], "Subject: x\r\n\r\n..dot\r\nbody\r\n");  // the fake does not unstuff
}

/// A second listener on the running io_context `io`. Its sessions run on `session_context`
/// (run by another thread, as with grelayd --threads 2), or on `io` if null (--threads 1).
std::shared_ptr<Listener> extra_listener(asio::io_context& io, std::shared_ptr<const ServiceConfig> cfg,
                                         std::shared_ptr<PolicyClient> policy,
                                         asio::io_context* session_context) {
  NodeIdentity node{"n1", "gw.test", "", std::move(policy)};
  if (session_context != nullptr) node.session_contexts = {session_context, &io};
  auto l = std::make_shared<Listener>(io, 2, gateway::v1::INTERFACE_TYPE_TCP,
                                      tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0),
                                      std::move(cfg), node);
  EXPECT_FALSE(l->open());
  l->start();
  return l;
}

/// The whole dialogue on the listener's thread, then on another thread's io_context.
void RelaysAndQuits(asio::io_context& io, asio::io_context& client_io, FakeUpstream& upstream,
                    std::shared_ptr<const ServiceConfig> config,
                    std::shared_ptr<PolicyClient> policy, asio::io_context* session_context,
                    const std::function<std::string(Socket&)>& read_reply,
                    const std::function<std::string(Socket&, std::string_view)>& exchange) {
  auto listener = extra_listener(io, std::move(config), std::move(policy), session_context);
  const std::size_t messages_before = upstream.messages().size();
  Socket s(client_io);
  s.connect(listener->endpoint());
  EXPECT_EQ(read_reply(s).substr(0, 4), "220 ");
  EXPECT_EQ(exchange(s, "HELO client.example\r\n"), "250 gw.test Hello client.example\r\n");
  EXPECT_EQ(exchange(s, "MAIL FROM:<a@example.com>\r\n").substr(0, 3), "250");
  EXPECT_EQ(exchange(s, "RCPT TO:<b@example.org>\r\n").substr(0, 3), "250");
  EXPECT_EQ(exchange(s, "DATA\r\n").substr(0, 3), "354");
  EXPECT_EQ(exchange(s, "Subject: y\r\n\r\nline\r\n.\r\n").substr(0, 3), "250");
  EXPECT_EQ(exchange(s, "QUIT\r\n"), "221 2.0.0 gw.test closing connection\r\n");
  // The 221 is followed by the close (sent with the FIN), nothing else.
  char c;
  boost::system::error_code ec;
  EXPECT_EQ(s.read_some(asio::buffer(&c, 1), ec), 0u);
  EXPECT_EQ(ec, asio::error::eof);
  // The upstream got the message and a QUIT (sent with its FIN, reply not awaited).
  std::vector<std::string> commands;
  for (int i = 0; i < 200; ++i) {
    commands = upstream.commands();
    if (!commands.empty() && commands.back() == "QUIT") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(commands.empty());
  EXPECT_EQ(commands.back(), "QUIT");
  ASSERT_EQ(upstream.messages().size(), messages_before + 1);
  EXPECT_EQ(upstream.messages().back(), "Subject: y\r\n\r\nline\r\n");
  listener->stop();
}

TEST_F(RelaySessionTest, SessionsOnTheListenersThreadOrAnotherRelayAndQuit) {
  auto read = [this](Socket& s) { return read_reply(s); };
  auto exch = [this](Socket& s, std::string_view cmd) { return exchange(s, cmd); };
  {
    SCOPED_TRACE("on the listener's io_context");
    RelaysAndQuits(io_, client_io_, *upstream_, config_, policy_, nullptr, read, exch);
  }
  {
    SCOPED_TRACE("on another thread's io_context");
    RelaysAndQuits(io_, client_io_, *upstream_, config_, policy_, &other_io_, read, exch);
  }
}

TEST_F(RelaySessionTest, IdleTimeoutAfterTheDeadlineMovedLater) {
  // The timer is first armed for the banner's read; the deadline then moves later (after
  // each command) without re-arming, and the expiry re-arms at the real deadline.
  auto cfg = std::make_shared<ServiceConfig>(*config_);
  cfg->limits.idle_timeout = std::chrono::milliseconds(300);
  for (asio::io_context* threads : {static_cast<asio::io_context*>(nullptr), &other_io_}) {
    auto listener = extra_listener(io_, cfg, policy_, threads);
    Socket s(client_io_);
    s.connect(listener->endpoint());
    timeval limit{5, 0};  // a missing timeout fails the test instead of hanging it
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    EXPECT_EQ(read_reply(s).substr(0, 4), "220 ");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(exchange(s, "NOOP\r\n").substr(0, 3), "250");  // 200 ms < 300 ms: no timeout yet
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(read_reply(s).substr(0, 9), "421 4.4.2") << (threads != nullptr);
    auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, std::chrono::milliseconds(250)) << (threads != nullptr);
    EXPECT_LT(waited, std::chrono::milliseconds(2000)) << (threads != nullptr);
    listener->stop();
  }
}

TEST_F(RelaySessionTest, SmugglingNeverEndsDataEarly) {
  auto s = connect();
  exchange(*s, "EHLO client.example\r\n");
  exchange(*s, "MAIL FROM:<a@example.com>\r\n");
  exchange(*s, "RCPT TO:<b@example.org>\r\n");
  EXPECT_EQ(exchange(*s, "DATA\r\n").substr(0, 3), "354");
  std::string r = exchange(*s, "Subject: a\r\n\r\nfirst\n.\r\nMAIL FROM:<ceo@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nforged\r\n.\r\n");
  EXPECT_EQ(r.substr(0, 3), "550") << r;
  EXPECT_EQ(exchange(*s, "NOOP\r\n").substr(0, 3), "250");
  EXPECT_TRUE(upstream_->messages().empty());
}

TEST_F(RelaySessionTest, PipelinedGroupAndImproperPipelining) {
  auto s = connect();
  exchange(*s, "EHLO client.example\r\n");
  send(*s, "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
  EXPECT_EQ(read_reply(*s).substr(0, 3), "250");
  EXPECT_EQ(read_reply(*s).substr(0, 3), "250");
  EXPECT_EQ(read_reply(*s).substr(0, 3), "354");
  EXPECT_EQ(exchange(*s, "x\r\n.\r\n").substr(0, 3), "250");
  std::string r = exchange(*s, "EHLO again.example\r\nMAIL FROM:<a@example.com>\r\n");
  EXPECT_EQ(r.substr(0, 9), "503 5.5.0") << r;
  // RFC 5321 §4.1.4: the connection is closed only after a 421.
  r = read_reply(*s);
  EXPECT_EQ(r.substr(0, 9), "421 4.5.0") << r;
}

TEST_F(RelaySessionTest, CommandLineLimits) {
  auto s = connect();
  EXPECT_EQ(exchange(*s, "EHLO " + std::string(600, 'a') + "\r\n").substr(0, 9), "500 5.5.2");
  EXPECT_EQ(exchange(*s, "EHLO 192.0.2.7\r\n").substr(0, 9), "501 5.5.2");
  EXPECT_EQ(exchange(*s, "RCPT TO:<a@b.example><CR>RSET\r\n").substr(0, 3), "503");
  EXPECT_EQ(exchange(*s, "NOOP\rRSET\r\n").substr(0, 9), "501 5.5.2");
  send(*s, "MAIL FROM:<a@example.com> " + std::string(100000, 'A'));
  EXPECT_EQ(read_reply(*s).substr(0, 9), "421 4.7.0");
}

}  // namespace
}  // namespace gw::dataplane

namespace gw::dataplane {
namespace {

TEST_F(RelaySessionTest, StarttlsOnTcpInterfaceIsRefused) {
  auto s = connect();
  EXPECT_EQ(exchange(*s, "STARTTLS\r\n").substr(0, 9), "454 4.7.0");
  EXPECT_EQ(exchange(*s, "EHLO client.example\r\n").substr(0, 3), "250");
  EXPECT_EQ(exchange(*s, "STARTTLS\r\n").substr(0, 9), "454 4.7.0");
  EXPECT_EQ(exchange(*s, "AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n").substr(0, 9), "503 5.5.1");
}

}  // namespace
}  // namespace gw::dataplane

namespace gw::dataplane {
namespace {

using gateway::v1::SMTP_COMMAND_AUTH;
using gateway::v1::SMTP_COMMAND_DATA;
using gateway::v1::SMTP_COMMAND_HELO;
using gateway::v1::SMTP_COMMAND_MAIL;
using gateway::v1::SMTP_COMMAND_RCPT;

TEST_F(RelaySessionTest, HeloHandlerRewritesGreetingAndUpstreamDomain) {
  use_handlers({{SMTP_COMMAND_HELO, "", "greet"}});
  policy_->answer = [](const gateway::v1::DecisionRequest& r) {
    EXPECT_EQ(r.attributes().at("smtp.helo.domain"), "client.example");
    EXPECT_EQ(r.attributes().at("smtp.helo.greeting"), "Hello ${smtp.helo.domain}");
    EXPECT_EQ(r.attributes().at("message.protocol.type"), "smtp-tcp");
    Decision d{Decision::Outcome::kContinue, {}, "d-1", {}, {}, {}};
    d.attribute_changes["smtp.helo.domain"] = "rewritten.example";
    d.attribute_changes["smtp.helo.greeting"] = "Welcome client.example";
    return d;
  };
  auto s = connect();
  std::string ehlo = exchange(*s, "EHLO client.example\r\n");
  EXPECT_NE(ehlo.find("250-gw.test Welcome client.example\r\n"), std::string::npos) << ehlo;
  auto cmds = upstream_->commands();
  ASSERT_FALSE(cmds.empty());
  EXPECT_EQ(cmds[0], "EHLO rewritten.example");
}

TEST_F(RelaySessionTest, MailHandlersBestMatchAndRejectCarriesDecisionId) {
  use_handlers({{SMTP_COMMAND_MAIL, "*", "deny"}, {SMTP_COMMAND_MAIL, "*@example.com", "allow"}});
  policy_->answer = [](const gateway::v1::DecisionRequest& r) {
    if (r.handler_id() == 1) return reject("Sender not allowed");
    return Decision{Decision::Outcome::kContinue, {}, "d-2", {}, {}, {}};
  };
  auto s = connect();
  exchange(*s, "EHLO client.example\r\n");
  EXPECT_EQ(exchange(*s, "MAIL FROM:<a@example.org>\r\n"),
            "550 5.7.1 Sender not allowed (decision dec-42)\r\n");
  EXPECT_EQ(exchange(*s, "MAIL FROM:<a@example.com>\r\n").substr(0, 3), "250");
  auto seen = policy_->seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].handler_id(), 1);
  EXPECT_EQ(seen[1].handler_id(), 2);
  EXPECT_EQ(seen[1].attributes().at("smtp.mail.from"), "a@example.com");
  for (const auto& c : upstream_->commands()) EXPECT_EQ(c.find("example.org"), std::string::npos);
}

TEST_F(RelaySessionTest, RcptHandlerSeesRecipientsGrow) {
  use_handlers({{SMTP_COMMAND_RCPT, "*", "count"}});
  auto s = connect();
  exchange(*s, "EHLO client.example\r\n");
  exchange(*s, "MAIL FROM:<a@example.com>\r\n");
  exchange(*s, "RCPT TO:<b1@example.org>\r\n");
  exchange(*s, "RCPT TO:<b2@example.org>\r\n");
  exchange(*s, "RCPT TO:<b3@example.org>\r\n");
  auto seen = policy_->seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].recipients_size(), 0);
  EXPECT_EQ(seen[2].recipients_size(), 2);
  EXPECT_EQ(seen[2].attributes().at("smtp.rcpt.to"), "b3@example.org");
  EXPECT_EQ(seen[2].attributes().at("smtp.mail.from"), "a@example.com");
}

TEST_F(RelaySessionTest, ControlPlaneUnavailableFailsSafeOrOpen) {
  use_handlers({{SMTP_COMMAND_MAIL, "*", "p"}});
  policy_->answer = [](const gateway::v1::DecisionRequest&) {
    Decision d;
    d.error = "deadline exceeded";
    return d;
  };
  auto s = connect();
  exchange(*s, "EHLO client.example\r\n");
  EXPECT_EQ(exchange(*s, "MAIL FROM:<a@example.com>\r\n").substr(0, 9), "451 4.3.0");
  EXPECT_EQ(counters_->unavailable.load(), 1u);
  use_handlers({{SMTP_COMMAND_MAIL, "*", "p"}}, /*fail_open=*/true);
  auto s2 = connect();
  exchange(*s2, "EHLO client.example\r\n");
  EXPECT_EQ(exchange(*s2, "MAIL FROM:<a@example.com>\r\n").substr(0, 3), "250");
  EXPECT_EQ(counters_->failed_open.load(), 1u);
  EXPECT_EQ(counters_->total(), 2u);
  EXPECT_NE(counters_->summary().find("unavailable=1 failed_open=1"), std::string::npos);
}

TEST_F(RelaySessionTest, DataHandlerReplacesTheMessage) {
  use_handlers({{SMTP_COMMAND_DATA, "", "rewrite"}});
  policy_->answer = [](const gateway::v1::DecisionRequest& r) {
    EXPECT_EQ(r.message(), "Subject: x\r\n\r\n.dot\r\n");
    Decision d{Decision::Outcome::kContinue, {}, "d-3", {}, {}, {}};
    d.replaced_message = "Subject: y\r\n\r\n.new";
    return d;
  };
  auto s = connect();
  exchange(*s, "EHLO client.example\r\n");
  exchange(*s, "MAIL FROM:<a@example.com>\r\n");
  exchange(*s, "RCPT TO:<b@example.org>\r\n");
  EXPECT_EQ(exchange(*s, "DATA\r\n").substr(0, 3), "354");
  EXPECT_EQ(exchange(*s, "Subject: x\r\n\r\n..dot\r\n.\r\n").substr(0, 3), "250");
  auto msgs = upstream_->messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0], "Subject: y\r\n\r\n..new\r\n");  // re-stuffed, CRLF added
}

TEST_F(RelaySessionTest, DataHandlerRejectDeliversNothing) {
  use_handlers({{SMTP_COMMAND_DATA, "", "virus"}});
  policy_->answer = [](const gateway::v1::DecisionRequest&) { return reject("Infected"); };
  auto s = connect();
  exchange(*s, "EHLO client.example\r\n");
  exchange(*s, "MAIL FROM:<a@example.com>\r\n");
  exchange(*s, "RCPT TO:<b@example.org>\r\n");
  exchange(*s, "DATA\r\n");
  EXPECT_EQ(exchange(*s, "hello\r\n.\r\n").substr(0, 9), "550 5.7.1");
  EXPECT_EQ(exchange(*s, "NOOP\r\n").substr(0, 3), "250");
  EXPECT_TRUE(upstream_->messages().empty());
}

TEST_F(RelaySessionTest, LocalAuthPlainAndLoginWithStrictRules) {
  auto cfg = std::make_shared<ServiceConfig>(*config_);
  cfg->allow_plaintext_auth = true;
  auto* h = cfg->handlers.add_handlers();
  h->set_id(1);
  h->set_command(SMTP_COMMAND_AUTH);
  h->set_policy("check-user");
  listener_->set_service(cfg, 8);
  policy_->answer = [](const gateway::v1::DecisionRequest& r) {
    if (r.attributes().at("authentication.subject.id") == "alice" &&
        r.attributes().at("authentication.subject.password") == "s3cret") {
      return Decision{Decision::Outcome::kContinue, {}, "d-4", {}, {}, {}};
    }
    gateway::v1::DecisionResponse resp;
    resp.set_decision_id("dec-9");
    resp.set_verdict(gateway::v1::VERDICT_REJECT);
    resp.mutable_reply()->set_code(535);
    resp.mutable_reply()->set_enhanced_code("5.7.8");
    resp.mutable_reply()->set_text("Authentication credentials invalid");
    return to_decision(resp);
  };
  auto s = connect();
  std::string ehlo = exchange(*s, "EHLO client.example\r\n");
  EXPECT_NE(ehlo.find("AUTH PLAIN LOGIN"), std::string::npos) << ehlo;
  EXPECT_EQ(exchange(*s, "AUTH PLAIN =\r\n").substr(0, 9), "501 5.5.2");        // BR-08
  EXPECT_EQ(exchange(*s, "AUTH PLAIN AGFsaWNlAHMzY3JldAB\r\n").substr(0, 9), "501 5.5.2");  // BR-11
  EXPECT_EQ(exchange(*s, "AUTH PLAIN AGE=AHMz\r\n").substr(0, 9), "501 5.5.2");
  EXPECT_EQ(exchange(*s, "AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(exchange(*s, "*\r\n").substr(0, 3), "501");                            // BR-09
  // BR-08: an empty user name is refused at once, never followed by a password prompt
  // (probe round 21), whether it came as the initial response or after the prompt.
  EXPECT_EQ(exchange(*s, "AUTH LOGIN =\r\n").substr(0, 9), "535 5.7.8");
  EXPECT_EQ(exchange(*s, "AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(exchange(*s, "\r\n").substr(0, 9), "535 5.7.8");
  EXPECT_EQ(exchange(*s, "AUTH PLAIN AGFsaWNlAHdyb25n\r\n").substr(0, 9), "535 5.7.8");
  EXPECT_EQ(exchange(*s, "AUTH PLAIN\r\n"), "334 \r\n");
  EXPECT_EQ(exchange(*s, "AGFsaWNlAHMzY3JldA==\r\n").substr(0, 9), "235 2.7.0");
  EXPECT_EQ(exchange(*s, "AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n").substr(0, 3), "503");
  // Malformed inputs never reached the policy: two real attempts only.
  EXPECT_EQ(policy_->seen().size(), 2u);
  for (const auto& c : upstream_->commands()) EXPECT_NE(c.substr(0, 4), "AUTH");
}

TEST_F(RelaySessionTest, PassThroughSaslChallengesWholeAndMultiLine334Refused) {
  // RFC 4954 §4 (probe round 22): an upstream's 800-octet challenge reaches the client whole,
  // not cut to a 512-octet line; a multi-line 334 is no challenge: 454, nothing relayed.
  auto cfg = std::make_shared<ServiceConfig>(*config_);
  cfg->allow_plaintext_auth = true;
  listener_->set_service(cfg, 8);
  upstream_->ehlo_extra = "250-AUTH GSSAPI PLAIN\r\n250 ENHANCEDSTATUSCODES\r\n";
  const std::string token(800, 'Q');
  upstream_->auth_reply = "334 " + token + "\r\n";
  auto s = connect();
  std::string ehlo = exchange(*s, "EHLO client.example\r\n");
  ASSERT_NE(ehlo.find("AUTH GSSAPI PLAIN"), std::string::npos) << ehlo;
  EXPECT_EQ(exchange(*s, "AUTH GSSAPI\r\n"), "334 " + token + "\r\n");
  auto s2 = connect();
  upstream_->auth_reply = "334-VXNlcm5hbWU6\r\n334 VXNlcm5hbWU6\r\n";
  exchange(*s2, "EHLO client.example\r\n");
  // (GSSAPI: PLAIN and LOGIN are collected with the gateway's own challenges first.)
  const std::string r = exchange(*s2, "AUTH GSSAPI\r\n");
  EXPECT_EQ(r.substr(0, 9), "454 4.7.0") << r;
  EXPECT_EQ(r.find("334"), std::string::npos) << r;
}

TEST_F(RelaySessionTest, OwnLoginSendsNoCredentialAfterAMultiLine334) {
  // Probe round 33: with service credentials the gateway sent its password after
  // "334-abcd", where pass-through answers 454. A SASL challenge is one line (RFC 4954 §4):
  // anything else is an upstream out of step, and EHLO gets 421 4.4.1 with nothing sent.
  for (const char* mechanisms : {"PLAIN", "LOGIN"}) {
    auto cfg = std::make_shared<ServiceConfig>(*config_);
    cfg->username = std::string(100, 'u');
    cfg->password = std::string(600, 'p');  // too long for the AUTH line: AUTH PLAIN alone
    listener_->set_service(cfg, 9);
    upstream_->ehlo_extra =
        std::string("250-AUTH ") + mechanisms + "\r\n250 ENHANCEDSTATUSCODES\r\n";
    upstream_->auth_reply = "334-abcd\r\n334 \r\n";
    auto s = connect();
    const std::string r = exchange(*s, "EHLO client.example\r\n");
    EXPECT_EQ(r.substr(0, 9), "421 4.4.1") << mechanisms << ": " << r;
    const auto commands = upstream_->commands();
    ASSERT_FALSE(commands.empty());
    EXPECT_EQ(commands.back(), std::string("AUTH ") + mechanisms) << mechanisms;
    for (const auto& c : commands) {
      EXPECT_EQ(c.find("cHBwc"), std::string::npos) << "credential sent: " << c.substr(0, 40);
      EXPECT_EQ(c.find("dXV1"), std::string::npos) << "user name sent: " << c.substr(0, 40);
    }
  }
}

}  // namespace
}  // namespace gw::dataplane
