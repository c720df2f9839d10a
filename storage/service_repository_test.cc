// Tests of ServiceRepository: round trip of every field, sealed passwords, errors.
#include "storage/service_repository.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "storage/test_temp_dir.h"

namespace gw::storage {
namespace {

namespace v1 = gateway::v1;

v1::Service full_service(std::string name) {
  v1::Service s;
  s.set_name(std::move(name));
  s.set_host("smtp.example.net");
  s.set_port(587);
  s.set_security(v1::SECURITY_STARTTLS);
  s.add_trusted_cas("corp-ca");
  s.add_trusted_cas("backup-ca");
  s.set_client_cert("client");
  s.set_ciphers("HIGH:!aNULL");
  s.set_username("relay");
  s.set_password("pa'ss\"word");
  s.set_monitoring(true);
  s.set_instance("edge");
  s.set_fail_open(true);
  s.set_allow_plaintext_auth(true);
  s.set_require_tls(true);
  s.set_hostname("gw.example.com");
  s.set_tls_min_version("1.3");
  s.set_no_verify_hostname(true);
  s.set_tls_server_name("mx.example.net");
  s.set_protocol_trace(true);
  v1::Limits* l = s.mutable_limits();
  l->set_max_command_line(512);
  l->set_max_auth_line(12288);
  l->set_max_text_line(1000);
  l->set_max_message_size(5'000'000'000ULL);  // above 2^32: must survive INTEGER storage
  l->set_max_recipients(100);
  l->set_max_sessions(1000);
  l->set_max_sessions_per_client(50);
  l->set_idle_timeout_ms(60000);
  l->set_decision_timeout_ms(1500);
  l->set_session_timeout_ms(1800000);
  l->set_data_timeout_ms(600000);
  l->set_upstream_connect_timeout_ms(30000);
  l->set_upstream_timeout_ms(300000);
  l->set_upstream_data_timeout_ms(600000);
  l->set_max_errors(20);
  l->set_max_idle_commands(50);
  l->set_max_mime_parts(250);
  l->set_max_mime_depth(8);
  l->set_max_mime_header_block(8192);
  return s;
}

class ServiceRepositoryTest : public ::testing::Test {
 protected:
  TestTempDir dir_;
  Database db_ = Database::open(dir_.file("gw.db"));
  SecretBox secrets_ = SecretBox::open_key_file(dir_.file("gw.db.key"));
  ServiceRepository repo_{db_, secrets_};
};

TEST_F(ServiceRepositoryTest, CreateAndGetRoundTripEveryField) {
  const v1::Service input = full_service("corp");
  auto created = repo_.create(input, 1000);
  ASSERT_TRUE(created) << created.error().message;

  v1::Service expected = input;
  expected.clear_password();
  expected.set_has_password(true);
  expected.set_created_at_ms(1000);
  expected.set_updated_at_ms(1000);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(created.value(), expected))
      << created.value().DebugString();

  auto with_secret = repo_.get("corp", Secrets::kInclude);
  ASSERT_TRUE(with_secret);
  EXPECT_EQ(with_secret.value().password(), "pa'ss\"word");
  EXPECT_EQ(repo_.get("corp", Secrets::kOmit).value().password(), "");
}

TEST_F(ServiceRepositoryTest, PasswordIsStoredSealed) {
  ASSERT_TRUE(repo_.create(full_service("corp"), 1));
  auto stmt = db_.prepare("SELECT password_sealed FROM services WHERE name = 'corp'");
  ASSERT_TRUE(stmt.value().step().value());
  const std::string stored = stmt.value().column_blob(0);
  EXPECT_EQ(stored.find("pa'ss"), std::string::npos);
  EXPECT_EQ(secrets_.open(stored).value(), "pa'ss\"word");
}

TEST_F(ServiceRepositoryTest, NoPasswordMeansNull) {
  v1::Service s = full_service("plain");
  s.clear_password();
  auto created = repo_.create(s, 1);
  ASSERT_TRUE(created);
  EXPECT_FALSE(created.value().has_password());
  auto stmt = db_.prepare("SELECT password_sealed IS NULL FROM services WHERE name = 'plain'");
  ASSERT_TRUE(stmt.value().step().value());
  EXPECT_TRUE(stmt.value().column_bool(0));
}

TEST_F(ServiceRepositoryTest, UndecryptablePasswordIsLeftOut) {
  ASSERT_TRUE(repo_.create(full_service("corp"), 1));
  SecretBox other = SecretBox::open_key_file(dir_.file("other.key"));
  ServiceRepository with_other_key(db_, other);
  auto s = with_other_key.get("corp", Secrets::kInclude);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s.value().has_password());
  EXPECT_EQ(s.value().password(), "");
}

TEST_F(ServiceRepositoryTest, DuplicateNameIsAlreadyExists) {
  ASSERT_TRUE(repo_.create(full_service("corp"), 1));
  auto again = repo_.create(full_service("corp"), 2);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kAlreadyExists);
  EXPECT_EQ(again.error().message, "service \"corp\" already exists");
}

