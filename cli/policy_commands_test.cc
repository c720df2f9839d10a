// Tests of gctl's policy-layer commands against a fake PolicyAdminService stub: apply,
// export, policy, handler, user and audit; requests built from flags and files, output in
// each format, exit codes and the one-line error contract.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <chrono>

#include "cli/audit_commands.h"
#include "cli/flags.h"
#include "cli/gctl_test_fixture.h"
#include "cli/user_commands.h"

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;

constexpr const char* kUserPassword = "Carol-Pw-First-1";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

v1::AuditRecord record(const std::string& id, std::int64_t time_ms, v1::Verdict verdict) {
  v1::AuditRecord r;
  r.set_decision_id(id);
  r.set_time_ms(time_ms);
  r.set_node_id("relay-1");
  r.set_session_id("s1");
  r.set_service("corp");
  r.set_command(v1::SMTP_COMMAND_MAIL);
  r.set_handler_id(4);
  r.set_policy("only-example-com");
  r.set_verdict(verdict);
  if (verdict == v1::VERDICT_REJECT) {
    r.mutable_reply()->set_code(550);
    r.mutable_reply()->set_enhanced_code("5.7.1");
    r.mutable_reply()->set_text("Sender not allowed");
  }
  r.set_latency_us(321);
  (*r.mutable_attributes())["smtp.mail.from"] = "x@example.org";
  (*r.mutable_attributes())["authentication.subject.password"] = "leaked-pw-77";
  return r;
}

// ---------------------------------------------------------------------------------- apply

class ApplyTest : public GctlTest {
 protected:
  void SetUp() override {
    dir_.write("ca.pem", "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n");
    dir_.write("alice.pw", "Alice-File-Pw-4242\n");
    config_ = dir_.write("config.yaml",
                         "certificates:\n  - name: corp-ca\n    cert_file: ca.pem\n"
                         "users:\n  - name: alice\n    password_file: alice.pw\n"
                         "policies:\n  - name: extra\n    filters:\n      - type: \"true\"\n");
  }
  TempDir dir_;
  std::string config_;
};

TEST_F(ApplyTest, SendsTheDocumentAndPrintsTheChanges) {
  v1::ApplyResponse response;
  response.add_changes("created certificate corp-ca");
  response.add_changes("created policy extra");
  response.set_config_version(7);
  policy_stub_->answer(grpc::Status::OK, &response);
  ASSERT_EQ(run({"apply", "-f", config_}), 0) << err_.str();
  EXPECT_EQ(
      out_.str(),
      "created certificate corp-ca\ncreated policy extra\napplied: configuration version 7\n");
  EXPECT_EQ(err_.str(), "");
  ASSERT_EQ(policy_stub_->methods(), std::vector<std::string>{"Apply"});
  const auto& request = policy_stub_->last_request<v1::ApplyRequest>();
  EXPECT_FALSE(request.dry_run());
  EXPECT_EQ(request.document().file_name(), config_);
  ASSERT_EQ(request.document().certificates_size(), 1);
  EXPECT_EQ(request.document().certificates(0).source_line(), 2);
  EXPECT_EQ(request.document().users(0).password(), "Alice-File-Pw-4242");
  EXPECT_EQ(request.document().policies(0).filters_yaml(), "- type: \"true\"\n");
  EXPECT_EQ(out_.str().find("Alice-File-Pw"), std::string::npos);
  // Minutes, not the 10 s of other calls: hashing many passwords takes long (probe round 34).
  EXPECT_GT(policy_stub_->last_deadline(),
            std::chrono::system_clock::now() + std::chrono::minutes(9));
}

TEST_F(ApplyTest, DryRun) {
  v1::ApplyResponse response;
  response.add_changes("created policy extra");
  policy_stub_->answer(grpc::Status::OK, &response);
  ASSERT_EQ(run({"apply", "-f", config_, "--dry-run"}), 0) << err_.str();
  EXPECT_TRUE(policy_stub_->last_request<v1::ApplyRequest>().dry_run());
  EXPECT_EQ(out_.str(), "created policy extra\ndry run: nothing was changed\n");
}

