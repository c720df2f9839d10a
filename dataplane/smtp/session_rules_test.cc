// Unit tests for the state × command table (RFC 5321 §4.1.4, §3.3; relay behaviour "Order").
#include "dataplane/smtp/session_rules.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace gw::smtp {
namespace {

constexpr SessionState kStates[] = {SessionState::kConnected, SessionState::kGreeted,
                                    SessionState::kMail, SessionState::kRcpt};
constexpr Verb kVerbs[] = {Verb::kHelo, Verb::kEhlo,     Verb::kMail, Verb::kRcpt, Verb::kData,
                           Verb::kRset, Verb::kNoop,     Verb::kQuit, Verb::kVrfy, Verb::kExpn,
                           Verb::kHelp, Verb::kStarttls, Verb::kAuth, Verb::kBdat, Verb::kUnknown};

const char* state_name(SessionState s) {
  switch (s) {
    case SessionState::kConnected:
      return "connected";
    case SessionState::kGreeted:
      return "greeted";
    case SessionState::kMail:
      return "mail";
    case SessionState::kRcpt:
      return "rcpt";
  }
  return "?";
}

// Expected outcome: "" = may proceed to its own checks, otherwise "code enhanced-code".
std::string expected(SessionState s, Verb v) {
  using S = SessionState;
  switch (v) {
    case Verb::kMail:
      return s == S::kGreeted ? "" : "503 5.5.1";
    case Verb::kRcpt:
      return (s == S::kMail || s == S::kRcpt) ? "" : "503 5.5.1";
    case Verb::kData:
      if (s == S::kRcpt) return "";
      return s == S::kMail ? "554 5.5.1" : "503 5.5.1";
    case Verb::kBdat:
      return "502 5.5.1";
    default:
      return "";  // HELO/EHLO/RSET/NOOP/QUIT/VRFY/EXPN/HELP/STARTTLS/AUTH/unknown: own checks
  }
}

TEST(CheckCommandOrder, FullStateByVerbTable) {
  int allowed = 0;
  int refused = 0;
  for (SessionState s : kStates) {
    for (Verb v : kVerbs) {
      std::optional<Reply> r = check_command_order(s, v);
      std::string want = expected(s, v);
      std::string where = std::string(state_name(s)) + " x " + std::string(verb_name(v));
      if (want.empty()) {
        EXPECT_FALSE(r.has_value()) << where << " got " << (r ? r->wire() : "");
        ++allowed;
        continue;
      }
      ++refused;
      ASSERT_TRUE(r.has_value()) << where;
      EXPECT_EQ(std::to_string(r->code) + " " + std::string(r->enhanced_code()), want) << where;
      ASSERT_EQ(r->lines.size(), 1u) << where;
      EXPECT_GT(r->lines[0].size(), want.size() - 4) << where << ": a text follows the code";
      std::string wire = r->wire();
      EXPECT_EQ(wire.rfind(want + " ", 0), 0u) << where << ": " << wire;
      EXPECT_EQ(wire.find('\r'), wire.size() - 2) << where;
    }
  }
  EXPECT_EQ(allowed + refused, 4 * 15);
  EXPECT_EQ(refused, 3 + 2 + 3 + 4);
}

TEST(CheckCommandOrder, SpecificTexts) {
  EXPECT_EQ(check_command_order(SessionState::kConnected, Verb::kMail)->wire(),
            "503 5.5.1 Send HELO/EHLO first\r\n");
  EXPECT_EQ(check_command_order(SessionState::kMail, Verb::kMail)->wire(),
            "503 5.5.1 Nested MAIL command\r\n");
  EXPECT_EQ(check_command_order(SessionState::kRcpt, Verb::kMail)->wire(),
            "503 5.5.1 Nested MAIL command\r\n");
  EXPECT_EQ(check_command_order(SessionState::kMail, Verb::kData)->wire(),
            "554 5.5.1 No valid recipients\r\n");
}

// RFC 3207 §4 (field case BR-06): only NOOP, EHLO, STARTTLS and QUIT run before TLS on a
// service that requires it.
TEST(AllowedBeforeStarttls, OnlyTheFourCommandsOfRfc3207) {
  for (Verb v : {Verb::kNoop, Verb::kEhlo, Verb::kStarttls, Verb::kQuit, Verb::kUnknown}) {
    EXPECT_TRUE(allowed_before_starttls(v)) << verb_name(v);
  }
  for (Verb v : {Verb::kHelo, Verb::kMail, Verb::kRcpt, Verb::kData, Verb::kRset, Verb::kVrfy,
                 Verb::kExpn, Verb::kHelp, Verb::kAuth, Verb::kBdat}) {
    EXPECT_FALSE(allowed_before_starttls(v)) << verb_name(v);
  }
}

}  // namespace
}  // namespace gw::smtp