TEST_F(ServiceRepositoryTest, CheckConstraintsAreLastLineOfDefence) {
  v1::Service s = full_service("bad");
  s.set_port(70000);
  auto created = repo_.create(s, 1);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, Errc::kConstraint);
  s.set_port(25);
  s.set_security(static_cast<v1::Security>(42));
  EXPECT_EQ(repo_.create(s, 1).error().code, Errc::kConstraint);
  EXPECT_EQ(repo_.get("bad", Secrets::kOmit).error().code, Errc::kNotFound)
      << "a failed create leaves nothing behind";
}

TEST_F(ServiceRepositoryTest, UpdateReplacesFieldsAndKeepsCreationTime) {
  ASSERT_TRUE(repo_.create(full_service("corp"), 1000));
  v1::Service changed = full_service("corp");
  changed.set_host("mx.example.org");
  changed.clear_trusted_cas();
  changed.add_trusted_cas("only-ca");
  changed.mutable_limits()->set_max_recipients(7);
  changed.set_password("ignored");
  auto updated = repo_.update(changed, PasswordChange::kKeep, 2000);
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated.value().host(), "mx.example.org");
  EXPECT_EQ(updated.value().trusted_cas_size(), 1);
  EXPECT_EQ(updated.value().limits().max_recipients(), 7u);
  EXPECT_EQ(updated.value().created_at_ms(), 1000);
  EXPECT_EQ(updated.value().updated_at_ms(), 2000);
  EXPECT_EQ(repo_.get("corp", Secrets::kInclude).value().password(), "pa'ss\"word");

  changed.set_password("new-one");
  ASSERT_TRUE(repo_.update(changed, PasswordChange::kReplace, 3000));
  EXPECT_EQ(repo_.get("corp", Secrets::kInclude).value().password(), "new-one");

  changed.clear_password();
  ASSERT_TRUE(repo_.update(changed, PasswordChange::kReplace, 4000));
  EXPECT_FALSE(repo_.get("corp", Secrets::kOmit).value().has_password());
}

TEST_F(ServiceRepositoryTest, UpdateAndRemoveOfUnknownServiceAreNotFound) {
  auto updated = repo_.update(full_service("ghost"), PasswordChange::kKeep, 1);
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code, Errc::kNotFound);
  auto removed = repo_.remove("ghost");
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().code, Errc::kNotFound);
}

TEST_F(ServiceRepositoryTest, ListFiltersByInstanceAndOrdersByName) {
  for (const char* name : {"b", "a", "c"}) {
    v1::Service s = full_service(name);
    s.set_instance(std::string(name) == "c" ? "other" : "edge");
    ASSERT_TRUE(repo_.create(s, 1));
  }
  auto all = repo_.list("", Secrets::kOmit);
  ASSERT_TRUE(all);
  ASSERT_EQ(all.value().size(), 3u);
  EXPECT_EQ(all.value()[0].name(), "a");
  EXPECT_EQ(all.value()[2].name(), "c");
  auto edge = repo_.list("edge", Secrets::kInclude);
  ASSERT_EQ(edge.value().size(), 2u);
  EXPECT_EQ(edge.value()[0].name(), "a");
  EXPECT_EQ(edge.value()[0].password(), "pa'ss\"word");
  EXPECT_TRUE(repo_.list("nowhere", Secrets::kOmit).value().empty());
}

TEST_F(ServiceRepositoryTest, TlsMinVersionCheckIsLastLineOfDefence) {
  v1::Service s = full_service("bad");
  s.set_tls_min_version("1.1");
  auto created = repo_.create(s, 1);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, Errc::kConstraint);
}

TEST_F(ServiceRepositoryTest, UpdateChangesTlsFields) {
  ASSERT_TRUE(repo_.create(full_service("corp"), 1));
  v1::Service changed = full_service("corp");
  changed.set_tls_min_version("1.2");
  changed.set_no_verify_hostname(false);
  changed.clear_tls_server_name();
  changed.clear_client_cert();
  ASSERT_TRUE(repo_.update(changed, PasswordChange::kKeep, 2));
  const v1::Service got = repo_.get("corp", Secrets::kOmit).value();
  EXPECT_EQ(got.tls_min_version(), "1.2");
  EXPECT_FALSE(got.no_verify_hostname());
  EXPECT_EQ(got.tls_server_name(), "");
  EXPECT_EQ(got.client_cert(), "");
}

TEST_F(ServiceRepositoryTest, RemoveDeletesTrustedCas) {
  ASSERT_TRUE(repo_.create(full_service("corp"), 1));
  ASSERT_TRUE(repo_.remove("corp"));
  auto stmt = db_.prepare("SELECT count(*) FROM service_trusted_cas");
  ASSERT_TRUE(stmt.value().step().value());
  EXPECT_EQ(stmt.value().column_int64(0), 0);
}

}  // namespace
}  // namespace gw::storage