TEST_F(ApplyTest, JsonPrintsTheResponse) {
  v1::ApplyResponse response;
  response.add_changes("updated policy extra");
  response.set_config_version(9);
  policy_stub_->answer(grpc::Status::OK, &response);
  ASSERT_EQ(run({"apply", "-f", config_, "-o", "json"}), 0) << err_.str();
  const auto json = nlohmann::json::parse(out_.str());
  EXPECT_EQ(json["changes"][0], "updated policy extra");
  EXPECT_EQ(json["config_version"], "9");
}

TEST_F(ApplyTest, BadFileIsRefusedBeforeConnecting) {
  const std::string bad =
      dir_.write("bad.yaml",
                 "policies:\n  - name: ok\n    filters:\n      - type: \"true\"\n"
                 "  - name: broken\n    filters:\n      - type: \"true\"\n"
                 "      - type: frobnicate\n");
  EXPECT_EQ(run({"apply", "-f", bad}), 1);
  EXPECT_EQ(err_.str(),
            "gctl: error: " + bad +
                ":8: policy \"broken\": filter 2: unknown filter type \"frobnicate\"\n");
  EXPECT_TRUE(servers_.empty()) << "nothing is sent for a bad file";
  EXPECT_EQ(out_.str(), "");
}

TEST_F(ApplyTest, UnreadableFileIsAFailureNotAUsageError) {
  EXPECT_EQ(run({"apply", "-f", "no-such-config.yaml"}), 1);
  EXPECT_EQ(err_.str(),
            "gctl: error: cannot read no-such-config.yaml: No such file or directory\n");
  EXPECT_TRUE(servers_.empty());
}

TEST_F(ApplyTest, ServerRefusalIsPrintedAsItsMessage) {
  policy_stub_->answer(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                    "config.yaml:12: service \"corp\": handler 1: unknown "
                                    "policy \"nope\""));
  EXPECT_EQ(run({"apply", "-f", config_}), 1);
  EXPECT_EQ(err_.str(),
            "gctl: error: config.yaml:12: service \"corp\": handler 1: unknown policy \"nope\"\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(ApplyTest, UsageErrors) {
  expect_usage_error({"apply"}, "--filename");
  expect_usage_error({"apply", "-f", config_, "--force"}, "--force");
}

TEST_F(ApplyTest, UnreachableServer) {
  unreachable_ = true;
  EXPECT_EQ(run({"apply", "-f", config_}), 1);
  EXPECT_EQ(err_.str(), "gctl: error: cannot reach control plane at 127.0.0.1:7070\n");
}

// --------------------------------------------------------------------------------- export

v1::ExportResponse export_response() {
  v1::ExportResponse response;
  auto* d = response.mutable_document();
  auto* p = d->add_policies();
  p->set_name("allow");
  p->set_filters_yaml("- type: \"true\"\n");
  auto* u = d->add_users();
  u->set_name("alice");
  u->set_password_hash("$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA");
  return response;
}

TEST_F(GctlTest, ExportPrintsTheApplyFormatWhateverTheOutputFormat) {
  const v1::ExportResponse response = export_response();
  policy_stub_->answer(grpc::Status::OK, &response);
  const std::string expected =
      "users:\n  - name: alice\n    password_hash: $argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA\n"
      "policies:\n  - name: allow\n    filters:\n      - type: \"true\"\n";
  ASSERT_EQ(run({"export"}), 0) << err_.str();
  EXPECT_EQ(out_.str(), expected);
  ASSERT_EQ(run({"export", "-o", "yaml"}), 0) << err_.str();
  EXPECT_EQ(out_.str(), expected);
  ASSERT_EQ(run({"export", "-o", "json"}), 0) << err_.str();
  const auto json = nlohmann::json::parse(out_.str());
  EXPECT_EQ(json["policies"][0]["filters"][0]["type"], "true");
  EXPECT_EQ(policy_stub_->methods().back(), "Export");
}

// --------------------------------------------------------------------------------- policy

v1::Policy greet_policy() {
  v1::Policy p;
  p.set_name("greet");
  p.set_filters_yaml(
      "- type: set_attribute\n  attribute: smtp.helo.greeting\n  value: \"Welcome "
      "${smtp.helo.domain}\"\n- type: match\n  attribute: client.address\n  cidr: 127.0.0.0/8\n"
      "  when: {attribute: smtp.helo.domain, wildcard: \"*.internal\"}\n");
  p.set_updated_at_ms(86400000);
  return p;
}

