// Tests of the decision engine: request validation, handler → policy lookup, attributes,
// verdicts and replies, the fail-safe answers, and the audit record.
#include "controlplane/decision_engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <regex>
#include <set>
#include <thread>

#include "controlplane/audit_writer.h"
#include "controlplane/decision_grpc_service.h"
#include "controlplane/policy/password_hash.h"
#include "controlplane/worker_pool.h"
#include "storage/database.h"
#include "storage/test_temp_dir.h"

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;

v1::Handler handler(std::int64_t id, v1::SmtpCommand command, std::string policy,
                    std::string greeting = "", std::string address = "") {
  v1::Handler h;
  h.set_id(id);
  h.set_service("corp");
  h.set_command(command);
  h.set_policy(std::move(policy));
  h.set_greeting(std::move(greeting));
  h.set_address(std::move(address));
  return h;
}

class DecisionEngineTest : public ::testing::Test {
 protected:
  DecisionEngineTest() {
    auto c = std::make_shared<Configuration>();
    c->version = 7;
    c->service_instances["corp"] = "default";
    c->handlers[1] = handler(1, v1::SMTP_COMMAND_MAIL, "only-example-com", "", "*");
    c->handlers[2] = handler(2, v1::SMTP_COMMAND_HELO, "greet", "Hi ${smtp.helo.domain}");
    c->handlers[3] = handler(3, v1::SMTP_COMMAND_AUTH, "check-user");
    c->handlers[4] = handler(4, v1::SMTP_COMMAND_RCPT, "two-max");
    c->handlers[5] = handler(5, v1::SMTP_COMMAND_MAIL, "gone", "", "*@gone.example");
    auto built = policy::build_policy_set({
        {"only-example-com", "550 5.7.1 Sender ${smtp.mail.from} not allowed",
         "- type: match\n  attribute: smtp.mail.from\n  wildcard: \"*@example.com\"\n"},
        {"greet", "",
         "- type: set_attribute\n  attribute: smtp.helo.domain\n  value: gw.${smtp.helo.domain}\n"},
        {"check-user", "", "- type: attribute_authentication\n"},
        {"two-max", "452 4.5.3 Too many recipients",
         "- type: match\n  attribute: smtp.rcpt.recipients\n  regex: '^[^,]*(, [^,]*)?$'\n"},
    });
    EXPECT_TRUE(built.errors.empty());
    c->policies = std::make_shared<policy::PolicySet>(std::move(built.policies));
    auto hash = policy::hash_password("s3cret-pw", policy::kTestArgon2Cost);
    EXPECT_TRUE(hash);
    c->users = std::make_shared<policy::MapUserDirectory>(
        std::map<std::string, std::string, std::less<>>{{"alice", hash.value()}});
    hub_.publish(c, {});
  }

  v1::DecisionRequest request(std::int64_t handler_id, v1::SmtpCommand command) {
    v1::DecisionRequest r;
    r.set_node_id("node-1");
    r.set_session_id("s-1");
    r.set_service("corp");
    r.set_interface_id(9);
    r.set_command(command);
    r.set_handler_id(handler_id);
    r.set_client_address("192.0.2.7:40000");
    return r;
  }

  SnapshotHub hub_;
  DecisionEngine engine_{hub_};
};

