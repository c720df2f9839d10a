// Tests of policy evaluation: every filter, `when`/`negate`, templates, default replies,
// tempfail, HELO greetings, AUTH checks, and DATA decoding, editing and byte-exactness.
#include "controlplane/policy/policy_engine.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <chrono>

#include "controlplane/policy/base64.h"
#include "controlplane/policy/mime_message.h"
#include "controlplane/policy/password_hash.h"
#include "dataplane/smtp/address.h"

namespace gw::controlplane::policy {

void PrintTo(Verdict verdict, std::ostream* os) { *os << verdict_name(verdict); }
void PrintTo(const SmtpReply& reply, std::ostream* os) {
  *os << reply.code << " " << reply.enhanced_code << " " << reply.text;
}

namespace {

std::shared_ptr<const CompiledPolicy> compile(std::string_view yaml, std::string_view reply = "") {
  auto compiled = compile_policy("test", reply, yaml);
  if (!compiled) ADD_FAILURE() << compiled.error().to_string();
  return compiled ? compiled.value() : compile_policy("empty", "", "").value();
}

const MapUserDirectory& no_users() {
  static const MapUserDirectory users;
  return users;
}

Decision run(std::string_view yaml, Command command, Attributes& attributes,
             std::string_view reply = "") {
  return evaluate(*compile(yaml, reply), command, attributes, no_users(), nullptr);
}

Decision run(std::string_view yaml, Command command, Attributes&& attributes = {},
             std::string_view reply = "") {
  return run(yaml, command, attributes, reply);
}

// `eight_bit_allowed`: the transaction's MAIL went upstream with BODY=8BITMIME.
Decision run_data(std::string_view yaml, std::string& message, Attributes attributes = {},
                  std::string_view reply = "", bool eight_bit_allowed = false) {
  return evaluate(*compile(yaml, reply), Command::kData, attributes, no_users(), &message, {},
                  eight_bit_allowed);
}

// ---- true / false, default replies, policy replies ---------------------------------------

TEST(Evaluate, TruePassesAndNoFiltersPass) {
  auto d = run("- type: \"true\"", Command::kMail);
  EXPECT_EQ(d.verdict, Verdict::kContinue);
  EXPECT_EQ(d.reply.code, 0u);
  EXPECT_TRUE(d.reason.empty());
  EXPECT_EQ(d.failed_filter, 0);
  EXPECT_EQ(run("", Command::kRcpt).verdict, Verdict::kContinue);
}

TEST(Evaluate, AddressRulesAreComparedInTheRelaysSpelling) {
  // Probe round 18: the relay sends smtp.mail.from / smtp.rcpt.to with A-labels as U-labels
  // and quoted local parts unquoted; a rule written as clients spell the address silently
  // never matched.
  const std::string buecher = "a@b\xc3\xbc" "cher.example";
  for (const char* rule :
       {"- {type: match, attribute: smtp.mail.from, wildcard: \"*@xn--bcher-kva.example\"}",
        "- {type: match, attribute: smtp.mail.from, wildcard: \"*@*.example\"}",
        "- {type: match, attribute: smtp.mail.from, equals: \"a@XN--BCHER-KVA.example\"}",
        "- {type: match, attribute: smtp.mail.from, equals: \"\\\"a\\\"@xn--bcher-kva.example\"}"}) {
    EXPECT_EQ(run(rule, Command::kMail, {{"smtp.mail.from", buecher}}).verdict, Verdict::kContinue)
        << rule;
  }
  EXPECT_EQ(run("- {type: match, attribute: smtp.rcpt.to, wildcard: \"*@xn--caf-dma.example\", "
                "negate: true}",
                Command::kRcpt, {{"smtp.rcpt.to", "u@caf\xc3\xa9.example"}})
                .verdict,
            Verdict::kReject);
  EXPECT_EQ(run("- {type: match, attribute: smtp.helo.domain, equals: \"xn--bcher-kva.example\"}",
                Command::kHelo, {{"smtp.helo.domain", "xn--bcher-kva.example"}})
                .verdict,
            Verdict::kContinue);
}

TEST(Evaluate, HeloDomainRulesMeetEverySpellingOfTheName) {
  // Probe round 45: "[IPv6:::ffff:192.0.2.1]" passed a rule for "[192.0.2.1]", and a rule
  // for "*.bücher.example" never met an EHLO, which must use A-labels.
  auto verdict = [](const std::string& rule, const char* domain) {
    return run("- {type: match, attribute: smtp.helo.domain, " + rule + ", negate: true}",
               Command::kHelo, {{"smtp.helo.domain", domain}})
        .verdict;
  };
  for (const char* spelling : {"[192.0.2.1]", "[IPv6:::ffff:192.0.2.1]",
                               "[IPv6:0:0:0:0:0:ffff:c000:201]", "[192.000.002.001]"}) {
    EXPECT_EQ(verdict("equals: \"[192.0.2.1]\"", spelling), Verdict::kReject) << spelling;
    EXPECT_EQ(verdict("equals: \"[IPv6:::FFFF:192.0.2.1]\"", spelling), Verdict::kReject)
        << spelling;
  }
  for (const char* spelling : {"[IPv6:2001:db8::1]", "[IPv6:2001:DB8::1]",
                               "[IPv6:2001:db8:0::1]", "[ipv6:2001:0db8:0:0:0:0:0:1]"}) {
    EXPECT_EQ(verdict("equals: \"[IPv6:2001:db8::1]\"", spelling), Verdict::kReject) << spelling;
  }
  for (const char* spelling : {"mx.xn--bcher-kva.example", "MX.XN--BCHER-KVA.EXAMPLE",
                               "mx.b\xc3\xbc" "cher.example"}) {
    EXPECT_EQ(verdict("wildcard: \"*.b\xc3\xbc" "cher.example\"", spelling), Verdict::kReject)
        << spelling;
    EXPECT_EQ(verdict("wildcard: \"*.xn--bcher-kva.example\"", spelling), Verdict::kReject)
        << spelling;
    EXPECT_EQ(verdict("equals: \"mx.b\xc3\xbc" "cher.example\"", spelling), Verdict::kReject)
        << spelling;
  }
  // A pattern no canonical spelling can match still meets the value as sent (probe round
  // 46: these deny rules had stopped matching anything).
  EXPECT_EQ(verdict("wildcard: \"[IPv6:2001:db8:0:0:*]\"", "[IPv6:2001:db8:0:0:0:0:0:5]"),
            Verdict::kReject);
  EXPECT_EQ(verdict("wildcard: \"[IPv6:::ffff:192.0.2.*]\"", "[IPv6:::ffff:192.0.2.5]"),
            Verdict::kReject);
  EXPECT_EQ(verdict("wildcard: \"xn--*\"", "xn--bcher-kva.example"), Verdict::kReject);
  EXPECT_EQ(verdict("wildcard: \"xn--*\"", "mx.example"), Verdict::kContinue);
  // Other names still pass; a regex sees the value as sent.
  EXPECT_EQ(verdict("equals: \"[192.0.2.1]\"", "[192.0.2.2]"), Verdict::kContinue);
  EXPECT_EQ(verdict("wildcard: \"*.b\xc3\xbc" "cher.example\"", "mx.buecher.example"),
            Verdict::kContinue);
  EXPECT_EQ(verdict("regex: \"mx\\\\.b\xc3\xbc" "cher\\\\.example\"", "mx.xn--bcher-kva.example"),
            Verdict::kContinue);
}

TEST(Evaluate, MailboxAndDomainRulesIgnoreCaseBeyondAscii) {
  // Probe round 19: equals "ceo@example.com" let CEO@example.com and ceo@EXAMPLE.COM past a
  // negated rule, and wildcard "jürgen@*" let JÜRGEN@... past, while handlers fold case.
  const char* deny_ceo =
      "- {type: match, attribute: smtp.mail.from, equals: \"ceo@example.com\", negate: true}";
  for (const char* from : {"ceo@example.com", "CEO@example.com", "ceo@EXAMPLE.COM"}) {
    EXPECT_EQ(run(deny_ceo, Command::kMail, {{"smtp.mail.from", from}}).verdict, Verdict::kReject)
        << from;
  }
  EXPECT_EQ(run(deny_ceo, Command::kMail, {{"smtp.mail.from", "cfo@example.com"}}).verdict,
            Verdict::kContinue);
  const char* deny_juergen =
      "- {type: match, attribute: smtp.mail.from, wildcard: \"j\u00fcrgen@*\", negate: true}";
  for (const char* from : {"j\xc3\xbcrgen@example.com", "J\xc3\x9cRGEN@example.com",
                           "J\xc3\xbcRGEN@example.com"}) {
    EXPECT_EQ(run(deny_juergen, Command::kMail, {{"smtp.mail.from", from}}).verdict,
              Verdict::kReject)
        << from;
  }
  EXPECT_EQ(run("- {type: match, attribute: smtp.rcpt.to, equals: \"B\u00dcRO@x.example\"}",
                Command::kRcpt, {{"smtp.rcpt.to", "b\xc3\xbcro@X.example"}})
                .verdict,
            Verdict::kContinue);
  EXPECT_EQ(run("- {type: match, attribute: smtp.helo.domain, equals: \"bad.example\", "
                "negate: true}",
                Command::kHelo, {{"smtp.helo.domain", "BAD.Example"}})
                .verdict,
            Verdict::kReject);
  // Case, not letters: straße.example is another domain than strasse.example (IDNA2008),
  // also when it arrives as its A-label (probe round 21: full case folding let it pass an
  // allow-list for strasse.example).
  for (const char* from : {"a@stra\xc3\x9f" "e.example", "a@xn--strae-oqa.example"}) {
    Attributes attributes{{"smtp.mail.from", smtp::comparable_mailbox(from)}};  // as the node sends it
    EXPECT_EQ(run("- {type: match, attribute: smtp.mail.from, wildcard: \"*@strasse.example\"}",
                  Command::kMail, attributes)
                  .verdict,
              Verdict::kReject)
        << from;
  }
  // Other attributes compare as written; a regex sees the value as sent.
  EXPECT_EQ(run("- {type: match, attribute: x.custom, equals: \"Abc\"}", Command::kMail,
                {{"x.custom", "abc"}})
                .verdict,
            Verdict::kReject);
  EXPECT_EQ(run("- {type: match, attribute: smtp.mail.from, regex: \"ceo@example\\\\.com\"}",
                Command::kMail, {{"smtp.mail.from", "CEO@example.com"}})
                .verdict,
            Verdict::kReject);
}

TEST(Evaluate, DefaultReplyPerCommand) {
  const struct {
    Command command;
    unsigned code;
    const char* enhanced;
  } cases[] = {{Command::kHelo, 550, "5.7.1"},
               {Command::kAuth, 535, "5.7.8"},
               {Command::kMail, 550, "5.7.1"},
               {Command::kRcpt, 550, "5.7.1"},
               {Command::kData, 554, "5.7.1"}};
  for (const auto& c : cases) {
    auto d = run("- type: \"false\"", c.command);
    EXPECT_EQ(d.verdict, Verdict::kReject) << command_name(c.command);
    EXPECT_EQ(d.reply.code, c.code) << command_name(c.command);
    EXPECT_EQ(d.reply.enhanced_code, c.enhanced) << command_name(c.command);
    EXPECT_FALSE(d.reply.text.empty());
    EXPECT_EQ(d.failed_filter, 1);
    EXPECT_EQ(d.reason, "filter 1 (false): the false filter fails");
  }
}

TEST(Evaluate, PolicyReplyIsATemplate) {
  auto d = run("- type: \"false\"", Command::kMail, {{"smtp.mail.from", "eve@example.org"}},
               "550 5.7.1 Sender ${smtp.mail.from} not allowed");
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.reply, (SmtpReply{550, "5.7.1", "Sender eve@example.org not allowed"}));
}

TEST(Evaluate, FourXxReplyIsTempfail) {
  auto d = run("- type: \"false\"", Command::kRcpt, {}, "451 4.7.1 Greylisted, try later");
  EXPECT_EQ(d.verdict, Verdict::kTempfail);
  EXPECT_EQ(d.reply, (SmtpReply{451, "4.7.1", "Greylisted, try later"}));
}

TEST(Evaluate, ReplyWithoutTextKeepsTheCommandText) {
  auto d = run("- type: \"false\"", Command::kMail, {}, "553 5.1.8");
  EXPECT_EQ(d.reply.code, 553u);
  EXPECT_EQ(d.reply.enhanced_code, "5.1.8");
  EXPECT_EQ(d.reply.text, default_reply(Command::kMail).text);
}

TEST(Evaluate, ReplyTextCannotInjectLines) {
  auto d = run("- type: \"false\"", Command::kMail, {{"smtp.mail.from", "a\r\n250 ok"}},
               "550 5.7.1 No ${smtp.mail.from}");
  EXPECT_EQ(d.reply.text, "No a??250 ok");
  auto long_from =
      run("- type: \"false\"", Command::kMail, {{"smtp.mail.from", std::string(2000, 'x')}},
          "550 5.7.1 No ${smtp.mail.from}");
  EXPECT_EQ(long_from.reply.text.size(), max_reply_text(long_from.reply));
}

// ---- order, set_attribute, when, negate ----------------------------------------------------

TEST(Evaluate, FirstFailureEndsThePolicy) {
  Attributes a;
  auto d = run(R"(
- {type: set_attribute, attribute: x, value: one}
- {type: "false"}
- {type: set_attribute, attribute: y, value: two}
)",
               Command::kMail, a);
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.failed_filter, 2);
  EXPECT_EQ(a.at("x"), "one");
  EXPECT_FALSE(a.contains("y"));
  EXPECT_EQ(d.changes, (Attributes{{"x", "one"}}));
}