TEST_F(GctlTest, PolicyList) {
  v1::ListPoliciesResponse response;
  *response.add_policies() = greet_policy();
  auto* deny = response.add_policies();
  deny->set_name("deny");
  deny->set_reply("550 5.7.1 Go away");
  deny->set_filters_yaml("- type: \"false\"\n");
  policy_stub_->answer(grpc::Status::OK, &response);
  ASSERT_EQ(run({"policy", "list"}), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "NAME    FILTERS   REPLY               UPDATED\n"
            "greet   2         -                   1970-01-02T00:00:00Z\n"
            "deny    1         550 5.7.1 Go away   -\n");
  ASSERT_EQ(run({"policy", "list", "-o", "json"}), 0) << err_.str();
  const auto json = nlohmann::json::parse(out_.str());
  EXPECT_EQ(json["policies"][1]["filters_yaml"], "- type: \"false\"\n");
  EXPECT_EQ(json["policies"][1]["name"], "deny");
}

TEST_F(GctlTest, PolicyShowPrintsFiltersAsStructure) {
  const v1::Policy policy = greet_policy();
  policy_stub_->answer(grpc::Status::OK, &policy);
  ASSERT_EQ(run({"policy", "show", "greet", "-o", "yaml"}), 0) << err_.str();
  EXPECT_EQ(policy_stub_->last_request<v1::GetPolicyRequest>().name(), "greet");
  const YAML::Node shown = YAML::Load(out_.str());
  EXPECT_EQ(shown["name"].as<std::string>(), "greet");
  EXPECT_FALSE(shown["filters_yaml"]) << out_.str();
  ASSERT_TRUE(shown["filters"].IsSequence()) << out_.str();
  EXPECT_EQ(shown["filters"][0]["value"].as<std::string>(), "Welcome ${smtp.helo.domain}");
  EXPECT_EQ(shown["filters"][1]["when"]["wildcard"].as<std::string>(), "*.internal");
  ASSERT_EQ(run({"policy", "show", "greet"}), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "name:      greet\n"
            "reply:     - (the command's default)\n"
            "created:   -\n"
            "updated:   1970-01-02T00:00:00Z\n"
            "filters:\n"
            "  - type: set_attribute\n"
            "    attribute: smtp.helo.greeting\n"
            "    value: Welcome ${smtp.helo.domain}\n"
            "  - type: match\n"
            "    attribute: client.address\n"
            "    cidr: 127.0.0.0/8\n"
            "    when: {attribute: smtp.helo.domain, wildcard: \"*.internal\"}\n");
}

TEST_F(GctlTest, PolicyDeleteInUseIsRefused) {
  policy_stub_->answer(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                    "policy \"allow\" is used by handlers 3, 4 of service corp"));
  EXPECT_EQ(run({"policy", "delete", "allow"}), 1);
  EXPECT_EQ(err_.str(), "gctl: error: policy \"allow\" is used by handlers 3, 4 of service corp\n");
  EXPECT_EQ(policy_stub_->last_request<v1::DeletePolicyRequest>().name(), "allow");
  policy_stub_->answer(grpc::Status::OK);
  ASSERT_EQ(run({"policy", "delete", "unused"}), 0) << err_.str();
  EXPECT_EQ(out_.str(), "deleted policy unused\n");
}

TEST_F(GctlTest, PolicyUsageErrors) {
  expect_usage_error({"policy"}, "policy");
  expect_usage_error({"policy", "show"}, "NAME");
  expect_usage_error({"policy", "add", "x"}, "add");
}

// -------------------------------------------------------------------------------- handler

