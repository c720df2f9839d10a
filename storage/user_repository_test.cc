// Tests of UserRepository: CRUD of the authentication repository, hashes only on request.
#include "storage/user_repository.h"

#include <gtest/gtest.h>

#include "storage/quoted_name.h"
#include "storage/test_temp_dir.h"

namespace gw::storage {
namespace {

constexpr std::string_view kHashA = "$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";
constexpr std::string_view kHashB = "$argon2id$v=19$m=65536,t=3,p=1$b3RoZXJzYWx0$b3RoZXJoYXNo";

class UserRepositoryTest : public ::testing::Test {
 protected:
  TestTempDir dir_;
  Database db_ = Database::open(dir_.file("gw.db"));
  UserRepository users_{db_};
};

TEST_F(UserRepositoryTest, CreateGetHashAndReadsOmitTheHash) {
  auto created = users_.create("alice", kHashA, 100);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created.value().name(), "alice");
  EXPECT_EQ(created.value().created_at_ms(), 100);
  EXPECT_EQ(created.value().updated_at_ms(), 100);
  EXPECT_EQ(created.value().password_hash(), "");
  EXPECT_EQ(created.value().password(), "");

  EXPECT_EQ(users_.get_hash("alice").value(), kHashA);
  EXPECT_EQ(users_.get("alice", Secrets::kOmit).value().password_hash(), "");
  EXPECT_EQ(users_.get("alice", Secrets::kInclude).value().password_hash(), kHashA);
  EXPECT_EQ(users_.get_hash("bob").error().code, Errc::kNotFound);
  EXPECT_EQ(users_.get("bob", Secrets::kOmit).error().code, Errc::kNotFound);
}

TEST_F(UserRepositoryTest, DuplicateAndEmptyAreRefusedWithoutTheHashInTheMessage) {
  ASSERT_TRUE(users_.create("alice", kHashA, 1));
  auto again = users_.create("alice", kHashB, 2);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kAlreadyExists);
  EXPECT_EQ(again.error().message, "user \"alice\" already exists");
  EXPECT_EQ(users_.get_hash("alice").value(), kHashA);
  // A UTF-8 name reads as written (probe round 48: "j\xc3\xbcrgen"); control characters
  // and quotes are still escaped.
  ASSERT_TRUE(users_.create("j\xc3\xbcrgen", kHashA, 1));
  EXPECT_EQ(users_.create("j\xc3\xbcrgen", kHashA, 2).error().message,
            "user \"j\xc3\xbcrgen\" already exists");
  EXPECT_EQ(quoted_name("a\x01" "b"), "\"a\\x01b\"");
  EXPECT_EQ(quoted_name("a\xe2\x80\xae" "b"), "\"a\\xe2\\x80\\xaeb\"");  // U+202E, a bidi override

  EXPECT_EQ(users_.create("", kHashA, 1).error().code, Errc::kConstraint);
  EXPECT_EQ(users_.create("bob", "", 1).error().code, Errc::kConstraint);
  EXPECT_EQ(users_.set_hash("alice", "", 1).error().code, Errc::kConstraint);
  EXPECT_EQ(users_.get_hash("alice").value(), kHashA);
}

TEST_F(UserRepositoryTest, SetHashReplacesAndKeepsCreationTime) {
  ASSERT_TRUE(users_.create("alice", kHashA, 100));
  auto set = users_.set_hash("alice", kHashB, 200);
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set.value().created_at_ms(), 100);
  EXPECT_EQ(set.value().updated_at_ms(), 200);
  EXPECT_EQ(set.value().password_hash(), "");
  EXPECT_EQ(users_.get_hash("alice").value(), kHashB);
  EXPECT_EQ(users_.set_hash("bob", kHashB, 200).error().code, Errc::kNotFound);
}

TEST_F(UserRepositoryTest, UpsertReportsWhatItDid) {
  EXPECT_EQ(users_.upsert("alice", kHashA, 100).value(), UpsertOutcome::kCreated);
  EXPECT_EQ(users_.upsert("alice", kHashA, 200).value(), UpsertOutcome::kUnchanged);
  EXPECT_EQ(users_.get("alice", Secrets::kOmit).value().updated_at_ms(), 100);
  EXPECT_EQ(users_.upsert("alice", kHashB, 300).value(), UpsertOutcome::kUpdated);
  EXPECT_EQ(users_.get_hash("alice").value(), kHashB);
  EXPECT_EQ(users_.get("alice", Secrets::kOmit).value().updated_at_ms(), 300);
  EXPECT_EQ(users_.upsert("", kHashA, 1).error().code, Errc::kConstraint);
}

TEST_F(UserRepositoryTest, ListOrdersByNameAndRemoveDeletes) {
  ASSERT_TRUE(users_.create("carol", kHashA, 3));
  ASSERT_TRUE(users_.create("alice", kHashA, 1));
  ASSERT_TRUE(users_.create("bob", kHashB, 2));

  auto names = users_.list(Secrets::kOmit);
  ASSERT_TRUE(names);
  ASSERT_EQ(names.value().size(), 3u);
  EXPECT_EQ(names.value()[0].name(), "alice");
  EXPECT_EQ(names.value()[1].name(), "bob");
  EXPECT_EQ(names.value()[2].name(), "carol");
  EXPECT_EQ(names.value()[1].created_at_ms(), 2);
  for (const auto& u : names.value()) EXPECT_EQ(u.password_hash(), "");

  auto with_hashes = users_.list(Secrets::kInclude);
  EXPECT_EQ(with_hashes.value()[1].password_hash(), kHashB);

  ASSERT_TRUE(users_.remove("bob"));
  EXPECT_EQ(users_.remove("bob").error().code, Errc::kNotFound);
  EXPECT_EQ(users_.list(Secrets::kOmit).value().size(), 2u);
}

}  // namespace
}  // namespace gw::storage
