// Tests of gctl's command line against a fake AdminService stub: flags → requests and
// FieldMasks, global options, exit codes and the one-line error contract.
#include "cli/gctl_app.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

#include "cli/fake_admin_stub.h"

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;

class GctlTest : public ::testing::Test {
 protected:
  int run(std::vector<std::string> args, const std::string& default_server = "127.0.0.1:7070") {
    out_.str("");
    err_.str("");
    return run_gctl(
        args,
        [this](const std::string& server) -> std::shared_ptr<v1::AdminService::StubInterface> {
          servers_.push_back(server);
          if (unreachable_) return nullptr;
          return stub_;
        },
        default_server, out_, err_);
  }

  // The error contract: exactly one line, starting "gctl: error: ".
  void expect_one_error_line() {
    const std::string err = err_.str();
    EXPECT_EQ(err.rfind("gctl: error: ", 0), 0u) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_EQ(err.back(), '\n');
  }

  void expect_usage_error(std::vector<std::string> args, const std::string& mentions) {
    SCOPED_TRACE(::testing::PrintToString(args));
    EXPECT_EQ(run(std::move(args)), 2);
    expect_one_error_line();
    EXPECT_NE(err_.str().find(mentions), std::string::npos) << err_.str();
    EXPECT_EQ(stub_->calls(), 0);
    EXPECT_TRUE(servers_.empty()) << "usage errors must not connect";
    EXPECT_EQ(out_.str(), "");
  }

  std::shared_ptr<FakeAdminStub> stub_ = std::make_shared<FakeAdminStub>();
  std::vector<std::string> servers_;
  bool unreachable_ = false;
  std::ostringstream out_;
  std::ostringstream err_;
};

std::vector<std::string> mask_paths(const v1::UpdateServiceRequest& request) {
  return {request.update_mask().paths().begin(), request.update_mask().paths().end()};
}

TEST_F(GctlTest, ServiceAddMapsEveryFlag) {
  v1::Service stored;
  stored.set_name("corp");
  stored.set_host("smtp.example.net");
  stored.set_port(587);
  stored.set_instance("edge");
  stub_->answer(grpc::Status::OK, &stored);
  ASSERT_EQ(run({"service",
                 "add",
                 "corp",
                 "--host",
                 "smtp.example.net",
                 "--port",
                 "587",
                 "--instance",
                 "edge",
                 "--security",
                 "starttls",
                 "--monitoring",
                 "--hostname",
                 "gw.example.org",
                 "--fail-open",
                 "--max-message-size",
                 "10485760",
                 "--max-recipients",
                 "10",
                 "--max-command-line",
                 "1024",
                 "--max-text-line",
                 "2000",
                 "--max-sessions",
                 "5",
                 "--max-sessions-per-client",
                 "2",
                 "--idle-timeout",
                 "1000",
                 "--session-timeout",
                 "2000",
                 "--data-timeout",
                 "3000",
                 "--upstream-connect-timeout",
                 "4000",
                 "--upstream-timeout",
                 "5000",
                 "--upstream-data-timeout",
                 "6000",
                 "--max-errors",
                 "7",
                 "--max-idle-commands",
                 "8"}),
            0)
      << err_.str();
  ASSERT_EQ(stub_->methods(), std::vector<std::string>{"CreateService"});
  const v1::Service& s = stub_->last_request<v1::CreateServiceRequest>().service();
  EXPECT_EQ(s.name(), "corp");
  EXPECT_EQ(s.host(), "smtp.example.net");
  EXPECT_EQ(s.port(), 587u);
  EXPECT_EQ(s.instance(), "edge");
  EXPECT_EQ(s.security(), v1::SECURITY_STARTTLS);
  EXPECT_TRUE(s.monitoring());
  EXPECT_EQ(s.hostname(), "gw.example.org");
  EXPECT_TRUE(s.fail_open());
  const v1::Limits& l = s.limits();
  EXPECT_EQ(l.max_message_size(), 10485760u);
  EXPECT_EQ(l.max_recipients(), 10u);
  EXPECT_EQ(l.max_command_line(), 1024u);
  EXPECT_EQ(l.max_text_line(), 2000u);
  EXPECT_EQ(l.max_sessions(), 5u);
  EXPECT_EQ(l.max_sessions_per_client(), 2u);
  EXPECT_EQ(l.idle_timeout_ms(), 1000u);
  EXPECT_EQ(l.session_timeout_ms(), 2000u);
  EXPECT_EQ(l.data_timeout_ms(), 3000u);
  EXPECT_EQ(l.upstream_connect_timeout_ms(), 4000u);
  EXPECT_EQ(l.upstream_timeout_ms(), 5000u);
  EXPECT_EQ(l.upstream_data_timeout_ms(), 6000u);
  EXPECT_EQ(l.max_errors(), 7u);
  EXPECT_EQ(l.max_idle_commands(), 8u);
  EXPECT_EQ(l.max_auth_line(), 0u);  // no flag: left to the server's default
  EXPECT_EQ(out_.str(),
            "NAME   HOST               PORT   SECURITY   INSTANCE   INTERFACES\n"
            "corp   smtp.example.net   587    none       edge       -\n");
  EXPECT_EQ(err_.str(), "");
}