TEST_F(GctlTest, HandlerAddMapsFlagsAndPrintsTheId) {
  v1::Handler created;
  created.set_id(42);
  created.set_service("plain");
  created.set_command(v1::SMTP_COMMAND_RCPT);
  created.set_address("*@spam.example");
  created.set_policy("deny");
  policy_stub_->answer(grpc::Status::OK, &created);
  ASSERT_EQ(run({"handler", "add", "plain", "--command", "rcpt", "--policy", "deny", "--address",
                 "*@spam.example", "-o", "json"}),
            0)
      << err_.str();
  const auto& h = policy_stub_->last_request<v1::CreateHandlerRequest>().handler();
  EXPECT_EQ(h.service(), "plain");
  EXPECT_EQ(h.command(), v1::SMTP_COMMAND_RCPT);
  EXPECT_EQ(h.policy(), "deny");
  EXPECT_EQ(h.address(), "*@spam.example");
  EXPECT_EQ(h.greeting(), "");
  const auto json = nlohmann::json::parse(out_.str());
  EXPECT_EQ(json["id"], "42");
  EXPECT_EQ(json["command"], "SMTP_COMMAND_RCPT");

  ASSERT_EQ(run({"handler", "add", "plain", "--command", "helo", "--policy", "greet", "--greeting",
                 "Hi ${smtp.helo.domain}"}),
            0)
      << err_.str();
  const auto& helo = policy_stub_->last_request<v1::CreateHandlerRequest>().handler();
  EXPECT_EQ(helo.command(), v1::SMTP_COMMAND_HELO);
  EXPECT_EQ(helo.greeting(), "Hi ${smtp.helo.domain}");
  EXPECT_EQ(out_.str(),
            "ID   SERVICE   COMMAND   ADDRESS          GREETING   POLICY\n"
            "42   plain     rcpt      *@spam.example   -          deny\n");
}

TEST_F(GctlTest, HandlerUsageErrors) {
  expect_usage_error({"handler", "add", "plain", "--command", "quit", "--policy", "allow"}, "quit");
  expect_usage_error({"handler", "add", "plain", "--policy", "allow"}, "--command");
  expect_usage_error({"handler", "add", "plain", "--command", "mail"}, "--policy");
  expect_usage_error(
      {"handler", "add", "plain", "--command", "mail", "--policy", "p", "--greeting", "x"},
      "--greeting is only for --command helo");
  expect_usage_error(
      {"handler", "add", "plain", "--command", "auth", "--policy", "p", "--address", "*"},
      "--address is only for --command mail and rcpt");
  // Probe round 17: an empty pattern was stored as "*" and caught every sender.
  expect_usage_error(
      {"handler", "add", "plain", "--command", "mail", "--policy", "p", "--address", ""},
      "--address is empty: use '<>' for the null sender");
  expect_usage_error({"handler", "delete", "x"}, "x");
  expect_usage_error({"handler", "delete", "0"}, "0");
}

TEST_F(GctlTest, HandlerListAndDelete) {
  v1::ListHandlersResponse response;
  auto* h = response.add_handlers();
  h->set_id(3);
  h->set_service("corp");
  h->set_command(v1::SMTP_COMMAND_HELO);
  h->set_greeting("Hello ${smtp.helo.domain}");
  h->set_policy("greet");
  policy_stub_->answer(grpc::Status::OK, &response);
  ASSERT_EQ(run({"handler", "list", "corp"}), 0) << err_.str();
  EXPECT_EQ(policy_stub_->last_request<v1::ListHandlersRequest>().service(), "corp");
  EXPECT_EQ(out_.str(),
            "ID   SERVICE   COMMAND   ADDRESS   GREETING                    POLICY\n"
            "3    corp      helo      -         Hello ${smtp.helo.domain}   greet\n");
  ASSERT_EQ(run({"handler", "list"}), 0) << err_.str();
  EXPECT_EQ(policy_stub_->last_request<v1::ListHandlersRequest>().service(), "");

  policy_stub_->answer(grpc::Status::OK);
  ASSERT_EQ(run({"handler", "delete", "3"}), 0) << err_.str();
  EXPECT_EQ(policy_stub_->last_request<v1::DeleteHandlerRequest>().id(), 3);
  EXPECT_EQ(out_.str(), "deleted handler 3\n");
  policy_stub_->answer(grpc::Status(grpc::StatusCode::NOT_FOUND, "no handler 3"));
  EXPECT_EQ(run({"handler", "delete", "3"}), 1);
  EXPECT_EQ(err_.str(), "gctl: error: no handler 3\n");
}

