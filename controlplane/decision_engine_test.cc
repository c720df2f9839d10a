// Tests of the decision engine before policies exist.
#include "controlplane/decision_engine.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;

class DecisionEngineTest : public ::testing::Test {
 protected:
  DecisionEngineTest() {
    auto c = std::make_shared<Configuration>();
    c->version = 1;
    c->service_instances["corp"] = "default";
    hub_.publish(c, {});
  }
  SnapshotHub hub_;
  DecisionEngine engine_{hub_};
};

TEST_F(DecisionEngineTest, ValidRequestContinuesWithFreshId) {
  v1::DecisionRequest request;
  request.set_service("corp");
  request.set_command(v1::SMTP_COMMAND_MAIL);
  (*request.mutable_attributes())["smtp.mail.from"] = "alice@example.com";
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    auto decision = engine_.decide(request);
    ASSERT_TRUE(decision);
    EXPECT_EQ(decision.value().verdict(), v1::VERDICT_CONTINUE);
    EXPECT_TRUE(std::regex_match(
        decision.value().decision_id(),
        std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
        << decision.value().decision_id();
    ids.insert(decision.value().decision_id());
  }
  EXPECT_EQ(ids.size(), 100u);
}

TEST_F(DecisionEngineTest, InvalidRequestsAreRefused) {
  v1::DecisionRequest request;
  request.set_command(v1::SMTP_COMMAND_RCPT);
  EXPECT_EQ(engine_.decide(request).error().message, "service is required");
  request.set_service("ghost");
  auto unknown = engine_.decide(request);
  EXPECT_EQ(unknown.error().code, Code::kInvalidArgument);
  EXPECT_EQ(unknown.error().message, "service \"ghost\" is not known");
  request.set_service("corp");
  request.set_command(v1::SMTP_COMMAND_UNSPECIFIED);
  EXPECT_EQ(engine_.decide(request).error().code, Code::kInvalidArgument);
  request.set_command(static_cast<v1::SmtpCommand>(42));
  EXPECT_EQ(engine_.decide(request).error().message,
            "command 42 is not one of HELO, AUTH, MAIL, RCPT, DATA");
}

}  // namespace
}  // namespace gw::controlplane