TEST_F(GctlTest, ServiceAddLeavesDefaultsToTheServer) {
  ASSERT_EQ(run({"service", "add", "corp", "--host", "h"}), 0) << err_.str();
  const v1::Service& s = stub_->last_request<v1::CreateServiceRequest>().service();
  EXPECT_EQ(s.port(), 0u);
  EXPECT_EQ(s.instance(), "");
  EXPECT_FALSE(s.has_limits());
}

TEST_F(GctlTest, ServiceUpdateSendsOnlyGivenFlagsInTheMask) {
  ASSERT_EQ(run({"service", "update", "corp", "--port", "2525", "--max-recipients", "5"}), 0)
      << err_.str();
  const auto& request = stub_->last_request<v1::UpdateServiceRequest>();
  EXPECT_EQ(request.service().name(), "corp");
  EXPECT_EQ(request.service().port(), 2525u);
  EXPECT_EQ(request.service().limits().max_recipients(), 5u);
  EXPECT_EQ(request.service().host(), "");
  EXPECT_EQ(mask_paths(request), (std::vector<std::string>{"port", "limits.max_recipients"}));
}

TEST_F(GctlTest, ServiceUpdateCanTurnFlagsOff) {
  ASSERT_EQ(run({"service", "update", "corp", "--monitoring=false", "--fail-open=false",
                 "--security", "none", "--host", "mx.example.org"}),
            0)
      << err_.str();
  const auto& request = stub_->last_request<v1::UpdateServiceRequest>();
  EXPECT_FALSE(request.service().monitoring());
  EXPECT_FALSE(request.service().fail_open());
  EXPECT_EQ(request.service().security(), v1::SECURITY_NONE);
  EXPECT_FALSE(request.service().has_limits());
  EXPECT_EQ(mask_paths(request),
            (std::vector<std::string>{"host", "security", "monitoring", "fail_open"}));
}

TEST_F(GctlTest, ServiceUpdateWithoutFlagsIsAUsageError) {
  expect_usage_error({"service", "update", "corp"}, "nothing to update");
}

TEST_F(GctlTest, BadValuesAreUsageErrorsCaughtBeforeAnyCall) {
  expect_usage_error({"service", "add", "corp", "--host", "h", "--port", "70000"}, "--port");
  expect_usage_error({"service", "add", "corp", "--host", "h", "--port", "0"}, "--port");
  expect_usage_error({"service", "add", "corp", "--host", "h", "--port", "-1"}, "--port");
  expect_usage_error({"service", "add", "corp", "--host", "h", "--port", "0x19"}, "--port");
  expect_usage_error({"service", "add", "corp", "--host", "h", "--security", "foo"}, "--security");
  expect_usage_error({"service", "update", "corp", "--max-recipients", "4294967296"},
                     "--max-recipients");
  expect_usage_error({"service", "update", "corp", "--max-message-size", "18446744073709551616"},
                     "--max-message-size");
  expect_usage_error({"service", "update", "corp", "--idle-timeout", "1e3"}, "--idle-timeout");
  expect_usage_error({"interface", "add", "corp", "--type", "foo", "--port", "25"}, "--type");
  expect_usage_error({"interface", "add", "corp", "--type", "tcp", "--port", "65536"}, "--port");
  expect_usage_error({"interface", "delete", "abc"}, "ID");
  expect_usage_error({"-o", "xml", "node", "list"}, "--output");
}