TEST(Evaluate, SetAttributeIsVisibleToLaterFiltersAndReported) {
  Attributes a{{"smtp.mail.from", "alice@example.com"}, {"smtp.helo.domain", "c.example"}};
  auto d = run(R"(
- {type: set_attribute, attribute: sender.alias, value: "bob@${smtp.helo.domain}"}
- {type: match, attribute: sender.alias, equals: bob@c.example}
- {type: set_attribute, attribute: note, value: "from=${sender.alias}"}
)",
               Command::kMail, a);
  EXPECT_EQ(d.verdict, Verdict::kContinue) << d.reason;
  EXPECT_EQ(d.changes,
            (Attributes{{"note", "from=bob@c.example"}, {"sender.alias", "bob@c.example"}}));
  EXPECT_EQ(a.at("sender.alias"), "bob@c.example");
}

TEST(Evaluate, SetAttributeValuesAreSingleLines) {
  Attributes a{{"authentication.subject.id", "x\r\nMAIL FROM:<evil>"}};
  auto d =
      run("- {type: set_attribute, attribute: smtp.helo.domain, "
          "value: '${authentication.subject.id}'}",
          Command::kHelo, a);
  EXPECT_EQ(d.changes.at("smtp.helo.domain"), "x??MAIL FROM:<evil>");
}

TEST(Evaluate, WhenSkipsTheFilterWhenFalse) {
  const char* yaml = R"(
- type: "false"
  when: {attribute: smtp.helo.domain, wildcard: "*.internal"}
)";
  EXPECT_EQ(run(yaml, Command::kMail, {{"smtp.helo.domain", "mx.example.com"}}).verdict,
            Verdict::kContinue);
  EXPECT_EQ(run(yaml, Command::kMail, {{"smtp.helo.domain", "HOST.Internal"}}).verdict,
            Verdict::kReject);
  EXPECT_EQ(run(yaml, Command::kMail, {}).verdict, Verdict::kContinue);  // "" does not match
}

TEST(Evaluate, WhenNegate) {
  const char* yaml = R"(
- type: "false"
  when: {attribute: smtp.helo.domain, wildcard: "*.internal", negate: true}
)";
  EXPECT_EQ(run(yaml, Command::kMail, {{"smtp.helo.domain", "mx.example.com"}}).verdict,
            Verdict::kReject);
  EXPECT_EQ(run(yaml, Command::kMail, {{"smtp.helo.domain", "a.internal"}}).verdict,
            Verdict::kContinue);
}

TEST(Evaluate, UndecidableWhenRunsTheFilter) {
  const char* yaml = R"(
- type: "false"
  when: {attribute: client.address, cidr: 10.0.0.0/8, negate: true}
)";
  EXPECT_EQ(run(yaml, Command::kMail, {{"client.address", "192.0.2.1:25"}}).verdict,
            Verdict::kReject);
  EXPECT_EQ(run(yaml, Command::kMail, {{"client.address", "10.1.1.1:25"}}).verdict,
            Verdict::kContinue);
  EXPECT_EQ(run(yaml, Command::kMail, {{"client.address", "garbage"}}).verdict, Verdict::kReject);
  EXPECT_EQ(run(yaml, Command::kMail, {}).verdict, Verdict::kReject);
}

// ---- match -------------------------------------------------------------------------------

TEST(Evaluate, MatchWildcardIsCaseInsensitiveAndWhole) {
  const char* yaml = "- {type: match, attribute: smtp.mail.from, wildcard: '*@example.com'}";
  EXPECT_EQ(run(yaml, Command::kMail, {{"smtp.mail.from", "Alice@EXAMPLE.com"}}).verdict,
            Verdict::kContinue);
  auto d = run(yaml, Command::kMail, {{"smtp.mail.from", "alice@example.com.evil"}});
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.reason,
            "filter 1 (match): condition not met: smtp.mail.from wildcard \"*@example.com\"");
  EXPECT_EQ(d.reason.find("evil"), std::string::npos) << "reasons carry no attribute values";
}

TEST(Evaluate, MatchEqualsIsExact) {
  // Exact on the whole value; case counts except for mailboxes and domains (see
  // MailboxAndDomainRulesIgnoreCaseBeyondAscii).
  const char* yaml = "- {type: match, attribute: smtp.mail.from, equals: alice@example.com}";
  EXPECT_EQ(run(yaml, Command::kMail, {{"smtp.mail.from", "alice@example.com"}}).verdict,
            Verdict::kContinue);
  EXPECT_EQ(run(yaml, Command::kMail, {{"smtp.mail.from", "alice@example.com "}}).verdict,
            Verdict::kReject);
  EXPECT_EQ(run(yaml, Command::kMail, {{"smtp.mail.from", "alice@example.co"}}).verdict,
            Verdict::kReject);
  const char* custom = "- {type: match, attribute: x.tag, equals: Gold}";
  EXPECT_EQ(run(custom, Command::kMail, {{"x.tag", "Gold"}}).verdict, Verdict::kContinue);
  EXPECT_EQ(run(custom, Command::kMail, {{"x.tag", "gold"}}).verdict, Verdict::kReject);
}

TEST(Evaluate, MatchRegexCoversTheWholeValue) {
  const char* yaml =
      R"(- {type: match, attribute: smtp.rcpt.to, regex: '[a-z]+@example\.(com|org)'})";
  EXPECT_EQ(run(yaml, Command::kRcpt, {{"smtp.rcpt.to", "bob@example.org"}}).verdict,
            Verdict::kContinue);
  EXPECT_EQ(run(yaml, Command::kRcpt, {{"smtp.rcpt.to", "x-bob@example.org"}}).verdict,
            Verdict::kReject);
  EXPECT_EQ(run(yaml, Command::kRcpt, {{"smtp.rcpt.to", "bob@example.org.evil"}}).verdict,
            Verdict::kReject);
  const char* ci = "- {type: match, attribute: smtp.rcpt.to, regex: '(?i)BOB@.*'}";
  EXPECT_EQ(run(ci, Command::kRcpt, {{"smtp.rcpt.to", "bob@x"}}).verdict, Verdict::kContinue);
}

