// Tests of PolicyRepository and HandlerRepository: CRUD, upsert outcomes, and the foreign
// keys between services, handlers and policies.
#include "storage/policy_repository.h"

#include <gtest/gtest.h>

#include "storage/handler_repository.h"
#include "storage/service_repository.h"
#include "storage/test_temp_dir.h"

namespace gw::storage {
namespace {

namespace v1 = gateway::v1;

v1::Policy policy(std::string name, std::string reply, std::string filters_yaml) {
  v1::Policy p;
  p.set_name(std::move(name));
  p.set_reply(std::move(reply));
  p.set_filters_yaml(std::move(filters_yaml));
  return p;
}

v1::Handler handler(std::string service, v1::SmtpCommand command, std::string policy_name,
                    std::string address = "") {
  v1::Handler h;
  h.set_service(std::move(service));
  h.set_command(command);
  h.set_policy(std::move(policy_name));
  h.set_address(std::move(address));
  return h;
}

class PolicyRepositoryTest : public ::testing::Test {
 protected:
  PolicyRepositoryTest()
      : db_(Database::open(dir_.file("gw.db"))),
        secrets_(SecretBox::open_key_file(dir_.file("gw.db.key"))) {}

  void add_service(const std::string& name, const std::string& instance = "default") {
    v1::Service s;
    s.set_name(name);
    s.set_host("smtp.example.net");
    s.set_port(25);
    s.set_ciphers("DEFAULT");
    s.set_instance(instance);
    s.set_tls_min_version("1.2");
    auto created = ServiceRepository(db_, secrets_).create(s, 1);
    ASSERT_TRUE(created) << created.error().message;
  }

  TestTempDir dir_;
  Database db_;
  SecretBox secrets_;
  PolicyRepository policies_{db_};
  HandlerRepository handlers_{db_};
};

TEST_F(PolicyRepositoryTest, UpsertCreatesUpdatesAndReportsUnchanged) {
  const std::string yaml = "- type: match\n  attribute: smtp.mail.from\n  wildcard: \"*@x\"\n";
  auto created = policies_.upsert(policy("only-x", "550 5.7.1 ${smtp.mail.from} no", yaml), 100);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created.value(), UpsertOutcome::kCreated);

  auto got = policies_.get("only-x");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got.value().name(), "only-x");
  EXPECT_EQ(got.value().reply(), "550 5.7.1 ${smtp.mail.from} no");
  EXPECT_EQ(got.value().filters_yaml(), yaml);
  EXPECT_EQ(got.value().created_at_ms(), 100);
  EXPECT_EQ(got.value().updated_at_ms(), 100);

  EXPECT_EQ(policies_.upsert(policy("only-x", "550 5.7.1 ${smtp.mail.from} no", yaml), 200).value(),
            UpsertOutcome::kUnchanged);
  EXPECT_EQ(policies_.get("only-x").value().updated_at_ms(), 100) << "unchanged writes nothing";

  EXPECT_EQ(policies_.upsert(policy("only-x", "", yaml), 300).value(), UpsertOutcome::kUpdated);
  got = policies_.get("only-x");
  EXPECT_EQ(got.value().reply(), "");
  EXPECT_EQ(got.value().created_at_ms(), 100);
  EXPECT_EQ(got.value().updated_at_ms(), 300);

  EXPECT_EQ(policies_.upsert(policy("only-x", "", "- type: \"true\"\n"), 400).value(),
            UpsertOutcome::kUpdated);
  EXPECT_EQ(policies_.get("only-x").value().filters_yaml(), "- type: \"true\"\n");
}

TEST_F(PolicyRepositoryTest, ListIsOrderedByNameAndGetIsCaseSensitive) {
  ASSERT_TRUE(policies_.upsert(policy("b", "", "[]"), 1));
  ASSERT_TRUE(policies_.upsert(policy("a", "", "[]"), 1));
  ASSERT_TRUE(policies_.upsert(policy("c", "", "[]"), 1));
  auto all = policies_.list();
  ASSERT_TRUE(all);
  ASSERT_EQ(all.value().size(), 3u);
  EXPECT_EQ(all.value()[0].name(), "a");
  EXPECT_EQ(all.value()[1].name(), "b");
  EXPECT_EQ(all.value()[2].name(), "c");
  EXPECT_EQ(policies_.get("A").error().code, Errc::kNotFound);
}

TEST_F(PolicyRepositoryTest, EmptyNameIsRefused) {
  auto r = policies_.upsert(policy("", "", "[]"), 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kConstraint);
}