// ----------------------------------------------------------------------------------- user

TEST(ReadPasswordLine, FirstLineWithoutItsEnding) {
  std::istringstream crlf("pw-one\r\nsecond\n");
  EXPECT_EQ(read_password_line(crlf), "pw-one");
  std::istringstream no_newline("pw-two");
  EXPECT_EQ(read_password_line(no_newline), "pw-two");
  std::istringstream spaces(" pw three \n");
  EXPECT_EQ(read_password_line(spaces), " pw three ") << "spaces are part of a password";
  std::istringstream empty("");
  EXPECT_THROW(read_password_line(empty), UsageError);
  std::istringstream blank("\nnext\n");
  EXPECT_THROW(read_password_line(blank), UsageError);
  std::istringstream cr("\r\n");
  EXPECT_THROW(read_password_line(cr), UsageError);
  // A UTF-8 byte order mark is no part of the password, on every path (probe round 20).
  std::istringstream bom("\xEF\xBB\xBF" "Carol-Pw-2024\r\n");
  EXPECT_EQ(read_password_line(bom), "Carol-Pw-2024");
  std::istringstream bom_only("\xEF\xBB\xBF\n");
  EXPECT_THROW(read_password_line(bom_only), UsageError);
  EXPECT_EQ(first_line_of("\xEF\xBB\xBFpw\r\nx"), "pw");
  EXPECT_EQ(first_line_of("pw\xEF\xBB\xBF"), "pw\xEF\xBB\xBF") << "only a leading BOM";
}

TEST_F(GctlTest, UserAddReadsThePasswordFromStdin) {
  v1::User created;
  created.set_name("carol");
  created.set_created_at_ms(1000);
  created.set_password_hash("$argon2id$v=19$leak");  // a server must not, but if it did
  policy_stub_->answer(grpc::Status::OK, &created);
  stdin_ = std::string(kUserPassword) + "\r\n";
  ASSERT_EQ(run({"user", "add", "carol", "--password-stdin"}), 0) << err_.str();
  const auto& user = policy_stub_->last_request<v1::CreateUserRequest>().user();
  EXPECT_EQ(user.name(), "carol");
  EXPECT_EQ(user.password(), kUserPassword);
  EXPECT_EQ(user.password_hash(), "");
  EXPECT_EQ(out_.str(),
            "NAME    CREATED                UPDATED\ncarol   1970-01-01T00:00:01Z   -\n");
  for (const char* format : {"json", "yaml"}) {
    ASSERT_EQ(run({"user", "add", "carol", "--password-stdin", "-o", format}), 0) << err_.str();
    EXPECT_EQ(out_.str().find("argon2id"), std::string::npos) << out_.str();
    EXPECT_EQ(out_.str().find(kUserPassword), std::string::npos) << out_.str();
    EXPECT_NE(out_.str().find("carol"), std::string::npos);
  }
}

TEST_F(GctlTest, UserPasswd) {
  v1::User changed;
  changed.set_name("carol");
  policy_stub_->answer(grpc::Status::OK, &changed);
  stdin_ = "Carol-Pw-Second-2\n";
  ASSERT_EQ(run({"user", "passwd", "carol", "--password-stdin"}), 0) << err_.str();
  const auto& request = policy_stub_->last_request<v1::SetUserPasswordRequest>();
  EXPECT_EQ(request.name(), "carol");
  EXPECT_EQ(request.password(), "Carol-Pw-Second-2");
  EXPECT_EQ(out_.str().find("Carol-Pw-Second-2"), std::string::npos);
  policy_stub_->answer(grpc::Status(grpc::StatusCode::NOT_FOUND, "no user \"nobody\""));
  EXPECT_EQ(run({"user", "passwd", "nobody", "--password-stdin"}), 1);
  EXPECT_EQ(err_.str(), "gctl: error: no user \"nobody\"\n");
}

TEST_F(GctlTest, UserPasswordUsageErrors) {
  stdin_ = "";
  expect_usage_error({"user", "add", "dave", "--password-stdin"}, "no password");
  stdin_ = "\n";
  expect_usage_error({"user", "passwd", "dave", "--password-stdin"}, "no password");
  stdin_ = "pw\n";
  expect_usage_error({"user", "add", "dave"}, "--password-stdin");
  expect_usage_error({"user", "add", "dave", "--password", "pw"}, "--password");
}