TEST(Evaluate, MatchNegate) {
  const char* yaml =
      "- {type: match, attribute: smtp.mail.from, wildcard: '*@spam.example', negate: true}";
  EXPECT_EQ(run(yaml, Command::kMail, {{"smtp.mail.from", "a@ok.example"}}).verdict,
            Verdict::kContinue);
  EXPECT_EQ(run(yaml, Command::kMail, {{"smtp.mail.from", "a@spam.example"}}).verdict,
            Verdict::kReject);
}

TEST(Evaluate, MatchCidrOnTheClientAddress) {
  const char* v4 = "- {type: match, attribute: client.address, cidr: 127.0.0.0/8}";
  EXPECT_EQ(run(v4, Command::kHelo, {{"client.address", "127.0.0.1:51234"}}).verdict,
            Verdict::kContinue);
  EXPECT_EQ(run(v4, Command::kHelo, {{"client.address", "192.0.2.1:51234"}}).verdict,
            Verdict::kReject);
  const char* v6 = "- {type: match, attribute: client.address, cidr: '2001:db8::/32'}";
  EXPECT_EQ(run(v6, Command::kHelo, {{"client.address", "[2001:db8::7]:25"}}).verdict,
            Verdict::kContinue);
  EXPECT_EQ(run(v6, Command::kHelo, {{"client.address", "[2001:db9::7]:25"}}).verdict,
            Verdict::kReject);
  // Not an address, or no address: the match fails even when negated (fail closed).
  const char* negated =
      "- {type: match, attribute: client.address, cidr: 10.0.0.0/8, negate: true}";
  EXPECT_EQ(run(negated, Command::kHelo, {{"client.address", "192.0.2.1:1"}}).verdict,
            Verdict::kContinue);
  auto d = run(negated, Command::kHelo, {{"client.address", "not-an-ip"}});
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_NE(d.reason.find("cannot be decided"), std::string::npos);
  EXPECT_EQ(run(negated, Command::kHelo, {}).verdict, Verdict::kReject);
}

// ---- HELO greeting -------------------------------------------------------------------------

TEST(Evaluate, HeloGreetingFromTheDefaultTemplate) {
  Attributes a{{"smtp.helo.domain", "client.example"}};
  auto d = run("- type: \"true\"", Command::kHelo, a);
  EXPECT_EQ(d.changes, (Attributes{{"smtp.helo.greeting", "Hello client.example"}}));
}

TEST(Evaluate, HeloGreetingFromTheHandlerTemplateIsNotReExpanded) {
  Attributes a{{"smtp.helo.domain", "${smtp.helo.greeting}"},
               {"smtp.helo.greeting", "Hi ${smtp.helo.domain}, from ${message.source}"},
               {"message.source", "2525"}};
  auto d = run("", Command::kHelo, a);
  EXPECT_EQ(d.changes.at("smtp.helo.greeting"), "Hi ${smtp.helo.greeting}, from 2525");
}

TEST(Evaluate, HeloPolicyRewritesGreetingAndDomain) {
  Attributes a{{"smtp.helo.domain", "laptop"}, {"smtp.helo.greeting", "Hello ${smtp.helo.domain}"}};
  auto d = run(R"(
- {type: set_attribute, attribute: smtp.helo.domain, value: "relay.example.com"}
- {type: set_attribute, attribute: smtp.helo.greeting, value: "Welcome ${smtp.helo.domain}"}
)",
               Command::kHelo, a);
  EXPECT_EQ(d.verdict, Verdict::kContinue);
  EXPECT_EQ(d.changes, (Attributes{{"smtp.helo.domain", "relay.example.com"},
                                   {"smtp.helo.greeting", "Welcome relay.example.com"}}));
}

TEST(Evaluate, HeloGreetingIsReportedEvenOnReject) {
  auto d = run("- type: \"false\"", Command::kHelo, {{"smtp.helo.domain", "x"}});
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.changes.at("smtp.helo.greeting"), "Hello x");
}

TEST(Evaluate, GreetingIsOnlyTouchedForHelo) {
  auto d = run("- type: \"true\"", Command::kMail, {{"smtp.helo.greeting", "${x}"}});
  EXPECT_TRUE(d.changes.empty());
}

// ---- attribute_authentication --------------------------------------------------------------

class AuthenticationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    alice_hash_ = new std::string(hash_password("wonderland", kTestArgon2Cost).value());
    juergen_hash_ =
        new std::string(hash_password("p\xc3\xa4ssword", kTestArgon2Cost).value());
  }
  static void TearDownTestSuite() {
    delete alice_hash_;
    delete juergen_hash_;
  }

  Decision authenticate(Attributes attributes,
                        std::string_view yaml = "- type: attribute_authentication") {
    // "jürgen" (NFC, as the repository stores it) with the password "pässword" (NFC).
    const MapUserDirectory users({{"alice", *alice_hash_},
                                  {"broken", "not-a-hash"},
                                  {"j\xc3\xbcrgen", *juergen_hash_}});
    auto policy = compile(yaml);
    attributes_ = std::move(attributes);
    return evaluate(*policy, Command::kAuth, attributes_, users, nullptr);
  }

  static std::string* alice_hash_;
  static std::string* juergen_hash_;
  Attributes attributes_;
};
std::string* AuthenticationTest::alice_hash_ = nullptr;
std::string* AuthenticationTest::juergen_hash_ = nullptr;

// RFC 4616 §2 / RFC 4013: a client's name and password are compared in SASLprep form, so
// the NFD spelling a Mac keyboard sends finds the user and the password (probe round 45).
TEST_F(AuthenticationTest, NamesAndPasswordsCompareInSaslprepForm) {
  const std::string nfc_name = "j\xc3\xbcrgen", nfd_name = "ju\xcc\x88rgen";
  const std::string nfc_password = "p\xc3\xa4ssword", nfd_password = "pa\xcc\x88ssword";
  for (const auto& name : {nfc_name, nfd_name}) {
    for (const auto& password : {nfc_password, nfd_password}) {
      auto d = authenticate(
          {{"authentication.subject.id", name}, {"authentication.subject.password", password}});
      EXPECT_EQ(d.verdict, Verdict::kContinue) << name << " / " << password << ": " << d.reason;
    }
    // The authorization identity in another spelling is the same identity.
    auto d = authenticate({{"authentication.subject.id", nfc_name},
                           {"authentication.authorization.id", nfd_name},
                           {"authentication.subject.password", nfc_password}});
    EXPECT_EQ(d.verdict, Verdict::kContinue) << d.reason;
  }
  // A soft hyphen is mapped to nothing; other letters are another password.
  EXPECT_EQ(authenticate({{"authentication.subject.id", "alice"},
                          {"authentication.subject.password", "wonder\xc2\xadland"}})
                .verdict,
            Verdict::kContinue);
  EXPECT_EQ(authenticate({{"authentication.subject.id", nfc_name},
                          {"authentication.subject.password", "passw\xc3\xb6rd"}})
                .verdict,
            Verdict::kReject);
}

TEST_F(AuthenticationTest, RightPasswordPasses) {
  auto d = authenticate(
      {{"authentication.subject.id", "alice"}, {"authentication.subject.password", "wonderland"}});
  EXPECT_EQ(d.verdict, Verdict::kContinue) << d.reason;
  EXPECT_TRUE(d.changes.empty());
}

TEST_F(AuthenticationTest, WrongPasswordGets535) {
  auto d = authenticate(
      {{"authentication.subject.id", "alice"}, {"authentication.subject.password", "Wonderland"}});
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.reply.code, 535u);
  EXPECT_EQ(d.reply.enhanced_code, "5.7.8");
  EXPECT_NE(d.reason.find("wrong password"), std::string::npos);
  EXPECT_EQ(d.reason.find("Wonderland"), std::string::npos);
}

TEST_F(AuthenticationTest, UnknownUserSpendsAVerification) {
  const auto start = std::chrono::steady_clock::now();
  auto d = authenticate(
      {{"authentication.subject.id", "mallory"}, {"authentication.subject.password", "guess"}});
  const auto spent = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.reply.code, 535u);
  EXPECT_NE(d.reason.find("unknown user"), std::string::npos);
  // The dummy verification runs at the default cost (64 MiB, 2 passes): far above 10 ms.
  EXPECT_GE(spent, std::chrono::milliseconds(10));
}

TEST_F(AuthenticationTest, MalformedStoredHashFails) {
  auto d = authenticate(
      {{"authentication.subject.id", "broken"}, {"authentication.subject.password", "not-a-hash"}});
  EXPECT_EQ(d.verdict, Verdict::kReject);
}

TEST_F(AuthenticationTest, EmptyIdentityOrPasswordFails) {
  EXPECT_NE(authenticate({{"authentication.subject.password", "wonderland"}})
                .reason.find("empty authentication identity"),
            std::string::npos);
  EXPECT_NE(authenticate({{"authentication.subject.id", ""},
                          {"authentication.subject.password", "wonderland"}})
                .reason.find("empty authentication identity"),
            std::string::npos);
  EXPECT_NE(authenticate({{"authentication.subject.id", "alice"}}).reason.find("empty password"),
            std::string::npos);
}