TEST_F(DecisionEngineTest, AcceptedMailContinuesWithFreshIdAndAuditRecord) {
  auto r = request(1, v1::SMTP_COMMAND_MAIL);
  (*r.mutable_attributes())["smtp.mail.from"] = "alice@example.com";
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    auto d = engine_.decide(r);
    ASSERT_TRUE(d);
    EXPECT_EQ(d.value().response.verdict(), v1::VERDICT_CONTINUE);
    EXPECT_EQ(d.value().response.reply().code(), 0u);
    EXPECT_TRUE(std::regex_match(
        d.value().response.decision_id(),
        std::regex("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
    ids.insert(d.value().response.decision_id());
    const v1::AuditRecord& a = d.value().audit;
    EXPECT_EQ(a.decision_id(), d.value().response.decision_id());
    EXPECT_EQ(a.node_id(), "node-1");
    EXPECT_EQ(a.session_id(), "s-1");
    EXPECT_EQ(a.interface_id(), 9);
    EXPECT_EQ(a.handler_id(), 1);
    EXPECT_EQ(a.policy(), "only-example-com");
    EXPECT_EQ(a.verdict(), v1::VERDICT_CONTINUE);
    EXPECT_EQ(a.attributes().at("client.address"), "192.0.2.7");
    EXPECT_GT(a.time_ms(), 0);
  }
  EXPECT_EQ(ids.size(), 50u);
}

TEST_F(DecisionEngineTest, RejectedMailCarriesThePolicyReplyExpanded) {
  auto r = request(1, v1::SMTP_COMMAND_MAIL);
  (*r.mutable_attributes())["smtp.mail.from"] = "x@example.org";
  auto d = engine_.decide(r);
  ASSERT_TRUE(d);
  EXPECT_EQ(d.value().response.verdict(), v1::VERDICT_REJECT);
  EXPECT_EQ(d.value().response.reply().code(), 550u);
  EXPECT_EQ(d.value().response.reply().enhanced_code(), "5.7.1");
  EXPECT_EQ(d.value().response.reply().text(), "Sender x@example.org not allowed");
  EXPECT_EQ(d.value().audit.verdict(), v1::VERDICT_REJECT);
  EXPECT_EQ(d.value().audit.reply().code(), 550u);
  EXPECT_NE(d.value().audit.attributes().at("decision.reason"), "");
}

TEST_F(DecisionEngineTest, HeloGreetingComesFromTheHandlerAndDomainChangesAreReturned) {
  auto r = request(2, v1::SMTP_COMMAND_HELO);
  (*r.mutable_attributes())["smtp.helo.domain"] = "client.example";
  (*r.mutable_attributes())["smtp.helo.greeting"] = "node's idea, ignored";
  auto d = engine_.decide(r);
  ASSERT_TRUE(d);
  EXPECT_EQ(d.value().response.verdict(), v1::VERDICT_CONTINUE);
  const auto& changes = d.value().response.attribute_changes();
  EXPECT_EQ(changes.at("smtp.helo.greeting"), "Hi client.example");
  EXPECT_EQ(changes.at("smtp.helo.domain"), "gw.client.example");
}

TEST_F(DecisionEngineTest, AHeloRewriteTheRelayCannotSendIsDroppedAndNotAudited) {
  // "gw.${smtp.helo.domain}" for "[192.0.2.1]" is no domain: the relay ignores it, so the
  // audit must not show it as the name the upstream got (probe round 18).
  auto r = request(2, v1::SMTP_COMMAND_HELO);
  (*r.mutable_attributes())["smtp.helo.domain"] = "[192.0.2.1]";
  auto d = engine_.decide(r);
  ASSERT_TRUE(d);
  EXPECT_EQ(d.value().response.verdict(), v1::VERDICT_CONTINUE);
  EXPECT_EQ(d.value().response.attribute_changes().count("smtp.helo.domain"), 0u);
  const auto& audited = d.value().audit.attributes();
  EXPECT_EQ(audited.at("smtp.helo.domain"), "[192.0.2.1]");
  EXPECT_NE(audited.at("decision.reason").find("smtp.helo.domain rewrite ignored"),
            std::string::npos);
}

TEST_F(DecisionEngineTest, AHeloRewriteToUnicodeLabelsGoesOutAsALabels) {
  // Probe round 39: a rewrite to "bücher.example" was dropped; EHLO is ASCII, so the name
  // goes out (and is audited) as its A-labels.
  auto r = request(2, v1::SMTP_COMMAND_HELO);
  (*r.mutable_attributes())["smtp.helo.domain"] = "b\xc3\xbc" "cher.example";
  auto d = engine_.decide(r);
  ASSERT_TRUE(d);
  EXPECT_EQ(d.value().response.attribute_changes().at("smtp.helo.domain"),
            "gw.xn--bcher-kva.example");
  EXPECT_EQ(d.value().audit.attributes().at("smtp.helo.domain"), "gw.xn--bcher-kva.example");
  EXPECT_FALSE(d.value().audit.attributes().contains("decision.reason"));
  // Not a domain in any script: still dropped.
  (*r.mutable_attributes())["smtp.helo.domain"] = "B\xc3\x9c" "CHER.example";  // upper case
  d = engine_.decide(r);
  ASSERT_TRUE(d);
  EXPECT_EQ(d.value().response.attribute_changes().count("smtp.helo.domain"), 0u);
}

TEST_F(DecisionEngineTest, AuthChecksTheRepositoryAndNeverAuditsThePassword) {
  EXPECT_TRUE(engine_.is_slow(request(3, v1::SMTP_COMMAND_AUTH)));
  EXPECT_FALSE(engine_.is_slow(request(1, v1::SMTP_COMMAND_MAIL)));
  auto r = request(3, v1::SMTP_COMMAND_AUTH);
  (*r.mutable_attributes())["authentication.subject.id"] = "alice";
  (*r.mutable_attributes())["authentication.subject.password"] = "s3cret-pw";
  auto ok = engine_.decide(r);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok.value().response.verdict(), v1::VERDICT_CONTINUE);
  EXPECT_FALSE(ok.value().audit.attributes().contains("authentication.subject.password"));
  EXPECT_EQ(ok.value().audit.attributes().at("authentication.subject.id"), "alice");

  (*r.mutable_attributes())["authentication.subject.password"] = "wrong-pw";
  auto bad = engine_.decide(r);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad.value().response.verdict(), v1::VERDICT_REJECT);
  EXPECT_EQ(bad.value().response.reply().code(), 535u);
  EXPECT_EQ(bad.value().response.reply().enhanced_code(), "5.7.8");
  for (const auto& [name, value] : bad.value().audit.attributes()) {
    EXPECT_EQ(value.find("wrong-pw"), std::string::npos) << name;
  }
}