TEST_F(GctlTest, UserListNeverPrintsHashes) {
  v1::ListUsersResponse response;
  auto* u = response.add_users();
  u->set_name("alice");
  u->set_password_hash("$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA");
  policy_stub_->answer(grpc::Status::OK, &response);
  for (const char* format : {"table", "json", "yaml"}) {
    ASSERT_EQ(run({"user", "list", "-o", format}), 0) << err_.str();
    EXPECT_NE(out_.str().find("alice"), std::string::npos);
    EXPECT_EQ(out_.str().find("argon2id"), std::string::npos) << format << ": " << out_.str();
    EXPECT_EQ(out_.str().find("password"), std::string::npos) << format << ": " << out_.str();
  }
  policy_stub_->answer(grpc::Status::OK);
  ASSERT_EQ(run({"user", "delete", "alice"}), 0);
  EXPECT_EQ(policy_stub_->last_request<v1::DeleteUserRequest>().name(), "alice");
  EXPECT_EQ(out_.str(), "deleted user alice\n");
}

// ---------------------------------------------------------------------------------- audit

TEST(ParseDuration, AcceptsSecondsMinutesHoursDays) {
  EXPECT_EQ(parse_duration_ms("90s"), 90000);
  EXPECT_EQ(parse_duration_ms("30m"), 1800000);
  EXPECT_EQ(parse_duration_ms("1h"), 3600000);
  EXPECT_EQ(parse_duration_ms("2d"), 172800000);
  EXPECT_EQ(parse_duration_ms("0s"), 0);
  for (const char* bad : {"", "s", "1", "soon", "-1h", "+1h", "1.5h", "1w", "1 h", "h1",
                          "99999999999999999999d", "36501d"}) {
    EXPECT_EQ(parse_duration_ms(bad), std::nullopt) << bad;
  }
}

TEST_F(GctlTest, AuditFiltersBecomeTheQuery) {
  policy_stub_->answer(grpc::Status::OK);
  const std::int64_t before = now_ms();
  ASSERT_EQ(run({"audit", "--since", "1h", "--service", "corp", "--node", "relay-1", "--command",
                 "rcpt", "--verdict", "tempfail", "--limit", "5"}),
            0)
      << err_.str();
  const std::int64_t after = now_ms();
  const auto& q = policy_stub_->last_request<v1::AuditQuery>();
  EXPECT_GE(q.since_ms(), before - 3600000);
  EXPECT_LE(q.since_ms(), after - 3600000);
  EXPECT_EQ(q.service(), "corp");
  EXPECT_EQ(q.node_id(), "relay-1");
  EXPECT_EQ(q.command(), v1::SMTP_COMMAND_RCPT);
  EXPECT_EQ(q.verdict(), v1::VERDICT_TEMPFAIL);
  EXPECT_EQ(q.limit(), 5u);
  EXPECT_EQ(policy_stub_->methods(), std::vector<std::string>{"QueryAudit"});

  ASSERT_EQ(run({"audit"}), 0) << err_.str();
  const auto& all = policy_stub_->last_request<v1::AuditQuery>();
  EXPECT_EQ(all.since_ms(), 0);
  EXPECT_EQ(all.command(), v1::SMTP_COMMAND_UNSPECIFIED);
  EXPECT_EQ(all.verdict(), v1::VERDICT_UNSPECIFIED);
  EXPECT_EQ(all.limit(), 0u) << "the server's default";
}

TEST_F(GctlTest, AuditUsageErrors) {
  expect_usage_error({"audit", "--verdict", "maybe"}, "maybe");
  expect_usage_error({"audit", "--command", "quit"}, "quit");
  expect_usage_error({"audit", "--since", "soon"}, "soon");
  // Well formed but past the cap: the message says so (probe round 41).
  expect_usage_error({"audit", "--since", "36501d"}, "duration 36501d is longer than 36500d");
  expect_usage_error({"audit", "--since", "99999999999999999999d"}, "is longer than 36500d");
  expect_usage_error({"audit", "--since", "-1d"}, "is not a number followed by");
  expect_usage_error({"audit", "--limit", "many"}, "many");
  expect_usage_error({"audit", "--limit", "0"}, "0");
  expect_usage_error({"audit", "--limit", "10001"}, "10001");  // above gctld's cap
}