TEST_F(AuthenticationTest, ControlCharactersFail) {
  auto d = authenticate({{"authentication.subject.id", "alice\r\n"},
                         {"authentication.subject.password", "wonderland"}});
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_NE(d.reason.find("control character"), std::string::npos);
  d = authenticate({{"authentication.subject.id", std::string("ali\0ce", 6)},
                    {"authentication.subject.password", "wonderland"}});
  EXPECT_EQ(d.verdict, Verdict::kReject);
  d = authenticate({{"authentication.subject.id", "alice"},
                    {"authentication.authorization.id", "bob\x01"},
                    {"authentication.subject.password", "wonderland"}},
                   "- {type: attribute_authentication, allow_authorization_id: true}");
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_NE(d.reason.find("authorization identity"), std::string::npos);
  // Probe round 23: NEL (U+0085) and U+2028 in an allowed authorization identity passed.
  for (const char* control : {"\xc2\x85", "\xe2\x80\xa8", "\xe2\x80\xae", "\xc2\x9b"}) {
    d = authenticate({{"authentication.subject.id", "alice"},
                      {"authentication.authorization.id", std::string("bob") + control},
                      {"authentication.subject.password", "wonderland"}},
                     "- {type: attribute_authentication, allow_authorization_id: true}");
    EXPECT_EQ(d.verdict, Verdict::kReject) << control;
    EXPECT_NE(d.reason.find("authorization identity"), std::string::npos);
    d = authenticate({{"authentication.subject.id", std::string("alice") + control},
                      {"authentication.subject.password", "wonderland"}});
    EXPECT_NE(d.reason.find("control character"), std::string::npos) << control;
  }
  // Letters of other scripts are no control characters.
  d = authenticate({{"authentication.subject.id", "alice"},
                    {"authentication.authorization.id", "j\xc3\xbcrgen"},
                    {"authentication.subject.password", "wonderland"}},
                   "- {type: attribute_authentication, allow_authorization_id: true}");
  EXPECT_EQ(d.verdict, Verdict::kContinue) << d.reason;
}

TEST_F(AuthenticationTest, AuthorizationIdentityRules) {
  const Attributes same{{"authentication.subject.id", "alice"},
                        {"authentication.authorization.id", "alice"},
                        {"authentication.subject.password", "wonderland"}};
  EXPECT_EQ(authenticate(same).verdict, Verdict::kContinue);
  Attributes other = same;
  other["authentication.authorization.id"] = "bob";
  auto d = authenticate(other);
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_NE(d.reason.find("authorization identity differs"), std::string::npos);
  EXPECT_EQ(authenticate(other, "- {type: attribute_authentication, allow_authorization_id: true}")
                .verdict,
            Verdict::kContinue);
  // A wrong password is still wrong when another identity is allowed.
  other["authentication.subject.password"] = "nope";
  EXPECT_EQ(authenticate(other, "- {type: attribute_authentication, allow_authorization_id: true}")
                .verdict,
            Verdict::kReject);
}

TEST_F(AuthenticationTest, PasswordIsNeverReported) {
  auto d = authenticate(
      {{"authentication.subject.id", "alice"}, {"authentication.subject.password", "wonderland"}},
      R"(
- type: attribute_authentication
- {type: set_attribute, attribute: note, value: "[${authentication.subject.id}]"}
)");
  EXPECT_EQ(d.verdict, Verdict::kContinue);
  EXPECT_EQ(d.changes, (Attributes{{"note", "[alice]"}}));
}

// ---- DATA ----------------------------------------------------------------------------------

const std::string kPlain =
    "Received: from c by gw\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; h=from:subject; b=abc\r\n"
    "From: alice@example.com\r\n"
    "Subject: hello\r\n"
    "X-Spam: yes\r\n"
    "\tcontinued\r\n"
    "\r\n"
    "Hello world.\r\n"
    "..not stuffed here\r\n";

TEST(EvaluateData, NothingChangedMeansByteExact) {
  for (const char* yaml :
       {"- type: \"true\"", "- {type: body_match, regex: world}",
        "- {type: remove_header, name: X-Not-There}",
        "- {type: set_attribute, attribute: content.body, value: \"${content.body}\"}",
        "- {type: max_size, bytes: 100000}"}) {
    std::string message = kPlain;
    auto d = run_data(yaml, message);
    EXPECT_EQ(d.verdict, Verdict::kContinue) << yaml << ": " << d.reason;
    EXPECT_FALSE(d.message_replaced) << yaml;
    EXPECT_EQ(message, kPlain) << yaml;
  }
}

TEST(EvaluateData, NothingRemovedFromAMessageWithoutAnEmptyLineMeansByteExact) {
  // Probe round 17: without the empty line after the header block, a remove_header that
  // matched nothing still added one.
  for (const std::string& original :
       {std::string("hello world\r\nsecond\r\n"), std::string(".\r\n.\r\n"),
        std::string("Subject: x\r\nnot a header\r\n")}) {
    std::string message = original;
    auto d = run_data("- {type: remove_header, name: X-Remove}", message);
    EXPECT_EQ(d.verdict, Verdict::kContinue) << original << ": " << d.reason;
    EXPECT_FALSE(d.message_replaced) << original;
    EXPECT_EQ(message, original);
  }
  // A field after a line that is no field: readers differ on whether it is a header, so
  // whether remove_header must take it: refused, fail closed (probe round 20).
  for (const std::string& original : {std::string("just text\r\nX-Remove: 1\r\n"),
                                      std::string("Subject: x\r\nnot a header\r\nX-Remove: 1\r\n")}) {
    std::string message = original;
    auto d = run_data("- {type: remove_header, name: X-Remove}", message);
    EXPECT_EQ(d.verdict, Verdict::kReject) << original;
    EXPECT_EQ(d.reply.code, 554u) << original;
    EXPECT_EQ(d.reply.enhanced_code, "5.6.0") << original;
    EXPECT_EQ(message, original);
  }
  // A field that is removed still gives a separated body.
  std::string message = "X-Remove: 1\r\nSubject: x\r\nnot a header\r\n";
  auto d = run_data("- {type: remove_header, name: X-Remove}", message);
  EXPECT_TRUE(d.message_replaced);
  EXPECT_EQ(message, "Subject: x\r\n\r\nnot a header\r\n");
}

TEST(EvaluateData, AddAndRemoveHeaders) {
  std::string message = kPlain;
  Attributes a{{"smtp.mail.from", "alice@example.com"}};
  auto d = run_data(R"(
- {type: add_header, name: X-Gateway, value: "checked ${smtp.mail.from}"}
- {type: remove_header, name: x-spam}
)",
                    message, a);
  EXPECT_EQ(d.verdict, Verdict::kContinue) << d.reason;
  EXPECT_TRUE(d.message_replaced);
  EXPECT_EQ(message,
            "X-Gateway: checked alice@example.com\r\n"
            "Received: from c by gw\r\n"
            "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; h=from:subject; b=abc\r\n"
            "From: alice@example.com\r\n"
            "Subject: hello\r\n"
            "\r\n"
            "Hello world.\r\n"
            "..not stuffed here\r\n");
}

TEST(EvaluateData, AddedHeaderValuesAreOneLine) {
  std::string message = kPlain;
  auto d = run_data("- {type: add_header, name: X-Echo, value: \"${smtp.mail.from}\"}", message,
                    {{"smtp.mail.from", "a\r\nBcc: victim@example.org"}});
  EXPECT_TRUE(d.message_replaced);
  EXPECT_EQ(message.rfind("X-Echo: a??Bcc: victim@example.org\r\nReceived:", 0), 0u) << message;
}

TEST(EvaluateData, AddedFieldNeverAbsorbsTheClientsLeadingLines) {
  // A first line that starts with whitespace (or an mbox "From " line) starts no field:
  // prepended above it, the gateway's field would take it as a continuation and a reader
  // would see "yes ; spam=no verdict=clean" (RFC 5322 §2.2.3; probe round 12).
  for (const std::string& lead : {std::string(" ; spam=no verdict=clean\r\n"),
                                  std::string("\tverdict=clean\r\n"),
                                  std::string("From mallory@example.org Mon Jan  1 00:00:00 2024\r\n")}) {
    std::string message = lead + "Subject: x\r\n\r\nbody\r\n";
    auto d = run_data("- {type: add_header, name: X-Checked, value: \"yes\"}", message);
    EXPECT_EQ(d.verdict, Verdict::kContinue) << d.reason;
    EXPECT_EQ(message, lead + "X-Checked: yes\r\nSubject: x\r\n\r\nbody\r\n");
  }
}

TEST(EvaluateData, AddedFieldIsFollowedByTheEmptyLineWhenTheMessageHadNone) {
  // RFC 5322 §2.1: fields, an empty line, the body. Without it the body would become part
  // of the header section (probe round 12).
  struct Case {
    std::string in, out;
  };
  for (const Case& c : {Case{"hello world\r\n", "X-Checked: yes\r\n\r\nhello world\r\n"},
                        Case{"Subject: x\r\nhello world\r\n",
                             "X-Checked: yes\r\nSubject: x\r\n\r\nhello world\r\n"},
                        Case{"Subject: x\r\n", "X-Checked: yes\r\nSubject: x\r\n"},
                        Case{"", "X-Checked: yes\r\n"}}) {
    std::string message = c.in;
    auto d = run_data("- {type: add_header, name: X-Checked, value: \"yes\"}", message);
    EXPECT_EQ(d.verdict, Verdict::kContinue) << d.reason;
    EXPECT_EQ(message, c.out) << testing::PrintToString(c.in);
  }
}

TEST(EvaluateData, RejectedMessagesAreNotEdited) {
  std::string message = kPlain;
  auto d = run_data("- {type: add_header, name: X-A, value: b}\n- type: \"false\"", message);
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.reply.code, 554u);
  EXPECT_FALSE(d.message_replaced);
  EXPECT_EQ(message, kPlain);
}

TEST(EvaluateData, BodyMatchSeesTheDecodedBody) {
  const std::string virus = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
  const std::string message =
      "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
      base64_encode(virus);
  const char* yaml = "- {type: body_match, regex: 'EICAR-STANDARD', negate: true}";
  std::string m = message;
  auto d = run_data(yaml, m);
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.reply.code, 554u);
  std::string clean = "Subject: x\r\n\r\nharmless\r\n";
  EXPECT_EQ(run_data(yaml, clean).verdict, Verdict::kContinue);
  std::string w = kPlain;
  EXPECT_EQ(run_data("- {type: body_match, wildcard: '*WORLD*'}", w).verdict, Verdict::kContinue);
  EXPECT_EQ(run_data("- {type: body_match, wildcard: 'WORLD'}", w).verdict, Verdict::kReject);
}