TEST_F(PolicyRepositoryTest, RemoveDeletesAndUnknownIsNotFound) {
  ASSERT_TRUE(policies_.upsert(policy("p", "", "[]"), 1));
  auto removed = policies_.remove("p");
  ASSERT_TRUE(removed) << removed.error().error.message;
  EXPECT_EQ(policies_.get("p").error().code, Errc::kNotFound);

  auto again = policies_.remove("p");
  ASSERT_FALSE(again);
  EXPECT_FALSE(again.error().in_use());
  EXPECT_EQ(again.error().error.code, Errc::kNotFound);
}

TEST_F(PolicyRepositoryTest, PolicyInUseCannotBeDeletedAndErrorNamesHandlers) {
  add_service("corp");
  add_service("edge");
  ASSERT_TRUE(policies_.upsert(policy("allow", "", "- type: \"true\"\n"), 1));
  ASSERT_TRUE(policies_.upsert(policy("other", "", "[]"), 1));
  const auto h1 = handlers_.create(handler("corp", v1::SMTP_COMMAND_MAIL, "allow", "*"), 1);
  const auto h2 = handlers_.create(handler("corp", v1::SMTP_COMMAND_HELO, "other"), 1);
  const auto h3 = handlers_.create(handler("edge", v1::SMTP_COMMAND_RCPT, "allow", "*@x"), 1);
  ASSERT_TRUE(h1 && h2 && h3);

  auto refused = policies_.remove("allow");
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().in_use());
  EXPECT_EQ(refused.error().handler_ids,
            (std::vector<std::int64_t>{h1.value().id(), h3.value().id()}));
  EXPECT_EQ(refused.error().error.code, Errc::kConstraint);
  const std::string expected = "policy \"allow\" is in use by handlers " +
                               std::to_string(h1.value().id()) + ", " +
                               std::to_string(h3.value().id());
  EXPECT_EQ(refused.error().error.message, expected);
  EXPECT_TRUE(policies_.get("allow")) << "a refused delete keeps the policy";

  ASSERT_TRUE(handlers_.remove(h1.value().id()));
  refused = policies_.remove("allow");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().error.message,
            "policy \"allow\" is in use by handler " + std::to_string(h3.value().id()));

  ASSERT_TRUE(handlers_.remove(h3.value().id()));
  EXPECT_TRUE(policies_.remove("allow"));
}

TEST_F(PolicyRepositoryTest, ForeignKeyRestrictIsTheLastLine) {
  add_service("corp");
  ASSERT_TRUE(policies_.upsert(policy("allow", "", "[]"), 1));
  ASSERT_TRUE(handlers_.create(handler("corp", v1::SMTP_COMMAND_DATA, "allow"), 1));
  // A delete that bypasses the repository's check is still refused by SQLite.
  auto raw = db_.prepare("DELETE FROM policies WHERE name = 'allow'");
  ASSERT_TRUE(raw);
  auto done = raw.value().run();
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, Errc::kConstraint);
}

TEST_F(PolicyRepositoryTest, HandlerCreateGetListRemove) {
  add_service("corp", "default");
  add_service("edge", "dmz");
  ASSERT_TRUE(policies_.upsert(policy("allow", "", "[]"), 1));
  v1::Handler helo = handler("corp", v1::SMTP_COMMAND_HELO, "allow");
  helo.set_greeting("Hello ${smtp.helo.domain}");
  helo.set_source_line(12);  // input only: not stored

  auto a = handlers_.create(helo, 500);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_GT(a.value().id(), 0);
  EXPECT_EQ(a.value().service(), "corp");
  EXPECT_EQ(a.value().command(), v1::SMTP_COMMAND_HELO);
  EXPECT_EQ(a.value().policy(), "allow");
  EXPECT_EQ(a.value().greeting(), "Hello ${smtp.helo.domain}");
  EXPECT_EQ(a.value().address(), "");
  EXPECT_EQ(a.value().created_at_ms(), 500);
  EXPECT_EQ(a.value().source_line(), 0);

  auto b = handlers_.create(handler("edge", v1::SMTP_COMMAND_MAIL, "allow", "*@example.com"), 600);
  auto c = handlers_.create(handler("corp", v1::SMTP_COMMAND_AUTH, "allow"), 700);
  ASSERT_TRUE(b && c);
  EXPECT_LT(a.value().id(), b.value().id());
  EXPECT_LT(b.value().id(), c.value().id());
  EXPECT_EQ(b.value().address(), "*@example.com");

  auto got = handlers_.get(b.value().id());
  ASSERT_TRUE(got);
  EXPECT_EQ(got.value().service(), "edge");
  EXPECT_EQ(got.value().command(), v1::SMTP_COMMAND_MAIL);

  auto all = handlers_.list("");
  ASSERT_TRUE(all);
  ASSERT_EQ(all.value().size(), 3u);
  EXPECT_EQ(all.value()[0].id(), a.value().id());
  EXPECT_EQ(all.value()[1].id(), b.value().id());
  EXPECT_EQ(all.value()[2].id(), c.value().id());

  auto corp = handlers_.list("corp");
  ASSERT_EQ(corp.value().size(), 2u);
  EXPECT_EQ(corp.value()[0].id(), a.value().id());
  EXPECT_EQ(corp.value()[1].id(), c.value().id());
  EXPECT_TRUE(handlers_.list("ghost").value().empty());

  auto dmz = handlers_.list_by_instance("dmz");
  ASSERT_EQ(dmz.value().size(), 1u);
  EXPECT_EQ(dmz.value()[0].id(), b.value().id());

  ASSERT_TRUE(handlers_.remove(a.value().id()));
  EXPECT_EQ(handlers_.get(a.value().id()).error().code, Errc::kNotFound);
  EXPECT_EQ(handlers_.remove(a.value().id()).error().code, Errc::kNotFound);
  EXPECT_EQ(handlers_.list("").value().size(), 2u);
}