TEST_F(GctlTest, AuditTableAndJson) {
  v1::AuditQueryResponse response;
  *response.add_records() = record("d-2", 1700000000123, v1::VERDICT_REJECT);
  *response.add_records() = record("d-1", 1700000000000, v1::VERDICT_CONTINUE);
  policy_stub_->answer(grpc::Status::OK, &response);
  ASSERT_EQ(run({"audit"}), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "TIME                       DECISION   NODE      SERVICE   COMMAND   VERDICT    "
            "REPLY                          POLICY             LATENCY_US\n"
            "2023-11-14T22:13:20.123Z   d-2        relay-1   corp      mail      reject     "
            "550 5.7.1 Sender not allowed   only-example-com   321\n"
            "2023-11-14T22:13:20.000Z   d-1        relay-1   corp      mail      continue   "
            "-                              only-example-com   321\n");
  ASSERT_EQ(run({"audit", "-o", "json"}), 0) << err_.str();
  const auto json = nlohmann::json::parse(out_.str());
  ASSERT_EQ(json["records"].size(), 2u);
  const auto& first = json["records"][0];
  EXPECT_EQ(first["decision_id"], "d-2");
  EXPECT_EQ(first["time_ms"], "1700000000123");
  EXPECT_EQ(first["node_id"], "relay-1");
  EXPECT_EQ(first["verdict"], "VERDICT_REJECT");
  EXPECT_EQ(first["reply"]["enhanced_code"], "5.7.1");
  EXPECT_EQ(first["latency_us"], "321");
  EXPECT_EQ(first["attributes"]["smtp.mail.from"], "x@example.org");
  EXPECT_EQ(out_.str().find("leaked-pw-77"), std::string::npos) << "password attribute shown";
  EXPECT_EQ(out_.str().find("authentication.subject.password"), std::string::npos);
}

TEST_F(GctlTest, StatsAsksForTheLastHourByDefaultAndPrintsATotal) {
  v1::StatsResponse response;
  response.set_since_ms(1700000000000);
  auto add = [&response](const char* service, v1::SmtpCommand command, v1::Verdict verdict,
                         std::uint64_t n, std::int64_t avg, std::int64_t max) {
    v1::DecisionStats* d = response.add_decisions();
    d->set_service(service);
    d->set_command(command);
    d->set_verdict(verdict);
    d->set_decisions(n);
    d->set_latency_avg_us(avg);
    d->set_latency_max_us(max);
  };
  add("corp", v1::SMTP_COMMAND_MAIL, v1::VERDICT_CONTINUE, 3, 100, 150);
  add("corp", v1::SMTP_COMMAND_RCPT, v1::VERDICT_REJECT, 1, 500, 500);
  policy_stub_->answer(grpc::Status::OK, &response);
  const std::int64_t before = now_ms();
  ASSERT_EQ(run({"stats"}), 0) << err_.str();
  const std::int64_t after = now_ms();
  const auto& q = policy_stub_->last_request<v1::StatsRequest>();
  EXPECT_GE(q.since_ms(), before - 3600000);
  EXPECT_LE(q.since_ms(), after - 3600000);
  EXPECT_EQ(q.service(), "");
  EXPECT_EQ(policy_stub_->methods(), std::vector<std::string>{"GetStats"});
  // TOTAL: 4 decisions, mean (3 x 100 + 500) / 4 = 200, largest max 500.
  EXPECT_EQ(out_.str(),
            "SERVICE   COMMAND   VERDICT    DECISIONS   AVG_US   MAX_US\n"
            "corp      mail      continue   3           100      150\n"
            "corp      rcpt      reject     1           500      500\n"
            "TOTAL     -         -          4           200      500\n");

  ASSERT_EQ(run({"stats", "--since", "30m", "--service", "edge", "--node", "relay-2", "-o",
                 "json"}),
            0)
      << err_.str();
  const auto& q2 = policy_stub_->last_request<v1::StatsRequest>();
  EXPECT_LE(q2.since_ms(), now_ms() - 1800000);
  EXPECT_GE(q2.since_ms(), before - 1800000);
  EXPECT_EQ(q2.service(), "edge");
  EXPECT_EQ(q2.node_id(), "relay-2");
  const auto json = nlohmann::json::parse(out_.str());
  ASSERT_EQ(json["decisions"].size(), 2u);
  EXPECT_EQ(json["decisions"][1]["verdict"], "VERDICT_REJECT");

  policy_stub_->answer(grpc::Status::OK, nullptr);
  ASSERT_EQ(run({"stats"}), 0) << err_.str();
  EXPECT_EQ(out_.str().rfind("no decisions since ", 0), 0u) << out_.str();
}