// Probe round 22: a uuencoded or yEnc block in a text body is an attachment to Mozilla's
// libmime; body_match sees its decoded octets, and a policy that rewrites the body refuses
// such a message rather than write the block back decoded.
TEST(EvaluateData, BodyMatchSeesUuencodedAndYencBlocks) {
  const std::string uuencoded =
      "begin 644 eicar.com\r\n"
      "M6#5/(5 E0$%06S1<4%I8-30H4%XI-T-#*3=])$5)0T%2+5-404Y$05)$+4%.\r\n"
      "75$E625)54RU415-4+49)3$4A)$@K2\"H \r\n"
      "`\r\n"
      "end\r\n";
  const char* yaml = "- {type: body_match, regex: 'EICAR-STANDARD', negate: true}";
  for (const std::string& message : std::vector<std::string>{
           "Subject: x\r\n\r\nsee attached\r\n" + uuencoded,
           "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: text\r\n\r\n" + uuencoded,
           "Subject: x\r\n\r\n" + uuencoded.substr(0, uuencoded.size() - 5)}) {  // no "end"
    std::string m = message;
    EXPECT_EQ(run_data(yaml, m).verdict, Verdict::kReject) << message;
  }
  // yEnc: "EICAR-STANDARD" with every octet + 42, and an escaped critical character.
  std::string encoded;
  for (const char c : std::string("xx EICAR-STANDARD yy")) encoded += static_cast<char>(c + 42);
  std::string y = "Subject: x\r\n\r\n=ybegin line=128 size=21 name=a.com\r\n" + encoded +
                  "=@\r\n=yend size=21\r\n";
  EXPECT_EQ(run_data(yaml, y).verdict, Verdict::kReject);
  // Rewriting the body of such a message: refused, 554 5.6.0.
  std::string m = "Subject: x\r\n\r\n" + uuencoded;
  auto d = run_data("- {type: set_attribute, attribute: content.body, value: '[x] ${content.body}'}", m);
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.reply.enhanced_code, "5.6.0");
  // Text that only looks like the start of a block stays text.
  std::string plain = "Subject: x\r\n\r\nbegin here, then end\r\nbegin 9999 x\r\n";
  EXPECT_EQ(run_data(yaml, plain).verdict, Verdict::kContinue);
}

// Probe round 23: quoted-printable was scanned raw, so "EICAR=2DSTANDARD" or a soft line
// break inside the word passed a body_match that every mail reader would have matched.
TEST(EvaluateData, BodyMatchSeesDecodedQuotedPrintable) {
  const char* yaml = "- {type: body_match, regex: 'EICAR-STANDARD', negate: true}";
  const std::string qp_part = "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
  for (const std::string text : {"X5O!P EICAR=2DSTANDARD=2DANTIVIRUS\r\n",
                                 "X5O!P EICAR-STAN=\r\nDARD-ANTIVIRUS\r\n",
                                 "X5O!P =45=49=43=41=52-STANDARD\r\n"}) {
    std::string single = "Subject: x\r\nMIME-Version: 1.0\r\n" + qp_part + text;
    EXPECT_EQ(run_data(yaml, single).verdict, Verdict::kReject) << text;
    std::string multi = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
                        "--b\r\nContent-Type: text/plain\r\n\r\nclean\r\n--b\r\n"
                        "Content-Type: text/plain\r\n" + qp_part + text + "--b--\r\n";
    EXPECT_EQ(run_data(yaml, multi).verdict, Verdict::kReject) << text;
  }
  // A rewritten quoted-printable body is encoded again: "=" and 8-bit octets escaped.
  std::string m = "Subject: x\r\n" + qp_part + "a=3Db caf=C3=A9\r\n";
  auto d = run_data("- {type: set_attribute, attribute: content.body, value: '[x] ${content.body}'}", m);
  ASSERT_TRUE(d.message_replaced) << d.reason;
  EXPECT_NE(m.find("\r\n\r\n[x] a=3Db caf=C3=A9\r\n"), std::string::npos) << m;
}

// Probe round 23: raw text labelled "base64 " (trailing space) or with the label folded
// onto a second line: most readers trim and decode it to garbage (as the gateway did, and
// passed it), Python's email package shows the raw text. The policy now sees both.
TEST(EvaluateData, BodyMatchSeesRawTextOfEncodingsSomeReadersDoNotRecognise) {
  const char* yaml = "- {type: body_match, regex: 'EICAR-STANDARD', negate: true}";
  const std::string virus = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*\r\n";
  for (const std::string cte : {"base64 ", "base64\t", "\r\n base64", "base64\r\n ",
                                "quoted-printable "}) {
    std::string single = "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: " +
                         cte + "\r\n\r\n" + virus;
    EXPECT_EQ(run_data(yaml, single).verdict, Verdict::kReject) << testing::PrintToString(cte);
    std::string multi = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nclean\r\n"
                        "--b\r\nContent-Transfer-Encoding: " + cte + "\r\n\r\n" + virus + "--b--\r\n";
    EXPECT_EQ(run_data(yaml, multi).verdict, Verdict::kReject) << testing::PrintToString(cte);
  }
  // The same text with a plain label is decoded only (to garbage), as every reader does.
  std::string plain = "Content-Transfer-Encoding: base64\r\n\r\n" + virus;
  EXPECT_EQ(run_data(yaml, plain).verdict, Verdict::kContinue);
  // Clean content with a trailing space in the label still passes (BR-28: trimmed).
  std::string clean = "Content-Transfer-Encoding: base64  \r\n\r\n" + base64_encode("harmless\r\n");
  EXPECT_EQ(run_data(yaml, clean).verdict, Verdict::kContinue);
  // Rewriting such a body would write the raw text back: refused, 554 5.6.0.
  std::string m = "Content-Transfer-Encoding: base64 \r\n\r\n" + base64_encode("hello\r\n");
  auto d = run_data("- {type: set_attribute, attribute: content.body, value: '[x] ${content.body}'}", m);
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.reply.enhanced_code, "5.6.0");
}

// Probe round 25: a text part in UTF-16 or UTF-7 shows "SECRETMARK" in every reader
// (Python's get_content() decodes by charset), but its octets never match an ASCII pattern.
TEST(EvaluateData, BodyMatchSeesTextInCharsetsThatAreNotAsciiCompatible) {
  const char* yaml = "- {type: body_match, regex: 'SECRETMARK', negate: true}";
  const std::string utf16("\xff\xfeS\0E\0C\0R\0E\0T\0M\0A\0R\0K\0", 22);
  for (const std::string& part :
       {"Content-Type: text/plain; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
            base64_encode(utf16),
        std::string("Content-Type: text/plain; charset=utf-7\r\n\r\nhello +AFM-ECRETMARK\r\n"),
        std::string("Content-Type: text/plain; charset=\"UTF-7\"\r\n"
                    "Content-Transfer-Encoding: quoted-printable\r\n\r\n+AFM-ECRET=\r\nMARK\r\n")}) {
    std::string single = "Subject: x\r\nMIME-Version: 1.0\r\n" + part;
    EXPECT_EQ(run_data(yaml, single).verdict, Verdict::kReject) << part;
    std::string multi = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nclean\r\n--b\r\n" +
                        part + "\r\n--b--\r\n";
    EXPECT_EQ(run_data(yaml, multi).verdict, Verdict::kReject) << part;
  }
  // Clean UTF-16 text passes; so does Latin-1 text (ASCII-compatible: nothing added).
  std::string clean = "Content-Type: text/plain; charset=utf-16\r\n"
                      "Content-Transfer-Encoding: base64\r\n\r\n" +
                      base64_encode(std::string("\xff\xfeh\0i\0", 6));
  EXPECT_EQ(run_data(yaml, clean).verdict, Verdict::kContinue);
  std::string latin1 = "Content-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9\r\n";
  EXPECT_EQ(run_data(yaml, latin1).verdict, Verdict::kContinue);
}

TEST(MimeInline, DecodesUuencodeAndYenc) {
  EXPECT_EQ(inline_attachment_octets("begin 644 a\r\n#86)C\r\n`\r\nend\r\n"), "abc");
  EXPECT_EQ(inline_attachment_octets("begin 0644 a\n#86)C\nend\n"), "abc");  // 4 digits, LF
  // A bare "=yend" ends nothing for libmime: it is data (decoded to garbage after "ab").
  EXPECT_EQ(inline_attachment_octets("=ybegin line=128 size=2 name=a\r\n\x8b\x8c\r\n=yend\r\n").substr(0, 2),
            "ab");
  EXPECT_EQ(inline_attachment_octets("=ybegin line=128 size=2 name=a\r\n\x8b\x8c\r\n=yend size=2\r\n"),
            "ab");
  EXPECT_EQ(inline_attachment_octets("=ybegin size=1 name=a\r\n=@\r\n=yend size=1\r\n"),
            std::string(1, '\xd6'));
  EXPECT_EQ(inline_attachment_octets("plain text\r\nbegin 64 x\r\n#86)C\r\n"), "");
}

// Probe round 27: Mozilla's libmime (mimeunty.cpp) rules, each of which hid an attachment
// Thunderbird opens: a begin line of either kind starts a block whatever is open, uuencode
// ends at any line starting with "end", yEnc only at "=yend ... size=", "=ypart" lines are
// data, "begin 644 " needs no file name.
TEST(MimeInline, FollowsLibmimeBlockRules) {
  const std::string uu_abc = "#86)C\r\n`\r\n";
  const std::string ye_ab = "\x8b\x8c\r\n";
  // yEnc begin inside an open uuencode block, and uuencode begin inside yEnc.
  EXPECT_NE(inline_attachment_octets("begin 644 a\r\n=ybegin line=128 size=2 name=s\r\n" + ye_ab +
                                     "=yend size=2\r\n").find("ab"),
            std::string::npos);
  EXPECT_EQ(inline_attachment_octets("=ybegin line=128 size=1 name=a\r\nbegin 644 s\r\n" + uu_abc +
                                     "end\r\n"),
            "abc");
  // "end " (trailing space) ends uuencode; a yEnc block after it is decoded.
  EXPECT_EQ(inline_attachment_octets("begin 644 a\r\n" + uu_abc + "end \r\n=ybegin size=2 name=b\r\n" +
                                     ye_ab + "=yend size=2\r\n"),
            "abcab");
  // "=yend crc32=..." without size= is data: the lines after it are still decoded.
  EXPECT_NE(inline_attachment_octets("=ybegin size=2 name=b\r\n=yend crc32=0\r\n" + ye_ab +
                                     "=yend size=2\r\n").find("ab"),
            std::string::npos);
  // "=ypart" lines are decoded as data; "begin 644 " with no name starts a block.
  EXPECT_NE(inline_attachment_octets("=ybegin size=2 name=b\r\n=ypart " + ye_ab + "=yend size=2\r\n")
                .find("ab"),
            std::string::npos);
  EXPECT_EQ(inline_attachment_octets("begin 644 \r\n" + uu_abc + "end\r\n"), "abc");
}

