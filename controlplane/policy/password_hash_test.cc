// Tests of Argon2id password hashing and verification.
#include "controlplane/policy/password_hash.h"

#include <gtest/gtest.h>

#include <regex>

namespace gw::controlplane::policy {
namespace {

TEST(PasswordHash, RoundTripWithCheapCost) {
  auto hash = hash_password("correct horse", kTestArgon2Cost);
  ASSERT_TRUE(hash) << hash.error().message;
  EXPECT_TRUE(std::regex_match(
      hash.value(),
      std::regex(R"(\$argon2id\$v=19\$m=1024,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43})")))
      << hash.value();
  EXPECT_TRUE(is_password_hash(hash.value()));
  EXPECT_TRUE(verify_password(hash.value(), "correct horse"));
  EXPECT_FALSE(verify_password(hash.value(), "correct horsE"));
  EXPECT_FALSE(verify_password(hash.value(), "correct horse "));
  EXPECT_FALSE(verify_password(hash.value(), ""));

  auto again = hash_password("correct horse", kTestArgon2Cost);
  ASSERT_TRUE(again);
  EXPECT_NE(again.value(), hash.value()) << "a fresh random salt per hash";
  EXPECT_TRUE(verify_password(again.value(), "correct horse"));
}

TEST(PasswordHash, BinaryPasswordsAreWholeOctetStrings) {
  const std::string password("a\0b", 3);
  auto hash = hash_password(password, kTestArgon2Cost);
  ASSERT_TRUE(hash);
  EXPECT_TRUE(verify_password(hash.value(), password));
  EXPECT_FALSE(verify_password(hash.value(), "a"));
}

TEST(PasswordHash, DefaultCostIsDocumented) {
  auto hash = hash_password("pw");
  ASSERT_TRUE(hash);
  EXPECT_EQ(hash.value().rfind("$argon2id$v=19$m=65536,t=2,p=1$", 0), 0u) << hash.value();
  EXPECT_TRUE(verify_password(hash.value(), "pw"));
}

TEST(PasswordHash, RefusesEmptyPasswordAndBadCost) {
  EXPECT_EQ(hash_password("", kTestArgon2Cost).error().message, "the password is empty");
  EXPECT_FALSE(hash_password("x", Argon2Cost{1024, 0, 1}));
  EXPECT_FALSE(hash_password("x", Argon2Cost{4u << 20, 1, 1}));
}

TEST(PasswordHash, RecognisesOnlySaneArgon2idHashes) {
  const std::string salt = "oE+wEGiwiuaf8sWe2pZPag";
  const std::string digest = "VTJ+c66nkrj0EzblSEazUsa0WOb2SGSnbIRjQ2oPKkk";
  EXPECT_TRUE(is_password_hash("$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$" + digest));
  EXPECT_FALSE(is_password_hash(""));
  EXPECT_FALSE(is_password_hash("plaintext"));
  EXPECT_FALSE(is_password_hash("$argon2i$v=19$m=65536,t=2,p=1$" + salt + "$" + digest));
  EXPECT_FALSE(is_password_hash("$argon2id$v=16$m=65536,t=2,p=1$" + salt + "$" + digest));
  EXPECT_FALSE(is_password_hash("$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + digest));
  EXPECT_FALSE(is_password_hash("$argon2id$v=19$m=65536,t=0,p=1$" + salt + "$" + digest));
  EXPECT_FALSE(is_password_hash("$argon2id$v=19$m=65536,t=2,p=0$" + salt + "$" + digest));
  EXPECT_FALSE(is_password_hash("$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$" + "short"));
  EXPECT_FALSE(is_password_hash("$argon2id$v=19$m=65536,t=2,p=1$abc$" + digest));
  EXPECT_FALSE(is_password_hash("$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$" + digest + "!"));
  EXPECT_FALSE(is_password_hash("$argon2id$v=19$m=065536,t=2,p=1$" + salt + "$" + digest));
  EXPECT_FALSE(is_password_hash("$argon2id$v=19$t=2,m=65536,p=1$" + salt + "$" + digest));
}

TEST(PasswordHash, MalformedStoredHashNeverVerifies) {
  EXPECT_FALSE(verify_password("not a hash", "not a hash"));
  EXPECT_FALSE(verify_password("", ""));
}

}  // namespace
}  // namespace gw::controlplane::policy