TEST_F(PolicyRepositoryTest, HandlerIdsAreNeverReused) {
  add_service("corp");
  ASSERT_TRUE(policies_.upsert(policy("allow", "", "[]"), 1));
  auto first = handlers_.create(handler("corp", v1::SMTP_COMMAND_MAIL, "allow", "*"), 1);
  ASSERT_TRUE(first);
  ASSERT_TRUE(handlers_.remove(first.value().id()));
  auto second = handlers_.create(handler("corp", v1::SMTP_COMMAND_MAIL, "allow", "*"), 2);
  ASSERT_TRUE(second);
  EXPECT_GT(second.value().id(), first.value().id());
}

TEST_F(PolicyRepositoryTest, HandlerWithUnknownPolicyOrServiceIsRefused) {
  add_service("corp");
  ASSERT_TRUE(policies_.upsert(policy("allow", "", "[]"), 1));

  auto no_policy = handlers_.create(handler("corp", v1::SMTP_COMMAND_MAIL, "ghost"), 1);
  ASSERT_FALSE(no_policy);
  EXPECT_EQ(no_policy.error().code, Errc::kNotFound);
  EXPECT_EQ(no_policy.error().message, "policy \"ghost\" not found");

  auto no_service = handlers_.create(handler("nowhere", v1::SMTP_COMMAND_MAIL, "allow"), 1);
  ASSERT_FALSE(no_service);
  EXPECT_EQ(no_service.error().code, Errc::kNotFound);
  EXPECT_EQ(no_service.error().message, "service \"nowhere\" not found");

  auto no_command = handlers_.create(handler("corp", v1::SMTP_COMMAND_UNSPECIFIED, "allow"), 1);
  ASSERT_FALSE(no_command);
  EXPECT_EQ(no_command.error().code, Errc::kConstraint);

  EXPECT_TRUE(handlers_.list("").value().empty()) << "refused creates leave nothing behind";

  // The foreign key itself refuses an unknown policy written past the repository.
  auto raw = db_.prepare(
      "INSERT INTO handlers (service_id, command, policy, created_at_ms) "
      "SELECT id, 'mail', 'ghost', 1 FROM services WHERE name = 'corp'");
  ASSERT_TRUE(raw);
  auto done = raw.value().run();
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, Errc::kConstraint);
}

TEST_F(PolicyRepositoryTest, ServiceDeleteCascadesToItsHandlers) {
  add_service("corp");
  add_service("edge");
  ASSERT_TRUE(policies_.upsert(policy("allow", "", "[]"), 1));
  ASSERT_TRUE(handlers_.create(handler("corp", v1::SMTP_COMMAND_MAIL, "allow", "*"), 1));
  ASSERT_TRUE(handlers_.create(handler("corp", v1::SMTP_COMMAND_RCPT, "allow", "*"), 1));
  auto kept = handlers_.create(handler("edge", v1::SMTP_COMMAND_MAIL, "allow", "*"), 1);
  ASSERT_TRUE(kept);

  ASSERT_TRUE(ServiceRepository(db_, secrets_).remove("corp"));
  auto left = handlers_.list("");
  ASSERT_TRUE(left);
  ASSERT_EQ(left.value().size(), 1u);
  EXPECT_EQ(left.value()[0].id(), kept.value().id());
  EXPECT_EQ(policies_.handlers_using("allow").value(),
            std::vector<std::int64_t>{kept.value().id()});

  ASSERT_TRUE(ServiceRepository(db_, secrets_).remove("edge"));
  EXPECT_TRUE(policies_.remove("allow")) << "no handler left: the policy can go";
}

}  // namespace
}  // namespace gw::storage