// Probe round 27: leaves were glued together, so "^MARK" or "\bMARK" starting a second
// part never matched, "SECRET" + "MARK" across two parts did, and a uuencode block
// starting an attached message's body was not a begin line.
TEST(EvaluateData, EachPartStartsALineAndItsOwnInlineBlocks) {
  const std::string head = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n";
  std::string second = head + "--b\r\n\r\nhello\r\n--b\r\n\r\nSECRETMARK is here\r\n--b--\r\n";
  EXPECT_EQ(run_data("- {type: body_match, regex: '(?m)^SECRETMARK', negate: true}", second).verdict,
            Verdict::kReject);
  EXPECT_EQ(run_data("- {type: body_match, regex: '\\bSECRETMARK\\b', negate: true}", second).verdict,
            Verdict::kReject);
  std::string split = head + "--b\r\n\r\nthe word is SECRET\r\n--b\r\n\r\nMARK my words\r\n--b--\r\n";
  EXPECT_EQ(run_data("- {type: body_match, regex: 'SECRETMARK', negate: true}", split).verdict,
            Verdict::kContinue);
  // "begin 644 s" first in an attached message after a text part: a uuencoded "MARK".
  std::string attached = head + "--b\r\n\r\nhello\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"
                                "Subject: inner\r\n\r\nbegin 644 s.txt\r\n$34%22P``\r\n`\r\nend\r\n--b--\r\n";
  EXPECT_EQ(run_data("- {type: body_match, regex: 'MARK', negate: true}", attached).verdict,
            Verdict::kReject);
  // A block left open at the end of one part does not swallow the next part's yEnc.
  std::string carried = head + "--b\r\nContent-Type: application/octet-stream\r\n\r\nbegin 644 x\r\n"
                               "--b\r\nContent-Type: text/plain\r\n\r\n=ybegin size=3 name=y\r\n"
                               "wku\r\n=yend size=3\r\n--b--\r\n";
  EXPECT_EQ(run_data("- {type: body_match, regex: 'MAK', negate: true}", carried).verdict,
            Verdict::kReject);
}

TEST(EvaluateData, BodyMatchSeesAttachmentsBehindParenthesisedBoundariesBR25) {
  std::string message =
      "Content-Type: multipart/mixed; boundary=\"q=(x)Z9\"\r\n"
      "\r\n"
      "--q=(x)Z9\r\n"
      "Content-Type: text/plain\r\n"
      "\r\n"
      "hello\r\n"
      "--q=(x)Z9\r\n"
      "Content-Type: application/x-msdownload; name=\"tool.exe\"\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "\r\n"
      "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
      "--q=(x)Z9--\r\n";
  const std::string original = message;
  auto d = run_data("- {type: body_match, regex: 'MZ\\x90', negate: true}", message);
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.reply, (SmtpReply{554, "5.7.1", default_reply(Command::kData).text}));
  EXPECT_EQ(message, original);
}

TEST(EvaluateData, BodyMatchDecodesAcrossMidStreamPaddingBR28) {
  std::string message =
      "Content-Type: application/octet-stream; name=\"x.bin\"\r\n"
      "Content-Transfer-Encoding: base64  \r\n"
      "\r\n"
      "QUJDRA==\r\nRUZHSA==\r\nSUpL TE1O\r\nT1BR\r\n" +
      base64_encode("hidden payload", 0) + "\r\n";
  auto d = run_data("- {type: body_match, regex: 'hidden payload', negate: true}", message);
  EXPECT_EQ(d.verdict, Verdict::kReject) << "the part after the first padding is scanned too";
}

TEST(EvaluateData, MaxSize) {
  std::string message = kPlain;
  EXPECT_EQ(
      run_data("- {type: max_size, bytes: " + std::to_string(kPlain.size()) + "}", message).verdict,
      Verdict::kContinue);
  auto d = run_data("- {type: max_size, bytes: " + std::to_string(kPlain.size() - 1) + "}", message,
                    {}, "552 5.3.4 Message too big");
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.reply, (SmtpReply{552, "5.3.4", "Message too big"}));
  EXPECT_EQ(run("- {type: max_size, bytes: 1}", Command::kMail).verdict, Verdict::kContinue);
}

TEST(EvaluateData, ChangedBodyOfABase64PartIsReEncoded) {
  std::string message =
      "Subject: b64\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64_encode("original");
  const std::string new_body(200, 'n');
  auto d = run_data("- {type: set_attribute, attribute: content.body, value: '" + new_body + "'}",
                    message);
  EXPECT_EQ(d.verdict, Verdict::kContinue) << d.reason;
  EXPECT_TRUE(d.message_replaced);
  EXPECT_TRUE(d.changes.empty()) << "content.body travels as the message, not as a change";
  const std::string prefix = "Subject: b64\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  ASSERT_EQ(message.rfind(prefix, 0), 0u);
  const std::string body = message.substr(prefix.size());
  EXPECT_EQ(body, base64_encode(new_body));
  EXPECT_EQ(body.find("\r\n"), 76u);
  EXPECT_EQ(base64_decode(body), new_body);
}

TEST(EvaluateData, ChangedBase64TextKeepsCrlfLineEnds) {
  // Probe round 40: a footer with "\n" line ends went into a base64 text part as bare LFs
  // (text is encoded in its canonical CRLF form, RFC 2045 §6.8). Other media keep octets.
  const std::string yaml =
      "- {type: set_attribute, attribute: content.body, value: \"${content.body}-- \\nfooter\\n\"}";
  std::string text = "Subject: s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: base64\r\n\r\n" +
                     base64_encode("line1\r\nline2\r\n");
  auto d = run_data(yaml, text);
  ASSERT_EQ(d.verdict, Verdict::kContinue) << d.reason;
  const std::size_t body_at = text.find("\r\n\r\n") + 4;
  EXPECT_EQ(base64_decode(text.substr(body_at)), "line1\r\nline2\r\n-- \r\nfooter\r\n");
  std::string binary = "Subject: s\r\nContent-Type: application/octet-stream\r\n"
                       "Content-Transfer-Encoding: base64\r\n\r\n" + base64_encode("a\nb");
  d = run_data("- {type: set_attribute, attribute: content.body, value: \"x\\ny\"}", binary);
  ASSERT_EQ(d.verdict, Verdict::kContinue) << d.reason;
  EXPECT_EQ(base64_decode(binary.substr(binary.find("\r\n\r\n") + 4)), "x\ny");
}

TEST(EvaluateData, ChangedBodyOfATextPartIsPutAsIs) {
  std::string message = kPlain;
  auto d = run_data(R"(
- {type: set_attribute, attribute: content.body, value: "[${content.body}]\nsigned"}
)",
                    message);
  EXPECT_TRUE(d.message_replaced) << d.reason;
  const std::string headers = kPlain.substr(0, kPlain.find("\r\n\r\n") + 4);
  EXPECT_EQ(message, headers + "[Hello world.\r\n..not stuffed here\r\n]\r\nsigned\r\n");
}

TEST(EvaluateData, ChangedTextBodyWithAnOverlongLineIsSentBase64BR13) {
  // A rewrite may create a line over 998 octets; the relay must never emit one (BR-13).
  std::string message = "Subject: t\r\nContent-Type: text/plain\r\n"
                        "Content-Transfer-Encoding: 7bit\r\n\r\n" +
                        std::string(990, 'y') + "\r\nend\r\n";
  auto d = run_data(R"(
- {type: set_attribute, attribute: content.body, value: "[EXTERNAL] ${content.body}"}
)",
                    message);
  EXPECT_EQ(d.verdict, Verdict::kContinue) << d.reason;
  ASSERT_TRUE(d.message_replaced);
  const std::size_t split = message.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos);
  const std::string headers = message.substr(0, split + 2);
  const std::string body = message.substr(split + 4);
  EXPECT_EQ(find_header(headers, "Content-Transfer-Encoding"), "base64") << headers;
  EXPECT_EQ(headers.find("7bit"), std::string::npos) << "the old encoding field is gone";
  EXPECT_EQ(find_header(headers, "MIME-Version"), "1.0") << headers;
  EXPECT_EQ(find_header(headers, "Content-Type"), "text/plain");
  EXPECT_EQ(base64_decode(body), "[EXTERNAL] " + std::string(990, 'y') + "\r\nend\r\n");
  std::size_t start = 0;
  while (start < message.size()) {
    const std::size_t end = message.find("\r\n", start);
    ASSERT_NE(end, std::string::npos);
    EXPECT_LE(end - start, 998u);
    start = end + 2;
  }
}