TEST_F(GctlTest, StatsUsageErrors) {
  expect_usage_error({"stats", "--since", "yesterday"}, "yesterday");
  expect_usage_error({"stats", "--verdict", "reject"}, "verdict");
}

TEST_F(GctlTest, AuditFollowPrintsTheQueryThenTheStream) {
  v1::AuditQueryResponse response;  // newest first
  *response.add_records() = record("d-2", 2000, v1::VERDICT_REJECT);
  *response.add_records() = record("d-1", 1000, v1::VERDICT_CONTINUE);
  policy_stub_->answer(grpc::Status::OK, &response);
  // The stream was opened before the query: d-2 comes again and is printed once.
  policy_stub_->follow_with(
      {record("d-2", 2000, v1::VERDICT_REJECT), record("d-3", 3000, v1::VERDICT_CONTINUE)},
      grpc::Status::OK);
  ASSERT_EQ(run({"audit", "--follow", "--service", "corp", "-o", "json"}), 0) << err_.str();
  EXPECT_EQ(policy_stub_->methods(), (std::vector<std::string>{"FollowAudit", "QueryAudit"}));
  EXPECT_EQ(policy_stub_->last_request<v1::AuditQuery>().service(), "corp");
  EXPECT_FALSE(policy_stub_->follow_had_deadline()) << "the stream runs until interrupted";
  std::istringstream lines(out_.str());
  std::vector<std::string> ids;
  std::string line;
  while (std::getline(lines, line)) {
    const auto json = nlohmann::json::parse(line);  // JSON lines: one record per line
    ids.push_back(json["decision_id"]);
    EXPECT_EQ(line.find("leaked-pw-77"), std::string::npos);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"d-1", "d-2", "d-3"})) << "oldest first, no repeats";
}

TEST_F(GctlTest, AuditFollowTableAndAnEndedStream) {
  policy_stub_->answer(grpc::Status::OK);
  policy_stub_->follow_with({record("d-9", 9000, v1::VERDICT_REJECT)},
                            grpc::Status(grpc::StatusCode::UNAVAILABLE, "socket closed"));
  EXPECT_EQ(run({"audit", "--follow"}), 1);
  EXPECT_EQ(out_.str(),
            "TIME   DECISION   NODE   SERVICE   COMMAND   VERDICT   REPLY   POLICY   LATENCY_US\n"
            "1970-01-01T00:00:09.000Z   d-9   relay-1   corp   mail   reject   "
            "550 5.7.1 Sender not allowed   only-example-com   321\n");
  // gctld answered the query, so it was reached: it went away (probe round 41).
  EXPECT_EQ(err_.str(), "gctl: error: lost the connection to control plane at 127.0.0.1:7070\n");
}

TEST_F(GctlTest, PolicyCommandsWhenTheServerIsUnreachable) {
  unreachable_ = true;
  stdin_ = "pw\n";
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"policy", "list"},
                                             {"export"},
                                             {"handler", "list"},
                                             {"user", "add", "u", "--password-stdin"},
                                             {"audit"},
                                             {"audit", "--follow"}}) {
    SCOPED_TRACE(::testing::PrintToString(args));
    EXPECT_EQ(run(args), 1);
    EXPECT_EQ(err_.str(), "gctl: error: cannot reach control plane at 127.0.0.1:7070\n");
  }
}

}  // namespace
}  // namespace gw::cli