TEST_F(GctlTest, MissingArgumentsAreUsageErrorsWithAHelpHint) {
  expect_usage_error({"service", "add", "corp"}, "--host");
  expect_usage_error({"service", "add", "--host", "h"}, "NAME");
  expect_usage_error({"interface", "add", "corp", "--type", "tcp"}, "--port");
  expect_usage_error({"service", "show"}, "(see 'gctl service show --help')");
  expect_usage_error({"service"}, "(see 'gctl service --help')");
  expect_usage_error({}, "(see 'gctl --help')");
  expect_usage_error({"frobnicate"}, "unknown command \"frobnicate\" (see 'gctl --help')");
  expect_usage_error({"service", "frob"}, "unknown command \"frob\" (see 'gctl service --help')");
  expect_usage_error({"service", "list", "extra"}, "extra");
  expect_usage_error({"service", "list", "--bogus"}, "--bogus");
}

TEST_F(GctlTest, HelpGoesToStdoutAndExitsZero) {
  EXPECT_EQ(run({"--help"}), 0);
  EXPECT_NE(out_.str().find("service"), std::string::npos);
  EXPECT_EQ(run({"service", "add", "--help"}), 0);
  EXPECT_NE(out_.str().find("--max-sessions-per-client"), std::string::npos) << out_.str();
  EXPECT_EQ(err_.str(), "");
  EXPECT_EQ(stub_->calls(), 0);
}

TEST_F(GctlTest, OutputOptionBeforeOrAfterNounAndVerb) {
  v1::ListServicesResponse response;
  auto* s = response.add_services();
  s->set_name("corp");
  s->mutable_limits()->set_max_recipients(100);
  stub_->answer(grpc::Status::OK, &response);
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"-o", "json", "service", "list"},
                                             {"service", "list", "-o", "json"},
                                             {"service", "-o", "json", "list"},
                                             {"service", "list", "--output=json"}}) {
    ASSERT_EQ(run(args), 0) << err_.str();
    const auto json = nlohmann::json::parse(out_.str());
    EXPECT_EQ(json["services"][0]["name"], "corp");
    EXPECT_EQ(json["services"][0]["limits"]["max_recipients"], 100);
  }
  ASSERT_EQ(run({"service", "list", "-o", "yaml"}), 0);
  EXPECT_NE(out_.str().find("max_recipients: 100"), std::string::npos) << out_.str();
}

TEST_F(GctlTest, ServerFromFlagOrDefaultBeforeOrAfter) {
  ASSERT_EQ(run({"node", "list"}, "env.example.net:7000"), 0);
  ASSERT_EQ(run({"--server", "a:1", "node", "list"}), 0);
  ASSERT_EQ(run({"node", "list", "--server", "b:2"}), 0);
  EXPECT_EQ(servers_, (std::vector<std::string>{"env.example.net:7000", "a:1", "b:2"}));
}

TEST_F(GctlTest, EveryCallHasADeadline) {
  const auto before = std::chrono::system_clock::now();
  ASSERT_EQ(run({"service", "show", "corp"}), 0);
  EXPECT_EQ(stub_->last_request<v1::GetServiceRequest>().name(), "corp");
  EXPECT_GT(stub_->last_deadline(), before + std::chrono::seconds(9));
  EXPECT_LT(stub_->last_deadline(), std::chrono::system_clock::now() + std::chrono::seconds(11));
}

