// Tests of gctl's command line against a fake AdminService stub: flags → requests and
// FieldMasks, global options, exit codes and the one-line error contract.
#include "cli/gctl_app.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/gctl_test_fixture.h"

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;

constexpr const char* kCertPem =
    "-----BEGIN CERTIFICATE-----\nMIIBcertificate\n-----END CERTIFICATE-----\n";
constexpr const char* kKeySecret = "c2VjcmV0LWtleS1tYXRlcmlhbA";
const std::string kKeyPem =
    std::string("-----BEGIN " "PRIVATE KEY-----\n") + kKeySecret + "\n-----END PRIVATE KEY-----\n";
constexpr const char* kPassword = "upstream-pw-7q";

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
                 "--protocol-trace",
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
                 "8",
                 "--max-mime-parts",
                 "300",
                 "--max-mime-depth",
                 "9",
                 "--max-mime-header-block",
                 "4096"}),
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
  EXPECT_TRUE(s.protocol_trace());
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
  EXPECT_EQ(l.max_mime_parts(), 300u);
  EXPECT_EQ(l.max_mime_depth(), 9u);
  EXPECT_EQ(l.max_mime_header_block(), 4096u);
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

TEST_F(GctlTest, EveryServiceLimitHasAFlag) {
  // Every field of gateway.v1.Limits can be set from the command line, named after the
  // field (probe round 19: max_auth_line had none): --max-auth-line, --idle-timeout, ...
  const auto* limits = v1::Limits::descriptor();
  for (int i = 0; i < limits->field_count(); ++i) {
    std::string field = limits->field(i)->name();
    std::string flag = field;
    if (flag.size() > 3 && flag.ends_with("_ms")) flag.resize(flag.size() - 3);
    std::replace(flag.begin(), flag.end(), '_', '-');
    ASSERT_EQ(run({"service", "update", "corp", "--" + flag, "600"}), 0)
        << "--" << flag << ": " << err_.str();
    const auto& request = stub_->last_request<v1::UpdateServiceRequest>();
    EXPECT_EQ(mask_paths(request), std::vector<std::string>{"limits." + field});
    const auto& reflection = *request.service().limits().GetReflection();
    const std::uint64_t value =
        limits->field(i)->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_UINT64
            ? reflection.GetUInt64(request.service().limits(), limits->field(i))
            : reflection.GetUInt32(request.service().limits(), limits->field(i));
    EXPECT_EQ(value, 600u) << field;
  }
}

