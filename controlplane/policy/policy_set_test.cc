// Tests of PolicySet building with all errors collected.
#include "controlplane/policy/policy_set.h"

#include <gtest/gtest.h>

namespace gw::controlplane::policy {
namespace {

TEST(PolicySet, CollectsEveryErrorAndKeepsTheGoodPolicies) {
  const auto build = build_policy_set({
      {"allow", "", "- type: \"true\""},
      {"typo", "", "- type: match\n  atribute: x\n"},
      {"only-example-com", "550 5.7.1 Sender ${smtp.mail.from} not allowed",
       "- {type: match, attribute: smtp.mail.from, wildcard: '*@example.com'}"},
      {"bad-reply", "250 ok", ""},
      {"allow", "", "- type: \"false\""},
      {"bad-regex", "", "- type: \"true\"\n- {type: body_match, regex: '['}"},
  });
  ASSERT_EQ(build.errors.size(), 4u);
  EXPECT_EQ(build.errors[0].policy, "typo");
  EXPECT_EQ(build.errors[0].line, 2);
  EXPECT_EQ(build.errors[1].policy, "bad-reply");
  EXPECT_EQ(build.errors[2].policy, "allow");
  EXPECT_EQ(build.errors[2].reason, "policy \"allow\" is declared twice");
  EXPECT_EQ(build.errors[3].policy, "bad-regex");
  EXPECT_EQ(build.errors[3].filter, 2);
  EXPECT_EQ(build.errors[3].line, 2);

  EXPECT_EQ(build.policies.size(), 2u);
  EXPECT_EQ(build.policies.names(), (std::vector<std::string>{"allow", "only-example-com"}));
  ASSERT_NE(build.policies.find("allow"), nullptr);
  EXPECT_EQ(build.policies.find("allow")->filters().front()->type(), "true");  // the first one
  EXPECT_EQ(build.policies.find("typo"), nullptr);
  EXPECT_EQ(build.policies.find("ALLOW"), nullptr);
}

TEST(PolicySet, EmptyAndClean) {
  const auto build = build_policy_set({});
  EXPECT_TRUE(build.errors.empty());
  EXPECT_EQ(build.policies.size(), 0u);
  const auto one = build_policy_set({{"p", "", ""}});
  EXPECT_TRUE(one.errors.empty());
  ASSERT_NE(one.policies.find("p"), nullptr);
}

}  // namespace
}  // namespace gw::controlplane::policy
