#include "dataplane/handler_selector.h"

#include <gtest/gtest.h>

namespace gw::dataplane {
namespace {

using gateway::v1::SMTP_COMMAND_DATA;
using gateway::v1::SMTP_COMMAND_MAIL;
using gateway::v1::SMTP_COMMAND_RCPT;

gateway::v1::Handler* add(gateway::v1::Service& s, std::int64_t id, gateway::v1::SmtpCommand c,
                          const std::string& address, const std::string& policy) {
  auto* h = s.add_handlers();
  h->set_id(id);
  h->set_command(c);
  h->set_address(address);
  h->set_policy(policy);
  return h;
}

TEST(HandlerSelector, MostLiteralCharactersWin) {
  gateway::v1::Service s;
  add(s, 1, SMTP_COMMAND_MAIL, "*", "any");
  add(s, 2, SMTP_COMMAND_MAIL, "*@example.com", "domain");
  add(s, 3, SMTP_COMMAND_MAIL, "s*@example.*", "s-prefix");
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_MAIL, "bob@example.com")->policy(), "domain");
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_MAIL, "sam@example.com")->policy(), "domain");
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_MAIL, "sam@example.org")->policy(), "s-prefix");
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_MAIL, "x@other.test")->policy(), "any");
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_MAIL, "")->policy(), "any");  // <>
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_RCPT, "bob@example.com"), nullptr);
}

TEST(HandlerSelector, NullSenderPatternMatchesOnlyTheNullSender) {
  // DESIGN.md §5: <> is matched as the empty string; a "<>" handler binds a policy to
  // bounces and beats "*" (probe round 15: it was accepted but never matched).
  gateway::v1::Service s;
  add(s, 1, SMTP_COMMAND_MAIL, "*", "any");
  add(s, 2, SMTP_COMMAND_MAIL, "<>", "bounces");
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_MAIL, "")->policy(), "bounces");
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_MAIL, "bob@example.com")->policy(), "any");
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_MAIL, "<>")->policy(), "any");  // not the text
}

TEST(HandlerSelector, LiteralCharactersAreUtf8CharactersNotOctets) {
  // 13 literal characters (14 octets) against 14: the deny handler is the more specific
  // one even though it was created later (probe round 12).
  gateway::v1::Service s;
  add(s, 1, SMTP_COMMAND_MAIL, "\xc3\xb6*@example.com", "allow");
  add(s, 2, SMTP_COMMAND_MAIL, "*ab@example.com", "deny");
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_MAIL, "\xc3\xb6" "ab@example.com")->policy(), "deny");
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_MAIL, "\xc3\xb6x@example.com")->policy(), "allow");
}

TEST(HandlerSelector, CaseInsensitiveAndTies) {
  gateway::v1::Service s;
  add(s, 7, SMTP_COMMAND_RCPT, "*@Example.COM", "late");
  add(s, 4, SMTP_COMMAND_RCPT, "*@example.com", "early");
  add(s, 5, SMTP_COMMAND_RCPT, "*@*xample.com", "more-stars");
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_RCPT, "BOB@EXAMPLE.com")->policy(), "early");
}

TEST(HandlerSelector, CaseIsIgnoredBeyondAsciiToo) {
  // Probe round 18: "JÜRGEN@example.com" walked past the deny handler for jürgen@.
  gateway::v1::Service s;
  add(s, 1, SMTP_COMMAND_MAIL, "j\xc3\xbcrgen@example.com", "deny");
  add(s, 2, SMTP_COMMAND_MAIL, "*@*.b\xc3\xbc" "cher.example", "books");
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_MAIL, "J\xc3\x9cRGEN@example.com")->policy(), "deny");
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_MAIL, "J\xc3\xbcrgen@EXAMPLE.com")->policy(), "deny");
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_MAIL, "\xc3\x9c@mail.b\xc3\xbc" "cher.example")->policy(),
            "books");
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_MAIL, "jurgen@example.com"), nullptr);
  // Ill-formed UTF-8 is compared with ASCII folding only, and never matches a U-label.
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_MAIL, "j\xfcrgen@example.com"), nullptr);
}

TEST(HandlerSelector, NoMatchMeansNoPolicy) {
  gateway::v1::Service s;
  add(s, 1, SMTP_COMMAND_MAIL, "*@example.com", "p");
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_MAIL, "a@example.org"), nullptr);
  add(s, 2, SMTP_COMMAND_DATA, "", "d2");
  add(s, 1, SMTP_COMMAND_DATA, "", "d1");
  EXPECT_EQ(select_handler(s, SMTP_COMMAND_DATA)->policy(), "d1");
}

}  // namespace
}  // namespace gw::dataplane