TEST(EvaluateData, ChangedQuotedPrintableBodyKeepsItsEncodingAndGetsSoftBreaks) {
  // content.body of a quoted-printable part is the QP text itself: a long rewritten line is
  // wrapped with soft breaks, never relabelled base64 (probe round 4).
  std::string message = "Subject: t\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                        "caf=C3=A9 a=3Db " + std::string(975, 'x') + "\r\nsecond=\r\n line\r\n";
  auto d = run_data(R"(
- {type: set_attribute, attribute: content.body, value: "[EXTERNAL] ${content.body}"}
)",
                    message);
  ASSERT_TRUE(d.message_replaced) << d.reason;
  const std::size_t split = message.find("\r\n\r\n");
  const std::string headers = message.substr(0, split + 2);
  std::string body = message.substr(split + 4);
  EXPECT_EQ(find_header(headers, "Content-Transfer-Encoding"), "quoted-printable");
  std::size_t start = 0;
  while (start < body.size()) {
    const std::size_t end = body.find("\r\n", start);
    ASSERT_NE(end, std::string::npos);
    EXPECT_LE(end - start, 76u) << body.substr(start, end - start);
    start = end + 2;
  }
  // Removing the soft breaks gives back the rewritten QP text exactly.
  std::string unwrapped;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body.compare(i, 3, "=\r\n") == 0) {
      i += 2;
      continue;
    }
    unwrapped += body[i];
  }
  EXPECT_EQ(unwrapped, "[EXTERNAL] caf=C3=A9 a=3Db " + std::string(975, 'x') + "\r\nsecond line\r\n");
}

// Probe round 30 (BR-02): "=0D" and "=0A" decode to a lone CR and LF; a rewrite made every
// line end CRLF and so turned them into line breaks the client never sent. Such a body is
// not rewritten: 554 5.6.0. Without a rewrite, or with one that changes nothing, the
// message passes byte for byte.
TEST(EvaluateData, QuotedPrintableLoneCrOrLfIsNeverTurnedIntoALineBreak) {
  const std::string original = "Subject: q\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                               "keep=0Dthis=0Aone line\r\n";
  const std::string footer =
      "- {type: set_attribute, attribute: content.body, value: \"${content.body}-- footer\\n\"}";
  std::string message = original;
  auto d = run_data(footer, message);
  EXPECT_EQ(d.verdict, Verdict::kReject) << d.reason;
  EXPECT_EQ(d.reply.code, 554u);
  EXPECT_EQ(d.reply.enhanced_code, "5.6.0");
  EXPECT_FALSE(d.message_replaced);
  EXPECT_EQ(message, original);
  for (const std::string& policy :
       {std::string("- {type: body_match, regex: 'keep'}"),
        std::string("- {type: set_attribute, attribute: content.body, value: \"${content.body}\"}")}) {
    message = original;
    auto same = run_data(policy, message);
    EXPECT_EQ(same.verdict, Verdict::kContinue) << policy << ": " << same.reason;
    EXPECT_EQ(message, original) << policy;
  }
  // Encoded CRLF pairs are line breaks either way: the rewrite goes on.
  message = "Subject: q\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=0D=0Ab\r\n";
  auto pair = run_data(footer, message);
  EXPECT_EQ(pair.verdict, Verdict::kContinue) << pair.reason;
  EXPECT_TRUE(pair.message_replaced);
}

// Probe round 41 (BR-28): the same for a base64 text part: "YQ1iCmM=" is "a\rb\nc", and the
// rewrite came out "a\r\nb\r\nc". Refused as the quoted-printable twin is; a base64 part
// that is not text keeps its octets, so it is rewritten.
TEST(EvaluateData, Base64TextLoneCrOrLfIsNeverTurnedIntoALineBreak) {
  const std::string footer =
      "- {type: set_attribute, attribute: content.body, value: \"${content.body}-- footer\\n\"}";
  for (const char* type : {"text/plain; charset=utf-8", "text/html"}) {
    const std::string original = std::string("Content-Type: ") + type +
                                 "\r\nContent-Transfer-Encoding: base64\r\n\r\nYQ1iCmM=\r\n";
    std::string message = original;
    auto d = run_data(footer, message);
    EXPECT_EQ(d.verdict, Verdict::kReject) << type << ": " << d.reason;
    EXPECT_EQ(d.reply.code, 554u);
    EXPECT_EQ(d.reply.enhanced_code, "5.6.0");
    EXPECT_EQ(message, original);
  }
  std::string binary =
      "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "YQ1iCmM=\r\n";
  auto kept = run_data(footer, binary);
  EXPECT_EQ(kept.verdict, Verdict::kContinue) << kept.reason;
  ASSERT_TRUE(kept.message_replaced);
  EXPECT_EQ(base64_decode(binary.substr(binary.find("\r\n\r\n") + 4)), "a\rb\nc-- footer\n");
  // CRLF pairs are line breaks either way: the rewrite goes on.
  std::string pair =
      "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
      base64_encode("a\r\nb\r\n") + "\r\n";
  EXPECT_EQ(run_data(footer, pair).verdict, Verdict::kContinue);
}

// Probe round 30: a NUL a policy writes into the body ("\u0000" in a template) never goes
// out raw; the part is sent base64, like an over-long line.
TEST(EvaluateData, ANulThePolicyWritesIsSentBase64) {
  std::string message = "Subject: q\r\n\r\nhello\r\n";
  auto d = run_data(
      "- {type: set_attribute, attribute: content.body, value: \"${content.body}\\n\\u0000.\\nRSET\\n\"}",
      message);
  ASSERT_TRUE(d.message_replaced) << d.reason;
  EXPECT_EQ(message.find('\0'), std::string::npos);
  const std::size_t split = message.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos);
  EXPECT_EQ(find_header(message.substr(0, split + 2), "Content-Transfer-Encoding"), "base64");
  EXPECT_EQ(base64_decode(message.substr(split + 4)), std::string("hello\r\n\r\n\0.\r\nRSET\r\n", 19));
}