TEST_F(DecisionEngineTest, SlowDecisionsTheNodeStoppedWaitingForAreNotMade) {
  // An AUTH that waited in the slow pool longer than the node's decision timeout is neither
  // verified nor audited: the node answered 454 (or failed open) long ago, and a backlog of
  // Argon2id checks nobody waits for delayed the fresh ones (probe round 13).
  storage::TestTempDir dir;
  { storage::Database::open(dir.file("gw.db")); }  // migrations, as gctld's first connection
  AuditWriter audit(dir.file("gw.db"));
  WorkerPool pool(1, 16);
  DecisionGrpcService service(engine_, audit, pool);
  ASSERT_TRUE(pool.post([] { std::this_thread::sleep_for(std::chrono::milliseconds(300)); }));
  auto late = request(3, v1::SMTP_COMMAND_AUTH);
  (*late.mutable_attributes())["authentication.subject.id"] = "alice";
  (*late.mutable_attributes())["authentication.subject.password"] = "s3cret-pw";
  late.set_timeout_ms(100);
  auto fresh = late;
  fresh.set_timeout_ms(5000);
  auto unknown = late;
  unknown.set_timeout_ms(0);  // an older node: no timeout known, decided as before
  std::promise<grpc::Status> late_done, fresh_done, unknown_done;
  const auto now = std::chrono::steady_clock::now();
  service.decide(late, now, [&](grpc::Status s, v1::DecisionResponse) { late_done.set_value(s); });
  service.decide(fresh, now, [&](grpc::Status s, v1::DecisionResponse r) {
    EXPECT_EQ(r.verdict(), v1::VERDICT_CONTINUE);
    fresh_done.set_value(s);
  });
  service.decide(unknown, now,
                 [&](grpc::Status s, v1::DecisionResponse) { unknown_done.set_value(s); });
  EXPECT_EQ(late_done.get_future().get().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(fresh_done.get_future().get().ok());
  EXPECT_TRUE(unknown_done.get_future().get().ok());
  audit.flush();
  EXPECT_EQ(audit.written(), 2u) << "the late decision has no audit record";
  // A decision that ends after the node's timeout, counted from its arrival (here: it
  // arrived 200 ms ago), is not recorded either.
  auto mail = request(1, v1::SMTP_COMMAND_MAIL);
  (*mail.mutable_attributes())["smtp.mail.from"] = "a@example.com";
  mail.set_timeout_ms(100);
  std::promise<grpc::Status> mail_done;
  service.decide(mail, std::chrono::steady_clock::now() - std::chrono::milliseconds(200),
                 [&](grpc::Status s, v1::DecisionResponse) { mail_done.set_value(s); });
  EXPECT_EQ(mail_done.get_future().get().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  audit.flush();
  EXPECT_EQ(audit.written(), 2u);
  pool.stop();
}

TEST_F(DecisionEngineTest, RecipientsAreJoinedFromTheRequestList) {
  auto r = request(4, v1::SMTP_COMMAND_RCPT);
  (*r.mutable_attributes())["smtp.rcpt.to"] = "b@example.com";
  r.add_recipients("a@example.com");
  auto one = engine_.decide(r);
  ASSERT_TRUE(one);
  EXPECT_EQ(one.value().audit.attributes().at("smtp.rcpt.recipients"), "a@example.com");
  EXPECT_EQ(one.value().response.verdict(), v1::VERDICT_CONTINUE);
  r.add_recipients("b@example.com");
  r.add_recipients("c@example.com");
  auto three = engine_.decide(r);
  ASSERT_TRUE(three);
  EXPECT_EQ(three.value().response.verdict(), v1::VERDICT_TEMPFAIL);
  EXPECT_EQ(three.value().response.reply().code(), 452u);
}

TEST_F(DecisionEngineTest, StaleHandlersTempfailSafely) {
  // Unknown id, a handler of another command, a handler whose policy is not loaded.
  for (auto [id, command] : {std::pair{99L, v1::SMTP_COMMAND_MAIL},
                             std::pair{2L, v1::SMTP_COMMAND_MAIL},
                             std::pair{5L, v1::SMTP_COMMAND_MAIL}}) {
    auto d = engine_.decide(request(id, command));
    ASSERT_TRUE(d);
    EXPECT_EQ(d.value().response.verdict(), v1::VERDICT_TEMPFAIL) << id;
    EXPECT_EQ(d.value().response.reply().code(), 451u);
    EXPECT_EQ(d.value().response.reply().enhanced_code(), "4.3.0");
  }
  auto auth = engine_.decide(request(98, v1::SMTP_COMMAND_AUTH));
  ASSERT_TRUE(auth);
  EXPECT_EQ(auth.value().response.reply().code(), 454u);
  EXPECT_EQ(auth.value().response.reply().enhanced_code(), "4.7.0");
  // No handler at all: no policy, the command goes on.
  auto none = engine_.decide(request(0, v1::SMTP_COMMAND_DATA));
  ASSERT_TRUE(none);
  EXPECT_EQ(none.value().response.verdict(), v1::VERDICT_CONTINUE);
}

TEST_F(DecisionEngineTest, InvalidRequestsAreRefused) {
  v1::DecisionRequest r;
  r.set_command(v1::SMTP_COMMAND_RCPT);
  EXPECT_EQ(engine_.decide(r).error().message, "service is required");
  r.set_service("corp");
  r.set_command(v1::SMTP_COMMAND_UNSPECIFIED);
  EXPECT_EQ(engine_.decide(r).error().code, Code::kInvalidArgument);
  r.set_command(static_cast<v1::SmtpCommand>(42));
  EXPECT_EQ(engine_.decide(r).error().message,
            "command 42 is not one of HELO, AUTH, MAIL, RCPT, DATA");
}

// A service deleted while a node's sessions run: a fail-safe decision (451 4.3.0, AUTH
// 454 4.7.0), audited, never an error, which a fail-open service would read as "control
// plane unavailable" and skip its policies (probe round 10).
TEST_F(DecisionEngineTest, UnknownServiceIsATempfailDecision) {
  v1::DecisionRequest r;
  r.set_service("ghost");
  r.set_command(v1::SMTP_COMMAND_RCPT);
  r.set_handler_id(7);
  auto unknown = engine_.decide(r);
  ASSERT_TRUE(unknown) << unknown.error().message;
  EXPECT_EQ(unknown.value().response.verdict(), v1::VERDICT_TEMPFAIL);
  EXPECT_EQ(unknown.value().response.reply().code(), 451u);
  EXPECT_EQ(unknown.value().response.reply().enhanced_code(), "4.3.0");
  EXPECT_EQ(unknown.value().audit.service(), "ghost");
  EXPECT_EQ(unknown.value().audit.verdict(), v1::VERDICT_TEMPFAIL);
  r.set_command(v1::SMTP_COMMAND_AUTH);
  auto auth = engine_.decide(r);
  ASSERT_TRUE(auth);
  EXPECT_EQ(auth.value().response.reply().code(), 454u);
}

// The MIME caps are the service's limits (field case BR-29: "configurable caps on number of
// parts, nesting depth and per-part header size"): the same message passes one service's
// DATA handler and is refused, fail closed, by a service with tighter caps.
TEST(DecisionEngineMimeLimits, DataDecisionsParseUnderTheServicesCaps) {
  auto c = std::make_shared<Configuration>();
  c->version = 3;
  auto snapshot = std::make_shared<v1::ConfigSnapshot>();
  snapshot->set_instance("default");
  for (const char* name : {"tight", "roomy"}) {
    v1::Service* s = snapshot->add_services();
    s->set_name(name);
    c->service_instances[name] = "default";
  }
  v1::Limits* tight = snapshot->mutable_services(0)->mutable_limits();
  tight->set_max_mime_parts(3);
  tight->set_max_mime_depth(2);
  tight->set_max_mime_header_block(1024);
  c->instances["default"] = snapshot;
  v1::Handler h = handler(1, v1::SMTP_COMMAND_DATA, "allow");
  h.set_service("tight");
  c->handlers[1] = h;
  h.set_id(2);
  h.set_service("roomy");
  c->handlers[2] = h;
  auto built = policy::build_policy_set({{"allow", "", "- type: \"true\"\n"}});
  ASSERT_TRUE(built.errors.empty());
  c->policies = std::make_shared<policy::PolicySet>(std::move(built.policies));
  SnapshotHub hub;
  hub.publish(c, {});
  DecisionEngine engine(hub);

  auto multipart = [](int parts) {
    std::string m = "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n";
    for (int i = 0; i < parts; ++i) m += "--b\r\n\r\npart " + std::to_string(i) + "\r\n";
    return m + "--b--\r\n";
  };
  std::string nested = "Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n";
  std::string closing;
  for (int level = 1; level <= 3; ++level) {
    const std::string b = "b" + std::to_string(level);
    nested += "--b" + std::to_string(level - 1) + "\r\nContent-Type: multipart/mixed; boundary=\"" +
              b + "\"\r\n\r\n";
    closing = "--" + b + "--\r\n" + closing;
  }
  nested += "--b3\r\n\r\ndeep\r\n" + closing + "--b0--\r\n";
  const std::string long_header = "X-Filler: " + std::string(2000, 'x') + "\r\n" +
                                  "Content-Type: text/plain\r\n\r\nhello\r\n";

  auto decide = [&engine](std::int64_t handler_id, const std::string& service,
                          const std::string& message) {
    v1::DecisionRequest r;
    r.set_service(service);
    r.set_command(v1::SMTP_COMMAND_DATA);
    r.set_handler_id(handler_id);
    r.set_message(message);
    auto d = engine.decide(r);
    EXPECT_TRUE(d) << d.error().message;
    return d.value().response;
  };
  for (const auto& [what, message] : {std::pair{"4 parts", multipart(4)},
                                      std::pair{"3 nested levels", nested},
                                      std::pair{"a 2 KiB header block", long_header}}) {
    const v1::DecisionResponse refused = decide(1, "tight", message);
    EXPECT_EQ(refused.verdict(), v1::VERDICT_REJECT) << what;
    EXPECT_EQ(refused.reply().code(), 554u) << what;
    EXPECT_EQ(refused.reply().enhanced_code(), "5.6.0") << what;
    EXPECT_EQ(decide(2, "roomy", message).verdict(), v1::VERDICT_CONTINUE) << what;
  }
  // Within the caps, the tight service lets it through.
  EXPECT_EQ(decide(1, "tight", multipart(3)).verdict(), v1::VERDICT_CONTINUE);
}

TEST(MimeLimitsOf, ZeroFieldsKeepTheDefaults) {
  v1::Limits limits;
  const policy::MimeLimits defaults;
  policy::MimeLimits got = mime_limits_of(limits);
  EXPECT_EQ(got.max_parts, defaults.max_parts);
  EXPECT_EQ(got.max_depth, defaults.max_depth);
  EXPECT_EQ(got.max_header_block, defaults.max_header_block);
  limits.set_max_mime_parts(7);
  limits.set_max_mime_depth(4);
  limits.set_max_mime_header_block(4096);
  got = mime_limits_of(limits);
  EXPECT_EQ(got.max_parts, 7u);
  EXPECT_EQ(got.max_depth, 4u);
  EXPECT_EQ(got.max_header_block, 4096u);
}

TEST(NewDecisionIdTest, Uuid7CarriesTheTimeAndSortsByIt) {
  const auto ms_now = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const auto before = ms_now();
  const std::string first = new_decision_id();
  const auto after = ms_now();
  // The first 48 bits are the Unix time in ms (RFC 9562 §5.7).
  const std::string hex = first.substr(0, 8) + first.substr(9, 4);
  const auto stamped = static_cast<std::int64_t>(std::stoull(hex, nullptr, 16));
  EXPECT_GE(stamped, before);
  EXPECT_LE(stamped, after);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const std::string later = new_decision_id();
  EXPECT_LT(first, later);  // a later millisecond sorts after, as text too
  EXPECT_NE(first.substr(14), later.substr(14));  // and the random part differs
}

TEST(DecisionIdSource, IdsStayUniqueAndWellFormedAcrossPoolRefills) {
  // 1,000 ids span two refills of the 4,000-octet pool (10 octets each); within one
  // millisecond only the random part tells them apart.
  DecisionIdSource ids;
  std::set<std::string> seen;
  std::set<std::string> random_parts;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = ids.next();
    ASSERT_EQ(id.size(), 36u) << id;
    EXPECT_EQ(id[14], '7') << id;                                     // version 7
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // RFC 4122 variant
    EXPECT_TRUE(seen.insert(id).second) << "duplicate " << id;
    random_parts.insert(id.substr(14));
  }
  EXPECT_EQ(random_parts.size(), 1000u);
}

}  // namespace
}  // namespace gw::controlplane