TEST_F(GctlTest, UnreachableServerIsExitOneWithOneLine) {
  unreachable_ = true;
  EXPECT_EQ(run({"--server", "127.0.0.1:1", "service", "list"}), 1);
  EXPECT_EQ(err_.str(), "gctl: error: cannot reach control plane at 127.0.0.1:1\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(GctlTest, DeadlineExceededIsReportedAsUnreachable) {
  stub_->answer(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"));
  EXPECT_EQ(run({"node", "list"}, "cp:7070"), 1);
  EXPECT_EQ(err_.str(), "gctl: error: cannot reach control plane at cp:7070\n");
}

TEST_F(GctlTest, RefusedRequestPrintsTheServerMessage) {
  stub_->answer(grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "service \"corp\" already exists"));
  EXPECT_EQ(run({"service", "add", "corp", "--host", "h"}), 1);
  EXPECT_EQ(err_.str(), "gctl: error: service \"corp\" already exists\n");
  EXPECT_EQ(out_.str(), "");

  stub_->answer(grpc::Status(grpc::StatusCode::NOT_FOUND, "service \"nope\" not found"));
  EXPECT_EQ(run({"service", "delete", "nope"}), 1);
  EXPECT_EQ(err_.str(), "gctl: error: service \"nope\" not found\n");
}

TEST_F(GctlTest, InterfaceAddSendsTheListenerAndPrintsItsId) {
  v1::Interface created;
  created.set_id(42);
  created.set_service("corp");
  created.set_type(v1::INTERFACE_TYPE_TCP);
  created.set_bind_address("127.0.0.1");
  created.set_port(2525);
  stub_->answer(grpc::Status::OK, &created);
  ASSERT_EQ(run({"interface", "add", "corp", "--type", "tcp", "--port", "2525"}), 0) << err_.str();
  const v1::Interface& i = stub_->last_request<v1::CreateInterfaceRequest>().interface();
  EXPECT_EQ(i.service(), "corp");
  EXPECT_EQ(i.type(), v1::INTERFACE_TYPE_TCP);
  EXPECT_EQ(i.port(), 2525u);
  EXPECT_EQ(i.bind_address(), "127.0.0.1");
  EXPECT_EQ(out_.str(), "ID\n42\n");

  ASSERT_EQ(run({"interface", "add", "corp", "--type", "starttls", "--port", "8026", "--bind",
                 "0.0.0.0", "--cert", "gw-cert", "-o", "json"}),
            0);
  const v1::Interface& j = stub_->last_request<v1::CreateInterfaceRequest>().interface();
  EXPECT_EQ(j.type(), v1::INTERFACE_TYPE_STARTTLS);
  EXPECT_EQ(j.bind_address(), "0.0.0.0");
  EXPECT_EQ(j.cert(), "gw-cert");
  EXPECT_EQ(nlohmann::json::parse(out_.str())["id"], "42");
}

TEST_F(GctlTest, InterfaceListAndDelete) {
  ASSERT_EQ(run({"interface", "list"}), 0);
  EXPECT_EQ(stub_->last_request<v1::ListInterfacesRequest>().service(), "");
  EXPECT_EQ(out_.str(), "ID   SERVICE   TYPE   BIND   PORT\n");
  ASSERT_EQ(run({"interface", "list", "corp"}), 0);
  EXPECT_EQ(stub_->last_request<v1::ListInterfacesRequest>().service(), "corp");
  ASSERT_EQ(run({"interface", "delete", "17"}), 0);
  EXPECT_EQ(stub_->last_request<v1::DeleteInterfaceRequest>().id(), 17);
  EXPECT_EQ(out_.str(), "deleted interface 17\n");
}

TEST_F(GctlTest, ServiceListFiltersByInstance) {
  ASSERT_EQ(run({"service", "list", "--instance", "edge"}), 0);
  EXPECT_EQ(stub_->last_request<v1::ListServicesRequest>().instance(), "edge");
}

TEST_F(GctlTest, PasswordFromTheServerIsNeverPrinted) {
  v1::Service s;
  s.set_name("corp");
  s.set_password("s3cr3t-upstream-pw");
  s.set_has_password(true);
  stub_->answer(grpc::Status::OK, &s);
  for (const char* format : {"table", "json", "yaml"}) {
    ASSERT_EQ(run({"service", "show", "corp", "-o", format}), 0);
    EXPECT_EQ(out_.str().find("s3cr3t"), std::string::npos) << out_.str();
  }
}

}  // namespace
}  // namespace gw::cli