// True if no octet of `text` is above 127 (what a 7-bit transaction may carry).
bool seven_bit(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

TEST(EvaluateData, EightBitTextThePolicyAddsIsEncoded) {
  // A footer "grüße" must not leave in a part labelled 7bit (or unlabelled, 7bit by
  // default) or quoted-printable, nor reach an upstream without 8BITMIME (RFC 2045 §2.7,
  // §6.7; RFC 6152 §3; probe round 12).
  const std::string policy =
      "- {type: set_attribute, attribute: content.body, value: \"${content.body}-- gr\u00fc\u00dfe\\n\"}";
  {  // No MIME fields at all: base64, labelled UTF-8 text.
    std::string message = "Subject: x\r\n\r\nhello\r\n";
    auto d = run_data(policy, message);
    ASSERT_TRUE(d.message_replaced) << d.reason;
    EXPECT_TRUE(seven_bit(message)) << message;
    const std::size_t split = message.find("\r\n\r\n");
    const std::string headers = message.substr(0, split + 2);
    EXPECT_EQ(find_header(headers, "Content-Transfer-Encoding"), "base64") << headers;
    EXPECT_EQ(find_header(headers, "Content-Type"), "text/plain; charset=utf-8") << headers;
    EXPECT_EQ(find_header(headers, "MIME-Version"), "1.0") << headers;
    EXPECT_EQ(base64_decode(message.substr(split + 4)), "hello\r\n-- gr\xc3\xbc\xc3\x9f" "e\r\n");
  }
  {  // Labelled 7bit with a charset: base64, the operator's Content-Type kept.
    std::string message =
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 7bit\r\n\r\nhello\r\n";
    auto d = run_data(policy, message);
    ASSERT_TRUE(d.message_replaced) << d.reason;
    EXPECT_TRUE(seven_bit(message)) << message;
    EXPECT_EQ(message.find("7bit"), std::string::npos) << message;
    EXPECT_NE(message.find("Content-Type: text/plain; charset=utf-8\r\n"), std::string::npos);
  }
  {  // Quoted-printable: the 8-bit octets become =XX escapes, the encoding stays.
    std::string message =
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\nhello=20\r\n";
    auto d = run_data(policy, message);
    ASSERT_TRUE(d.message_replaced) << d.reason;
    EXPECT_TRUE(seven_bit(message)) << message;
    EXPECT_NE(message.find("\r\n\r\nhello=20\r\n-- gr=C3=BC=C3=9Fe\r\n"), std::string::npos)
        << message;
  }
  {  // Labelled 8bit in a BODY=8BITMIME transaction: the octets stay 8bit, and the UTF-8
     // text, which had no charset (US-ASCII), is labelled.
    std::string message = "Content-Transfer-Encoding: 8bit\r\n\r\nhello\r\n";
    auto d = run_data(policy, message, {}, "", /*eight_bit_allowed=*/true);
    ASSERT_TRUE(d.message_replaced) << d.reason;
    EXPECT_EQ(message, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                       "Content-Transfer-Encoding: 8bit\r\n\r\nhello\r\n-- gr\xc3\xbc\xc3\x9f"
                       "e\r\n");
  }
  // Labelled 8bit or binary, but the MAIL went upstream without BODY=8BITMIME (RFC 6152 §3;
  // probe round 41: the ASCII part came out with raw "grüße" in a 7-bit transaction): the
  // change goes base64, relabelled.
  for (const char* label : {"8bit", "binary", "8BIT"}) {
    std::string message = std::string("Content-Transfer-Encoding: ") + label + "\r\n\r\nhello\r\n";
    auto d = run_data(policy, message);
    ASSERT_TRUE(d.message_replaced) << d.reason;
    EXPECT_TRUE(seven_bit(message)) << message;
    const std::size_t split = message.find("\r\n\r\n");
    ASSERT_NE(split, std::string::npos);
    const std::string headers = message.substr(0, split + 2);
    EXPECT_EQ(find_header(headers, "Content-Transfer-Encoding"), "base64") << headers;
    EXPECT_EQ(headers.find("Content-Transfer-Encoding"), headers.rfind("Content-Transfer-Encoding"))
        << "one label: " << headers;
    EXPECT_EQ(base64_decode(message.substr(split + 4)), "hello\r\n-- gr\xc3\xbc\xc3\x9f" "e\r\n");
  }
}

// Probe round 32: a text part whose Content-Type has no charset parameter reads as US-ASCII
// (RFC 2046 §4.1.2), so UTF-8 a policy writes into it needs the label as much as a message
// without Content-Type does; a declared charset and a part that is not text stay as they are.
TEST(EvaluateData, UnlabelledTextGetsTheCharsetOfTheTextThePolicyWrites) {
  const std::string policy =
      "- {type: set_attribute, attribute: content.body, "
      "value: \"${content.body}-- gr\u00fc\u00dfe\\n\"}";
  struct Case {
    std::string in_headers;
    std::string content_type;  // expected afterwards
  };
  const Case cases[] = {
      {"Content-Type: text/html\r\n", "text/html; charset=utf-8"},
      {"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n",
       "text/plain; charset=utf-8"},
      {"Content-Type: text/plain; format=flowed\r\n"
       "Content-Transfer-Encoding: quoted-printable\r\n",
       "text/plain; format=flowed; charset=utf-8"},
      {"Content-Type: text/plain;\r\n", "text/plain; charset=utf-8"},
      {"Content-Type: text/plain; charset=iso-8859-1\r\n", "text/plain; charset=iso-8859-1"},
      // A charset without the footer's characters: the part becomes UTF-8, other
      // parameters kept.
      {"Content-Type: text/plain; charset=us-ascii\r\n", "text/plain; charset=utf-8"},
      {"Content-Type: text/plain; charset=\"US-ASCII\" (plain); format=flowed\r\n",
       "text/plain; format=flowed; charset=utf-8"},
      {"Content-Type: text/plain; charset=utf-8\r\n", "text/plain; charset=utf-8"},
      // An empty charset is still the message's own: not given a second one.
      {"Content-Type: text/plain; charset=\"\"\r\n", "text/plain; charset=\"\""},
      {"Content-Type: text/plain; charset*=''\r\n", "text/plain; charset*=''"},
  };
  for (const auto& c : cases) {
    const std::string body = c.in_headers.find("base64") != std::string::npos
                                 ? base64_encode("<p>hello</p>\r\n")
                                 : std::string("<p>hello</p>\r\n");
    std::string message = "MIME-Version: 1.0\r\n" + c.in_headers + "\r\n" + body;
    auto d = run_data(policy, message);
    ASSERT_TRUE(d.message_replaced) << c.in_headers << d.reason;
    const std::size_t split = message.find("\r\n\r\n");
    ASSERT_NE(split, std::string::npos);
    const std::string headers = message.substr(0, split + 2);
    EXPECT_EQ(find_header(headers, "Content-Type"), c.content_type) << headers;
    EXPECT_EQ(headers.find("Content-Type"), headers.rfind("Content-Type")) << headers;  // one
    EXPECT_TRUE(seven_bit(message)) << message;
  }
  // A part that is not text keeps its type.
  std::string message =
      "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
      base64_encode("data\r\n");
  auto d = run_data(policy, message);
  if (d.message_replaced) {
    EXPECT_EQ(find_header(message.substr(0, message.find("\r\n\r\n") + 2), "Content-Type"),
              "application/octet-stream")
        << message;
  }
}

// Probe round 42: no charset is US-ASCII (RFC 2046 §4.1.2), like an explicit one. Kept
// octets that are not UTF-8 ("h\xe9llo") cannot be relabelled utf-8, so the footer's
// characters US-ASCII lacks become '?', as with "charset=us-ascii"; never raw UTF-8 next to
// Latin-1 under no label.
TEST(EvaluateData, NoCharsetIsUsAsciiWhenTheKeptOctetsAreNotUtf8) {
  const std::string policy =
      "- {type: set_attribute, attribute: content.body, "
      "value: \"${content.body}-- gr\u00fc\u00dfe\\n\"}";
  for (const std::string& headers : {std::string("Subject: t\r\n"),
                                    std::string("MIME-Version: 1.0\r\nContent-Type: text/plain\r\n"),
                                    std::string("Content-Type: text/plain; charset=us-ascii\r\n")}) {
    std::string message = headers + "\r\nh\xe9llo\r\n";
    auto d = run_data(policy, message);
    ASSERT_TRUE(d.message_replaced) << headers << d.reason;
    const std::size_t split = message.find("\r\n\r\n");
    ASSERT_NE(split, std::string::npos);
    const std::string body = message.substr(split + 4);
    const std::string text = find_header(message.substr(0, split + 2), "Content-Transfer-Encoding") ==
                                     std::optional<std::string>("base64")
                                 ? base64_decode(body)
                                 : body;
    EXPECT_EQ(text, "h\xe9llo\r\n-- gr??e\r\n") << headers << message;
  }
}

// Session 16 (F10): a footer "grüße" appended to an iso-8859-1 part was left in UTF-8 under
// the iso-8859-1 label ("grÃ¼ÃŸe" in every reader).
TEST(EvaluateData, ThePolicysTextIsWrittenInThePartsCharset) {
  const std::string policy =
      "- {type: set_attribute, attribute: content.body, "
      "value: \"${content.body}-- gr\u00fc\u00dfe\\n\"}";
  std::string message =
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
      "Content-Transfer-Encoding: 8bit\r\n\r\nGr\xfc\xdf" "e\r\n";
  auto d = run_data(policy, message, {}, "", /*eight_bit_allowed=*/true);
  ASSERT_TRUE(d.message_replaced) << d.reason;
  EXPECT_EQ(message,
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\nGr\xfc\xdf" "e\r\n-- gr\xfc\xdf" "e\r\n");
  // Quoted-printable in windows-1250: escapes of the part's own octets.
  message =
      "Content-Type: text/plain; charset=windows-1250\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\nhello\r\n";
  d = run_data(policy, message);
  ASSERT_TRUE(d.message_replaced) << d.reason;
  EXPECT_NE(message.find("\r\n\r\nhello\r\n-- gr=FC=DFe\r\n"), std::string::npos) << message;
  // A euro sign iso-8859-1 lacks: the whole part goes UTF-8 (base64: it was 7bit).
  message =
      "Content-Type: text/plain; charset=\"iso-8859-1\"\r\n\r\ncaf\xe9\r\n";
  d = run_data("- {type: set_attribute, attribute: content.body, "
               "value: \"${content.body}\u20ac\\n\"}",
               message);
  ASSERT_TRUE(d.message_replaced) << d.reason;
  const std::size_t split = message.find("\r\n\r\n");
  const std::string headers = message.substr(0, split + 2);
  EXPECT_EQ(find_header(headers, "Content-Type"), "text/plain; charset=utf-8") << headers;
  EXPECT_EQ(base64_decode(message.substr(split + 4)), "caf\xc3\xa9\r\n\xe2\x82\xac\r\n");
}

TEST(EvaluateData, AddedHeaderValuesThatAreNotAsciiAreEncodedWords) {
  std::string message = "Subject: x\r\n\r\nhello\r\n";
  auto d = run_data("- {type: add_header, name: X-Checked, value: \"gepr\u00fcft\"}", message);
  ASSERT_TRUE(d.message_replaced) << d.reason;
  EXPECT_EQ(message, "X-Checked: =?UTF-8?B?Z2VwcsO8ZnQ=?=\r\nSubject: x\r\n\r\nhello\r\n");
  // A client's SMTPUTF8 address in the template: encoded too, whatever the transaction.
  message = "Subject: x\r\n\r\nhello\r\n";
  d = run_data("- {type: add_header, name: X-From, value: \"${smtp.mail.from}\"}", message,
               {{"smtp.mail.from", "j\xc3\xb6rg@b\xc3\xbc" "cher.example"}});
  ASSERT_TRUE(d.message_replaced);
  EXPECT_TRUE(seven_bit(message)) << message;
}

TEST(EvaluateData, ChangedTextBodyWithinTheLineLimitStaysText) {
  std::string message = "Subject: t\r\nMIME-Version: 1.0\r\n\r\n" + std::string(987, 'y') +
                        "\r\n";
  auto d = run_data(R"(
- {type: set_attribute, attribute: content.body, value: "[X] ${content.body}"}
)",
                    message);
  ASSERT_TRUE(d.message_replaced) << d.reason;
  EXPECT_EQ(message, "Subject: t\r\nMIME-Version: 1.0\r\n\r\n[X] " + std::string(987, 'y') +
                         "\r\n");  // a line of exactly 998 octets
}

TEST(EvaluateData, ChangedBodyOfAMultipartIsRefused) {
  std::string message =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b--\r\n";
  const std::string original = message;
  auto d = run_data("- {type: set_attribute, attribute: content.body, value: two}", message);
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.reply.code, 554u);
  EXPECT_EQ(d.reply.enhanced_code, "5.6.0");
  EXPECT_FALSE(d.message_replaced);
  EXPECT_EQ(message, original);
}

TEST(EvaluateData, PartExplosionIsRefusedWhateverThePolicyBR29) {
  std::string message = "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n";
  for (int i = 0; i < 5000; ++i) message += "--b\r\n\r\nx\r\n";
  message += "--b--\r\n";
  auto d = run_data("- type: \"true\"", message);
  EXPECT_EQ(d.verdict, Verdict::kReject);
  EXPECT_EQ(d.reply.code, 554u);
  EXPECT_EQ(d.reply.enhanced_code, "5.6.0");
  EXPECT_NE(d.reason.find("more than 1000 MIME parts"), std::string::npos);

  std::string deep;
  for (int i = 0; i < 10000; ++i)
    deep += "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n";
  d = run_data("- type: \"true\"", deep);
  EXPECT_EQ(d.reply.enhanced_code, "5.6.0");
  EXPECT_FALSE(d.message_replaced);
}

TEST(EvaluateData, ContentBodyComesOnlyFromTheMessage) {
  std::string message = "Subject: x\r\n\r\nreal body\r\n";
  Attributes a{{"content.body", "spoofed"}};
  auto policy = compile("- {type: body_match, regex: spoofed, negate: true}");
  auto d = evaluate(*policy, Command::kData, a, no_users(), &message);
  EXPECT_EQ(d.verdict, Verdict::kContinue);
  EXPECT_FALSE(a.contains("content.body")) << "the decoded body is not left in the attributes";
}

}  // namespace
}  // namespace gw::controlplane::policy