TEST_F(GctlTest, ServiceUpdateCanTurnFlagsOff) {
  ASSERT_EQ(run({"service", "update", "corp", "--monitoring=false", "--protocol-trace=false", "--fail-open=false",
                 "--security", "none", "--host", "mx.example.org"}),
            0)
      << err_.str();
  const auto& request = stub_->last_request<v1::UpdateServiceRequest>();
  EXPECT_FALSE(request.service().monitoring());
  EXPECT_FALSE(request.service().protocol_trace());
  EXPECT_FALSE(request.service().fail_open());
  EXPECT_EQ(request.service().security(), v1::SECURITY_NONE);
  EXPECT_FALSE(request.service().has_limits());
  EXPECT_EQ(mask_paths(request),
            (std::vector<std::string>{"host", "security", "monitoring", "protocol_trace", "fail_open"}));
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

// Connected, no answer in time: not "cannot reach" (probe round 34: an apply reported so
// was committed after all).
TEST_F(GctlTest, DeadlineExceededSaysTheRequestMayStillTakeEffect) {
  stub_->answer(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"));
  EXPECT_EQ(run({"node", "list"}, "cp:7070"), 1);
  EXPECT_EQ(err_.str(),
            "gctl: error: no answer from control plane at cp:7070 in time; a change it was "
            "making may still take effect (check before retrying)\n");
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
  EXPECT_EQ(out_.str(),
            "ID   SERVICE   TYPE   BIND   PORT   CERT   SNI_CERTS   CLIENT_CA   TLS_MIN   "
            "CIPHERS\n");
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

// Probe round 42: an expired certificate was stored and put on an interface without a
// word. It is still stored (one may stage a certificate ahead), with a warning on stderr.
TEST_F(GctlTest, CertAddWarnsAboutACertificateThatIsNotValidNow) {
  TempDir dir;
  const std::string cert = dir.write("gw.pem", kCertPem);
  v1::Certificate stored;
  stored.set_name("old");
  stored.set_not_before_ms(1577836800000);  // 2020-01-01
  stored.set_not_after_ms(1609372800000);   // 2020-12-31
  stub_->answer(grpc::Status::OK, &stored);
  ASSERT_EQ(run({"cert", "add", "old", "--cert", cert}), 0) << err_.str();
  EXPECT_EQ(err_.str(),
            "gctl: warning: certificate old expired on 2020-12-31T00:00:00Z; TLS peers will "
            "refuse it\n");
  EXPECT_NE(out_.str().find("old"), std::string::npos) << "the row is printed as usual";
  stored.set_name("future");
  stored.set_not_before_ms(4102444800000);  // 2100-01-01
  stored.set_not_after_ms(4133980800000);
  stub_->answer(grpc::Status::OK, &stored);
  ASSERT_EQ(run({"cert", "add", "future", "--cert", cert}), 0);
  EXPECT_EQ(err_.str(),
            "gctl: warning: certificate future is not valid before 2100-01-01T00:00:00Z; TLS "
            "peers will refuse it until then\n");
}

// Probe round 45: an upstream login without TLS towards another host was taken silently.
TEST_F(GctlTest, ServiceAddWarnsAboutAnUpstreamLoginInClear) {
  v1::Service stored;
  stored.set_name("corp");
  stored.set_host("mx.example.net");
  stored.set_username("relay");
  stored.set_security(v1::SECURITY_NONE);
  stub_->answer(grpc::Status::OK, &stored);
  TempDir dir;
  const std::string password = dir.write("pw", "s3cret\n");
  ASSERT_EQ(run({"service", "add", "corp", "--host", "mx.example.net", "--username", "relay",
                 "--password-file", password}),
            0)
      << err_.str();
  EXPECT_EQ(err_.str(),
            "gctl: warning: service corp logs in to its upstream mx.example.net without TLS "
            "(--security none): the password crosses the network in clear; use --security "
            "starttls or ssl\n");
  // Quiet with TLS upstream, towards loopback, or without a login.
  for (auto change : {+[](v1::Service& s) { s.set_security(v1::SECURITY_STARTTLS); },
                      +[](v1::Service& s) { s.set_host("127.0.0.1"); },
                      +[](v1::Service& s) { s.clear_username(); }}) {
    v1::Service quiet = stored;
    change(quiet);
    stub_->answer(grpc::Status::OK, &quiet);
    ASSERT_EQ(run({"service", "update", "corp", "--port", "25"}), 0) << err_.str();
    EXPECT_EQ(err_.str(), "") << quiet.ShortDebugString();
  }
}

TEST_F(GctlTest, CertAddSendsTheFilesAndNeverPrintsTheKey) {
  TempDir dir;
  const std::string cert = dir.write("gw.pem", kCertPem);
  const std::string key = dir.write("gw.key", kKeyPem);
  v1::Certificate stored;
  stored.set_name("gw-cert");
  stored.set_subject("CN=localhost");
  stored.set_has_key(true);
  stored.set_not_after_ms(4102444800000);  // 2100: valid whenever the test runs
  stored.set_key_pem(kKeyPem);  // a misbehaving server: gctl still must not print it
  stub_->answer(grpc::Status::OK, &stored);
  for (const char* format : {"table", "json", "yaml"}) {
    ASSERT_EQ(run({"cert", "add", "gw-cert", "--cert", cert, "--key", key, "-o", format}), 0)
        << err_.str();
    const v1::Certificate& sent = stub_->last_request<v1::CreateCertificateRequest>().certificate();
    EXPECT_EQ(sent.name(), "gw-cert");
    EXPECT_EQ(sent.cert_pem(), kCertPem);
    EXPECT_EQ(sent.key_pem(), kKeyPem);
    EXPECT_EQ(out_.str().find(kKeySecret), std::string::npos) << out_.str();
    EXPECT_EQ(err_.str(), "");
  }
  ASSERT_EQ(run({"cert", "add", "gw-cert", "--cert", cert}), 0);
  EXPECT_EQ(out_.str(),
            "NAME      SUBJECT        NOT_AFTER              HAS_KEY\n"
            "gw-cert   CN=localhost   2100-01-01T00:00:00Z   true\n");
  EXPECT_EQ(stub_->last_request<v1::CreateCertificateRequest>().certificate().key_pem(), "")
      << "no --key: a trust anchor";

  // A refusal carries the server's message, never the key.
  stub_->answer(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                             "the private key does not match the first certificate of the chain"));
  EXPECT_EQ(run({"cert", "add", "gw-cert", "--cert", cert, "--key", key}), 1);
  EXPECT_EQ(err_.str(),
            "gctl: error: the private key does not match the first certificate of the chain\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(GctlTest, CertAddFileProblemsAreUsageErrors) {
  TempDir dir;
  const std::string cert = dir.write("gw.pem", kCertPem);
  const std::string empty = dir.write("empty.key", "");
  expect_usage_error({"cert", "add", "gw-cert"}, "--cert");
  expect_usage_error({"cert", "add", "--cert", cert}, "NAME");
  expect_usage_error({"cert", "add", "gw-cert", "--cert", cert, "--key", "/nonexistent/gw.key"},
                     "/nonexistent/gw.key");
  expect_usage_error({"cert", "add", "gw-cert", "--cert", cert, "--key", empty},
                     "--key " + empty + " is empty");
  // A DER file has no PEM block: said plainly, not a protobuf failure (probe round 10).
  const std::string der = dir.write("gw.der", std::string("\x30\x82\x01\xb3\x30\x82", 6));
  expect_usage_error({"cert", "add", "gw-cert", "--cert", der}, "no PEM block");
}

TEST_F(GctlTest, CertAddSendsOnlyThePemBlocks) {
  // Explanatory text around the block (RFC 7468 §2) may be in any encoding; a proto string
  // field must be UTF-8, so only the blocks travel (probe round 10: Latin-1 text before the
  // block made gctl fail with UNIMPLEMENTED).
  TempDir dir;
  const std::string cert =
      dir.write("gw.pem", std::string("Issuer: Soci\xe9t\xe9 G\xe9n\xe9rale\n") + kCertPem);
  v1::Certificate stored;
  stored.set_name("gw-cert");
  stub_->answer(grpc::Status::OK, &stored);
  ASSERT_EQ(run({"cert", "add", "gw-cert", "--cert", cert}), 0) << err_.str();
  EXPECT_EQ(stub_->last_request<v1::CreateCertificateRequest>().certificate().cert_pem(),
            kCertPem);
}

TEST_F(GctlTest, CertListShowDelete) {
  ASSERT_EQ(run({"cert", "list"}), 0) << err_.str();
  EXPECT_EQ(stub_->methods().back(), "ListCertificates");
  EXPECT_EQ(out_.str(), "NAME   SUBJECT   NOT_AFTER   HAS_KEY\n");

  v1::Certificate c;
  c.set_name("corp-ca");
  c.set_subject("CN=Corp CA");
  c.set_cert_pem(kCertPem);
  stub_->answer(grpc::Status::OK, &c);
  ASSERT_EQ(run({"cert", "show", "corp-ca"}), 0) << err_.str();
  EXPECT_EQ(stub_->last_request<v1::GetCertificateRequest>().name(), "corp-ca");
  EXPECT_NE(out_.str().find("subject:"), std::string::npos) << out_.str();
  EXPECT_EQ(out_.str().find("BEGIN CERTIFICATE"), std::string::npos);

  stub_->answer(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                             "certificate \"corp-ca\" is still used by service \"corp\" "
                             "(trusted_cas): change or delete those first"));
  EXPECT_EQ(run({"cert", "delete", "corp-ca"}), 1);
  EXPECT_EQ(stub_->last_request<v1::DeleteCertificateRequest>().name(), "corp-ca");
  EXPECT_EQ(err_.str(),
            "gctl: error: certificate \"corp-ca\" is still used by service \"corp\" "
            "(trusted_cas): change or delete those first\n");
  stub_->answer(grpc::Status::OK);
  ASSERT_EQ(run({"cert", "delete", "corp-ca"}), 0);
  EXPECT_EQ(out_.str(), "deleted certificate corp-ca\n");
}

TEST_F(GctlTest, ServiceAddMapsTlsAndCredentialFlags) {
  TempDir dir;
  const std::string password_file = dir.write("pw", std::string(kPassword) + "\r\nsecond line\n");
  v1::Service echoed;
  echoed.set_name("corp");
  echoed.set_password(kPassword);  // a misbehaving server echoes it: never printed
  stub_->answer(grpc::Status::OK, &echoed);
  ASSERT_EQ(run({"service",
                 "add",
                 "corp",
                 "--host",
                 "smtp.example.net",
                 "--security",
                 "starttls",
                 "--trusted-ca",
                 "system",
                 "--trusted-ca",
                 "corp-ca",
                 "--client-cert",
                 "client",
                 "--ciphers",
                 "HIGH:!aNULL",
                 "--tls-min-version",
                 "1.3",
                 "--no-verify-hostname",
                 "--tls-server-name",
                 "mx.example.net",
                 "--username",
                 "relay",
                 "--password-file",
                 password_file,
                 "--require-tls",
                 "--allow-plaintext-auth"}),
            0)
      << err_.str();
  const v1::Service& s = stub_->last_request<v1::CreateServiceRequest>().service();
  EXPECT_EQ(std::vector<std::string>(s.trusted_cas().begin(), s.trusted_cas().end()),
            (std::vector<std::string>{"system", "corp-ca"}));
  EXPECT_EQ(s.client_cert(), "client");
  EXPECT_EQ(s.ciphers(), "HIGH:!aNULL");
  EXPECT_EQ(s.tls_min_version(), "1.3");
  EXPECT_TRUE(s.no_verify_hostname());
  EXPECT_EQ(s.tls_server_name(), "mx.example.net");
  EXPECT_EQ(s.username(), "relay");
  EXPECT_EQ(s.password(), kPassword) << "first line, CRLF removed";
  EXPECT_TRUE(s.require_tls());
  EXPECT_TRUE(s.allow_plaintext_auth());
  EXPECT_EQ(out_.str().find(kPassword), std::string::npos) << out_.str();
  for (const char* format : {"json", "yaml"}) {
    ASSERT_EQ(run({"service", "add", "corp", "--host", "h", "--password-file", password_file, "-o",
                   format}),
              0);
    EXPECT_EQ(out_.str().find(kPassword), std::string::npos) << out_.str();
  }
  // Without the flags nothing TLS-related is sent: the server fills its defaults.
  ASSERT_EQ(run({"service", "add", "corp", "--host", "h"}), 0);
  const v1::Service& bare = stub_->last_request<v1::CreateServiceRequest>().service();
  EXPECT_EQ(bare.trusted_cas_size(), 0);
  EXPECT_FALSE(bare.no_verify_hostname());
  EXPECT_EQ(bare.tls_min_version(), "");
  EXPECT_EQ(bare.password(), "");
}

TEST_F(GctlTest, NonUtf8ArgumentsAreUsageErrorsNotInternal) {
  // Probe round 20: a Latin-1 name gave a libprotobuf log line, "error: INTERNAL", exit 1.
  expect_usage_error({"service", "add", "s\xe9rvice", "--host", "h"}, "name: the value is not UTF-8");
  expect_usage_error({"service", "update", "corp", "--hostname", "gw.\xe9x"},
                     "service.hostname: the value is not UTF-8");
  EXPECT_TRUE(stub_->methods().empty()) << "nothing was sent";
}

TEST_F(GctlTest, PasswordFileWithAByteOrderMark) {
  // Probe round 20: --password-file kept a leading UTF-8 BOM (apply's password_file did not).
  TempDir dir;
  const std::string password_file = dir.write("pw", std::string("\xEF\xBB\xBF") + kPassword + "\r\n");
  ASSERT_EQ(run({"service", "update", "corp", "--password-file", password_file}), 0) << err_.str();
  EXPECT_EQ(stub_->last_request<v1::UpdateServiceRequest>().service().password(), kPassword);
}

TEST_F(GctlTest, ServiceUpdateTlsFlagsAreMaskedAndCanBeTurnedOff) {
  TempDir dir;
  const std::string password_file = dir.write("pw", kPassword);
  ASSERT_EQ(run({"service", "update", "corp", "--trusted-ca", "", "--client-cert", "",
                 "--verify-hostname", "--require-tls=false", "--allow-plaintext-auth=false",
                 "--password-file", password_file}),
            0)
      << err_.str();
  const auto& request = stub_->last_request<v1::UpdateServiceRequest>();
  EXPECT_EQ(request.service().trusted_cas_size(), 0) << "--trusted-ca \"\" clears the list";
  EXPECT_EQ(request.service().client_cert(), "");
  EXPECT_FALSE(request.service().no_verify_hostname());
  EXPECT_FALSE(request.service().require_tls());
  EXPECT_FALSE(request.service().allow_plaintext_auth());
  EXPECT_EQ(request.service().password(), kPassword);
  EXPECT_EQ(mask_paths(request),
            (std::vector<std::string>{"trusted_cas", "client_cert", "no_verify_hostname",
                                      "password", "require_tls", "allow_plaintext_auth"}));

  ASSERT_EQ(run({"service", "update", "corp", "--verify-hostname=false", "--no-password"}), 0)
      << err_.str();
  const auto& off = stub_->last_request<v1::UpdateServiceRequest>();
  EXPECT_TRUE(off.service().no_verify_hostname());
  EXPECT_EQ(off.service().password(), "");
  EXPECT_EQ(mask_paths(off), (std::vector<std::string>{"no_verify_hostname", "password"}));
}

TEST_F(GctlTest, BadTlsAndCredentialFlagsAreUsageErrors) {
  TempDir dir;
  const std::string password_file = dir.write("pw", kPassword);
  const std::string empty_first_line = dir.write("blank", "\nsecond\n");
  expect_usage_error({"service", "update", "corp", "--tls-min-version", "1.1"},
                     "--tls-min-version");
  expect_usage_error({"service", "update", "corp", "--password-file", "/nonexistent/pw"},
                     "/nonexistent/pw");
  expect_usage_error({"service", "update", "corp", "--password-file", empty_first_line},
                     "the first line is empty");
  expect_usage_error(
      {"service", "update", "corp", "--password-file", password_file, "--no-password"}, "excludes");
  expect_usage_error({"service", "add", "corp", "--host", "h", "--no-password"}, "--no-password");
  expect_usage_error({"interface", "add", "corp", "--type", "ssl", "--port", "465", "--sni-cert",
                      "mx.example.org"},
                     "--sni-cert wants HOST=NAME");
  expect_usage_error(
      {"interface", "add", "corp", "--type", "ssl", "--port", "465", "--sni-cert", "=cert"},
      "--sni-cert wants HOST=NAME");
  expect_usage_error(
      {"interface", "add", "corp", "--type", "ssl", "--port", "465", "--tls-min-version", "1.0"},
      "--tls-min-version");
  EXPECT_EQ(err_.str().find(kPassword), std::string::npos);
}

TEST_F(GctlTest, InterfaceAddMapsTlsFlags) {
  ASSERT_EQ(
      run({"interface", "add", "corp", "--type", "starttls", "--port", "8026", "--cert", "gw-cert",
           "--sni-cert", "mx.example.org=org-cert", "--sni-cert", "*.example.net=net-cert",
           "--client-ca", "corp-ca", "--ciphers", "HIGH", "--tls-min-version", "1.3"}),
      0)
      << err_.str();
  const v1::Interface& i = stub_->last_request<v1::CreateInterfaceRequest>().interface();
  EXPECT_EQ(i.cert(), "gw-cert");
  ASSERT_EQ(i.sni_certs_size(), 2);
  EXPECT_EQ(i.sni_certs(0).server_name(), "mx.example.org");
  EXPECT_EQ(i.sni_certs(0).cert(), "org-cert");
  EXPECT_EQ(i.sni_certs(1).server_name(), "*.example.net");
  EXPECT_EQ(i.sni_certs(1).cert(), "net-cert");
  EXPECT_EQ(i.client_ca(), "corp-ca");
  EXPECT_EQ(i.ciphers(), "HIGH");
  EXPECT_EQ(i.tls_min_version(), "1.3");
}

TEST_F(GctlTest, TlsOptionsReachTheConnectorFromFlagsOrEnvironment) {
  TempDir dir;
  const std::string ca = dir.write("ca.pem", kCertPem);
  const std::string cert = dir.write("client.pem", kCertPem);
  const std::string key = dir.write("client.key", kKeyPem);
  ASSERT_EQ(run({"--tls-ca", ca, "node", "list", "--tls-cert", cert, "--tls-key", key}), 0)
      << err_.str();
  ASSERT_EQ(channels_.size(), 1u);
  EXPECT_EQ(channels_[0].tls_ca_file, ca);
  EXPECT_EQ(channels_[0].tls_cert_file, cert);
  EXPECT_EQ(channels_[0].tls_key_file, key);

  ChannelOptions env;
  env.server = "cp:7443";
  env.tls_ca_file = ca;
  env.tls_cert_file = cert;
  env.tls_key_file = key;
  ASSERT_EQ(run_with({"node", "list"}, env), 0) << err_.str();
  EXPECT_EQ(channels_.back().server, "cp:7443");
  EXPECT_EQ(channels_.back().tls_key_file, key);
  // A flag wins over the environment.
  ASSERT_EQ(run_with({"--tls-ca", cert, "node", "list"}, env), 0);
  EXPECT_EQ(channels_.back().tls_ca_file, cert);
}

TEST_F(GctlTest, TlsOptionsThatDoNotFitAreUsageErrorsWithoutConnecting) {
  TempDir dir;
  const std::string ca = dir.write("ca.pem", kCertPem);
  const std::string cert = dir.write("client.pem", kCertPem);
  const std::string key = dir.write("client.key", kKeyPem);
  expect_usage_error({"--tls-ca", ca, "--tls-cert", cert, "node", "list"},
                     "--tls-cert and --tls-key go together");
  expect_usage_error({"--tls-ca", ca, "--tls-key", key, "node", "list"},
                     "--tls-cert and --tls-key go together");
  expect_usage_error({"--tls-cert", cert, "--tls-key", key, "node", "list"},
                     "--tls-cert needs --tls-ca");
  expect_usage_error({"--tls-ca", "/nonexistent/ca.pem", "node", "list"}, "/nonexistent/ca.pem");
  ChannelOptions env;
  env.tls_cert_file = cert;  // GCTL_TLS_CERT without GCTL_TLS_KEY
  env.tls_ca_file = ca;
  EXPECT_EQ(run_with({"node", "list"}, env), 2);
  EXPECT_NE(err_.str().find("--tls-cert and --tls-key go together"), std::string::npos);
  EXPECT_TRUE(servers_.empty());
}

}  // namespace
}  // namespace gw::cli
