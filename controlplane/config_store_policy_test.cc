// Tests of ConfigStore's policy side: policies, handlers, users, apply and export.
#include <gtest/gtest.h>

#include <optional>

#include "controlplane/config_store.h"
#include "controlplane/policy/password_hash.h"
#include "storage/test_temp_dir.h"

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;

v1::Policy policy(std::string name, std::string filters, std::string reply = "") {
  v1::Policy p;
  p.set_name(std::move(name));
  p.set_filters_yaml(std::move(filters));
  p.set_reply(std::move(reply));
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

const char* kTrue = "- type: \"true\"\n";

class ConfigStorePolicyTest : public ::testing::Test {
 protected:
  ConfigStorePolicyTest() {
    v1::Service s;
    s.set_name("corp");
    s.set_host("127.0.0.1");
    s.set_port(2525);
    EXPECT_TRUE(store_.create_service(s));
    store_.accept_hash_cost_from(policy::kTestArgon2Cost);  // bob_hash_ is a cheap one
  }

  std::uint64_t version() { return hub_.current()->version; }

  // A document with one policy, one user (by hash), one service with an interface and two
  // handlers, each with a source line.
  v1::ConfigurationDocument document() {
    v1::ConfigurationDocument d;
    d.set_file_name("site.yaml");
    auto* p = d.add_policies();
    *p = policy("allow", kTrue);
    p->set_source_line(3);
    auto* u = d.add_users();
    u->set_name("bob");
    u->set_password_hash(bob_hash_);
    u->set_source_line(7);
    auto* s = d.add_services();
    s->set_name("edge");
    s->set_host("127.0.0.1");
    s->set_port(2526);
    s->set_source_line(10);
    s->set_declares_interfaces(true);
    s->set_declares_handlers(true);
    auto* i = s->add_interfaces();
    i->set_port(40123);
    i->set_source_line(14);
    auto* h1 = s->add_handlers();
    *h1 = handler("", v1::SMTP_COMMAND_MAIL, "allow", "*@example.com");
    h1->set_source_line(17);
    auto* h2 = s->add_handlers();
    *h2 = handler("", v1::SMTP_COMMAND_HELO, "allow");
    h2->set_source_line(20);
    return d;
  }

  storage::TestTempDir dir_;
  storage::SecretBox secrets_ = storage::SecretBox::open_key_file(dir_.file("gw.db.key"));
  SnapshotHub hub_;
  storage::Database db_ = storage::Database::open(dir_.file("gw.db"));
  ConfigStore store_{db_, secrets_, hub_};
  std::string bob_hash_ = policy::hash_password("bob-pw-123", policy::kTestArgon2Cost).value();
};

TEST_F(ConfigStorePolicyTest, PoliciesAreCompiledOnWriteAndPublished) {
  auto bad = store_.upsert_policy(policy("broken", "- type: frobnicate\n"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("frobnicate"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(store_.get_policy("broken"));

  const auto before = version();
  ASSERT_TRUE(store_.upsert_policy(policy("allow", kTrue)));
  EXPECT_GT(version(), before);
  EXPECT_NE(hub_.current()->policies->find("allow"), nullptr);
  auto again = store_.upsert_policy(policy("allow", kTrue));
  ASSERT_TRUE(again);
  EXPECT_EQ(again.value(), storage::UpsertOutcome::kUnchanged);

  // The same filters written otherwise (an export in JSON, applied again): no change, the
  // stored text stays (probe round 34: every policy was "updated").
  const std::string block =
      "- type: match\n  attribute: smtp.mail.from\n  wildcard: \"*@example.com\"\n  "
      "negate: true\n";
  ASSERT_TRUE(store_.upsert_policy(policy("senders", block)));
  const auto stable = version();
  auto flow = store_.upsert_policy(policy(
      "senders",
      "[{\"type\": \"match\", \"attribute\": \"smtp.mail.from\", \"wildcard\": \"*@example.com\", "
      "\"negate\": \"true\"}]"));
  ASSERT_TRUE(flow);
  EXPECT_EQ(flow.value(), storage::UpsertOutcome::kUnchanged);
  EXPECT_EQ(version(), stable);
  EXPECT_EQ(store_.get_policy("senders").value().filters_yaml(), block);
  // Another value is a change.
  auto other = store_.upsert_policy(policy(
      "senders", "[{type: match, attribute: smtp.mail.from, wildcard: \"*@example.org\", "
                 "negate: true}]"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other.value(), storage::UpsertOutcome::kUpdated);
  EXPECT_GT(version(), stable);
}

// Probe round 34: two applies of 35 MB of policies each were taken, and then export and
// policy list failed ("Received message larger than max"). All policies together stay
// within kMaxPolicyTextOctets; replacing a policy counts its new text, not its old.
TEST_F(ConfigStorePolicyTest, PoliciesTogetherStayExportable) {
  EXPECT_EQ(kMaxPolicyTextOctets, 32u * 1024 * 1024);
  store_.limit_policy_text(64 * 1024);
  const std::string half(32 * 1024 + 1024, 'x');
  const std::string text =
      "- {type: set_attribute, attribute: smtp.helo.greeting, value: \"" + half + "\"}\n";
  ASSERT_TRUE(store_.upsert_policy(policy("big-1", text)));
  ASSERT_TRUE(store_.upsert_policy(policy("big-1", text + "# again\n")));  // replaced
  const auto before = version();
  auto refused = store_.upsert_policy(policy("big-2", text));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("export"), std::string::npos) << refused.error().message;
  EXPECT_EQ(version(), before);
  EXPECT_FALSE(store_.get_policy("big-2"));
}

TEST_F(ConfigStorePolicyTest, HandlersGetDefaultsReachTheSnapshotAndPinTheirPolicy) {
  ASSERT_TRUE(store_.upsert_policy(policy("allow", kTrue)));
  auto mail = store_.create_handler(handler("corp", v1::SMTP_COMMAND_MAIL, "allow"));
  ASSERT_TRUE(mail) << mail.error().message;
  EXPECT_EQ(mail.value().address(), "*");
  auto helo = store_.create_handler(handler("corp", v1::SMTP_COMMAND_HELO, "allow"));
  ASSERT_TRUE(helo);
  EXPECT_EQ(helo.value().greeting(), "Hello ${smtp.helo.domain}");

  auto snap = hub_.current()->snapshot("default");
  ASSERT_NE(snap, nullptr);
  ASSERT_EQ(snap->services(0).handlers_size(), 2);
  EXPECT_NE(hub_.current()->handler(mail.value().id()), nullptr);

  // Same pattern (any case) twice, a greeting on MAIL, unknown policy or service: refused.
  auto dup = store_.create_handler(handler("corp", v1::SMTP_COMMAND_MAIL, "allow", "*"));
  EXPECT_EQ(dup.error().code, Code::kAlreadyExists);
  auto second_helo = store_.create_handler(handler("corp", v1::SMTP_COMMAND_HELO, "allow"));
  EXPECT_EQ(second_helo.error().code, Code::kAlreadyExists);
  auto greeting = handler("corp", v1::SMTP_COMMAND_MAIL, "allow", "*@x");
  greeting.set_greeting("hi");
  EXPECT_EQ(store_.create_handler(greeting).error().code, Code::kInvalidArgument);
  // A greeting that names the password is refused like every other template (probe 17).
  auto secret = handler("corp", v1::SMTP_COMMAND_HELO, "allow");
  secret.set_greeting("Hi ${authentication.subject.password}");
  auto refused = store_.create_handler(secret);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("password"), std::string::npos);
  EXPECT_EQ(store_.create_handler(handler("corp", v1::SMTP_COMMAND_RCPT, "nope")).error().code,
            Code::kNotFound);
  EXPECT_EQ(store_.create_handler(handler("ghost", v1::SMTP_COMMAND_RCPT, "allow")).error().code,
            Code::kNotFound);

  auto in_use = store_.delete_policy("allow");
  ASSERT_FALSE(in_use);
  EXPECT_EQ(in_use.error().code, Code::kFailedPrecondition);
  ASSERT_TRUE(store_.delete_handler(mail.value().id()));
  ASSERT_TRUE(store_.delete_handler(helo.value().id()));
  EXPECT_TRUE(store_.delete_policy("allow"));
  EXPECT_EQ(hub_.current()->handlers.size(), 0u);
}

// A policy's reply must be a refusal of the command its handler binds it to (RFC 5321
// §4.3.2, RFC 4954 §6; probe round 45: "535" answered a RCPT, "451" an AUTH).
TEST_F(ConfigStorePolicyTest, PolicyReplyMustFitTheHandlersCommand) {
  ASSERT_TRUE(store_.upsert_policy(policy("auth-style", kTrue, "535 5.7.8 no")));
  ASSERT_TRUE(store_.upsert_policy(policy("rcpt-style", kTrue, "553 5.1.3 bad address")));
  ASSERT_TRUE(store_.upsert_policy(policy("anywhere", kTrue, "554 5.7.1 go away")));
  auto refused = store_.create_handler(handler("corp", v1::SMTP_COMMAND_RCPT, "auth-style", "*"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kInvalidArgument);
  EXPECT_EQ(refused.error().message,
            "policy \"auth-style\" replies 535 is no refusal of RCPT (its codes: 450, 451, 452, "
            "455, 530, 550, 551, 552, 553, 555, 421, 554; RFC 5321 §4.3.2): bound to a rcpt "
            "handler");
  EXPECT_FALSE(store_.create_handler(handler("corp", v1::SMTP_COMMAND_AUTH, "rcpt-style")));
  ASSERT_TRUE(store_.create_handler(handler("corp", v1::SMTP_COMMAND_AUTH, "auth-style")));
  ASSERT_TRUE(store_.create_handler(handler("corp", v1::SMTP_COMMAND_RCPT, "rcpt-style", "*")));
  ASSERT_TRUE(store_.create_handler(handler("corp", v1::SMTP_COMMAND_HELO, "anywhere")));
  // A policy bound to RCPT cannot take a reply RCPT has no use for; unbound it could.
  const auto before = version();
  auto changed = store_.upsert_policy(policy("rcpt-style", kTrue, "451 4.7.0 later"));
  ASSERT_TRUE(changed);  // 451 is a RCPT refusal too
  EXPECT_FALSE(store_.upsert_policy(policy("rcpt-style", kTrue, "538 5.7.11 tls first")));
  EXPECT_FALSE(store_.upsert_policy(policy("auth-style", kTrue, "451 4.7.0 later")));
  EXPECT_TRUE(store_.upsert_policy(policy("auth-style", kTrue, "454 4.7.0 later")));
  EXPECT_EQ(version(), before + 2);
}

// apply checks replies against the handlers the file leaves, not those it replaces: a
// policy may move to another command with a reply for it in one file (probe round 46).
TEST_F(ConfigStorePolicyTest, ApplyChecksRepliesAgainstTheResultingHandlers) {
  v1::ConfigurationDocument d = document();
  d.mutable_policies(0)->set_reply("535 5.7.8 who are you");
  auto* s = d.mutable_services(0);
  s->clear_handlers();
  *s->add_handlers() = handler("", v1::SMTP_COMMAND_AUTH, "allow");
  ASSERT_TRUE(store_.apply(d, false));
  // The same policy, now a MAIL refusal, moved to a MAIL handler: accepted.
  d.mutable_policies(0)->set_reply("550 5.7.1 not you");
  s->clear_handlers();
  *s->add_handlers() = handler("", v1::SMTP_COMMAND_MAIL, "allow", "*");
  auto moved = store_.apply(d, false);
  ASSERT_TRUE(moved) << moved.error().message;
  // An AUTH reply left on a MAIL handler: refused at the policy's line, nothing changed.
  const auto before = version();
  d.mutable_policies(0)->set_reply("535 5.7.8 who are you");
  auto refused = store_.apply(d, false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message.rfind("site.yaml:3: policy \"allow\": policy \"allow\" "
                                          "replies 535 is no refusal of MAIL",
                                          0),
            0u)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("bound to a mail handler"), std::string::npos);
  EXPECT_EQ(version(), before);
}

TEST_F(ConfigStorePolicyTest, AddressPatternsAreStoredInTheRelaysComparisonSpelling) {
  // Probe round 15: these were stored as written and never matched what the relay compares
  // (quotes dropped, canonical address literals), so a deny handler looked in force.
  ASSERT_TRUE(store_.upsert_policy(policy("deny", kTrue)));
  struct Case {
    v1::SmtpCommand command;
    const char* in;
    const char* stored;
  };
  for (Case c : {Case{v1::SMTP_COMMAND_RCPT, "*@[IPv6:0:0:0:0:0:0:0:1]", "*@[IPv6:::1]"},
                 Case{v1::SMTP_COMMAND_RCPT, "*@[192.000.002.001]", "*@[192.0.2.1]"},
                 Case{v1::SMTP_COMMAND_RCPT, "\"x.y\"@q.example", "x.y@q.example"},
                 Case{v1::SMTP_COMMAND_RCPT, "bob@[IPv6:2001:DB8::1]", "bob@[IPv6:2001:db8::1]"},
                 Case{v1::SMTP_COMMAND_MAIL, "<>", "<>"},
                 Case{v1::SMTP_COMMAND_MAIL,
                      "*@b\xc3\xbc"
                      "cher.example",
                      "*@b\xc3\xbc"
                      "cher.example"},
                 // Probe round 16: A-labels are stored as the U-labels they stand for, so
                 // one handler covers both spellings of an internationalised domain.
                 Case{v1::SMTP_COMMAND_RCPT, "*@XN--caf-dma.example", "*@caf\xc3\xa9.example"},
                 Case{v1::SMTP_COMMAND_RCPT, "u@xn--caf-dma.example", "u@caf\xc3\xa9.example"},
                 Case{v1::SMTP_COMMAND_RCPT, "*@*.xn--caf-dma.example", "*@*.caf\xc3\xa9.example"},
                 Case{v1::SMTP_COMMAND_RCPT, "*@xn--*.example", "*@xn--*.example"},
                 Case{v1::SMTP_COMMAND_RCPT, "*@xn--zz.example", "*@xn--zz.example"},
                 // Probe round 34: a quoted local part with a space is a mailbox the relay
                 // accepts; "**" is "*".
                 Case{v1::SMTP_COMMAND_RCPT, "\"odd user\"@example.com", "odd user@example.com"},
                 Case{v1::SMTP_COMMAND_RCPT, "odd user@example.org", "odd user@example.org"},
                 Case{v1::SMTP_COMMAND_MAIL, "**@y.org", "*@y.org"},
                 Case{v1::SMTP_COMMAND_MAIL, "a***b@*.org", "a*b@*.org"},
                 // Probe round 39: stars alone too; patterns without "@" match through
                 // a "*" or are postmaster.
                 Case{v1::SMTP_COMMAND_RCPT, "***", "*"},
                 Case{v1::SMTP_COMMAND_RCPT, "*example.net", "*example.net"},
                 Case{v1::SMTP_COMMAND_RCPT, "Postmaster", "Postmaster"},
                 Case{v1::SMTP_COMMAND_RCPT, "*@*.x-y.example", "*@*.x-y.example"}}) {
    auto h = store_.create_handler(handler("corp", c.command, "deny", c.in));
    ASSERT_TRUE(h) << c.in << ": " << h.error().message;
    EXPECT_EQ(h.value().address(), c.stored) << c.in;
  }
  // Patterns no accepted address could ever match are refused.
  for (auto [command, pattern] :
       {std::pair{v1::SMTP_COMMAND_RCPT, "<>"},
        std::pair{v1::SMTP_COMMAND_MAIL, "*@\xc3\x9cNI.example"},  // upper-case U-label
        // ... also beside a wildcard label, and not in NFC (probe round 18)
        std::pair{v1::SMTP_COMMAND_RCPT, "*@*.B\xc3\x9c" "CHER.example"},
        std::pair{v1::SMTP_COMMAND_RCPT, "*@*.bu\xcc\x88" "cher.example"},
        std::pair{v1::SMTP_COMMAND_MAIL, "\"a*\"@q.example"},
        // the wire's angle brackets, an empty local part, empty labels (probe round 20)
        std::pair{v1::SMTP_COMMAND_MAIL, "<alice@example.com>"},
        std::pair{v1::SMTP_COMMAND_MAIL, "<*@spam.example>"},
        std::pair{v1::SMTP_COMMAND_RCPT, "bob@example.com."},
        std::pair{v1::SMTP_COMMAND_RCPT, "*@example.org."},
        std::pair{v1::SMTP_COMMAND_RCPT, "*@*..example"},
        std::pair{v1::SMTP_COMMAND_RCPT, "*@"},
        std::pair{v1::SMTP_COMMAND_RCPT, "@example.com"},
        // a space in the domain
        std::pair{v1::SMTP_COMMAND_RCPT, "\"odd user\"@example .com"},
        std::pair{v1::SMTP_COMMAND_RCPT, "*@exa mple.com"},
        // no "@" and no "*"; domains the relay answers 501 (probe round 39)
        std::pair{v1::SMTP_COMMAND_RCPT, "example.com"},
        std::pair{v1::SMTP_COMMAND_RCPT, "*@-x.test"},
        std::pair{v1::SMTP_COMMAND_RCPT, "*@x_y.test"},
        std::pair{v1::SMTP_COMMAND_RCPT, "*@*.x_y.test"},
        std::pair{v1::SMTP_COMMAND_RCPT, "*@192.0.2.1"},
        std::pair{v1::SMTP_COMMAND_MAIL, "*@[192.0.2.256]"},
        std::pair{v1::SMTP_COMMAND_MAIL, "a@[tag:x]"}}) {
    auto h = store_.create_handler(handler("corp", command, "deny", pattern));
    ASSERT_FALSE(h) << pattern;
    EXPECT_EQ(h.error().code, Code::kInvalidArgument) << pattern;
  }
}

TEST_F(ConfigStorePolicyTest, OnePatternSlotWhateverTheCaseBeyondAscii) {
  // Probe round 20: handler selection folds case with Unicode rules, the duplicate check
  // only ASCII: JÜRGEN@ beside jürgen@ was stored and never ran.
  ASSERT_TRUE(store_.upsert_policy(policy("deny", kTrue)));
  for (auto [first, second] :
       {std::pair{"j\xc3\xbcrgen@example.com", "J\xc3\x9cRGEN@example.com"},
        std::pair{"\xc3\xa4" "bc@x.example", "\xc3\x84" "BC@x.example"},  // äbc, ÄBC
        std::pair{"Bob@example.com", "bob@EXAMPLE.COM"},
        std::pair{"*", "**"}}) {  // probe round 39: "**" beside "*" never ran
    auto h = store_.create_handler(handler("corp", v1::SMTP_COMMAND_MAIL, "deny", first));
    ASSERT_TRUE(h) << first << ": " << h.error().message;
    auto dup = store_.create_handler(handler("corp", v1::SMTP_COMMAND_MAIL, "deny", second));
    ASSERT_FALSE(dup) << second;
    EXPECT_EQ(dup.error().code, Code::kAlreadyExists) << second;
    ASSERT_TRUE(store_.delete_handler(h.value().id()));
  }
  // The refusal names the pattern in place, not the one asked for (probe round 21).
  auto bob = store_.create_handler(handler("corp", v1::SMTP_COMMAND_MAIL, "deny", "Bob@x.example"));
  ASSERT_TRUE(bob);
  auto again = store_.create_handler(handler("corp", v1::SMTP_COMMAND_MAIL, "deny", "BOB@X.example"));
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("\"Bob@x.example\""), std::string::npos)
      << again.error().message;
  ASSERT_TRUE(store_.delete_handler(bob.value().id()));
  // Different letters to IDNA2008 (probe round 21: full case folding made ß "ss" and ς
  // "σ", so these were refused as duplicates): two handlers.
  for (auto [first, second] :
       {std::pair{"*@strasse.example", "*@stra\xc3\x9f" "e.example"},
        std::pair{"*@\xcf\x83\xce\xbf\xcf\x86\xcf\x8c\xcf\x82.example",      // σοφός
                  "*@\xcf\x83\xce\xbf\xcf\x86\xcf\x8c\xcf\x83.example"}}) {  // σοφόσ
    auto a = store_.create_handler(handler("corp", v1::SMTP_COMMAND_RCPT, "deny", first));
    ASSERT_TRUE(a) << first << ": " << a.error().message;
    auto b = store_.create_handler(handler("corp", v1::SMTP_COMMAND_RCPT, "deny", second));
    ASSERT_TRUE(b) << second << ": " << b.error().message;
    ASSERT_TRUE(store_.delete_handler(a.value().id()));
    ASSERT_TRUE(store_.delete_handler(b.value().id()));
  }
}

TEST_F(ConfigStorePolicyTest, UsersAreStoredAsSaltedHashesOnly) {
  v1::User alice;
  alice.set_name("alice");
  alice.set_password("pw-1");
  ASSERT_TRUE(store_.create_user(alice));
  auto hash = hub_.current()->users->lookup("alice");
  ASSERT_TRUE(hash.has_value());
  EXPECT_TRUE(policy::verify_password(*hash, "pw-1"));
  EXPECT_EQ(hash->find("pw-1"), std::string::npos);
  EXPECT_EQ(store_.create_user(alice).error().code, Code::kAlreadyExists);
  // Names no AUTH could present are refused, not stored unusable (probe round 35): C1
  // (NEL, CSI), U+2028, bidirectional controls, ill-formed UTF-8. Other UTF-8 is a name.
  for (std::string bad : std::vector<std::string>{"a\u202eb", "a\u0085b", "a\u009bb",
                                                  "a\u2028b", "a\u2066b", "a\xc3",
                                                  "a\x1b[1mb"}) {
    v1::User u;
    u.set_name(bad);
    u.set_password("pw-x");
    auto refused = store_.create_user(u);
    ASSERT_FALSE(refused) << testing::PrintToString(bad);
    EXPECT_EQ(refused.error().code, Code::kInvalidArgument);
  }
  v1::User juergen;
  juergen.set_name("j\u00fcrgen");
  juergen.set_password("pw-j");
  EXPECT_TRUE(store_.create_user(juergen));
  // One spelling per name (SASLprep, RFC 4013): the NFD twin of "jürgen" is refused with
  // the form to use, not stored as a second look-alike user (probe round 45).
  v1::User twin;
  twin.set_name("ju\u0308rgen");
  twin.set_password("pw-k");
  auto refused = store_.create_user(twin);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message,
            "the user name is not in SASLprep form (RFC 4013: NFKC, non-ASCII spaces as "
            "spaces, soft hyphens and the like removed); give it as \"j\u00fcrgen\"");
  twin.set_name("x\u00ady");  // a soft hyphen
  EXPECT_FALSE(store_.create_user(twin));
  // A password is hashed in SASLprep form; one SASLprep prohibits (TAB) is refused.
  v1::User carol;
  carol.set_name("carol");
  carol.set_password("pa\u0308ss");
  ASSERT_TRUE(store_.create_user(carol));
  EXPECT_TRUE(policy::verify_password(*hub_.current()->users->lookup("carol"), "p\u00e4ss"));
  EXPECT_NE(store_.set_user_password("carol", "a\tb").error().message.find("SASLprep"),
            std::string::npos);

  // A hash given as is must cost what gctld's own cost, and not more than a bound (probe
  // round 45: m=8 and m=1 GiB were both stored).
  store_.accept_hash_cost_from(policy::kDefaultArgon2Cost);
  v1::User imported;
  imported.set_name("imported");
  for (const char* given : {"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
                           "$argon2id$v=19$m=65536,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
                           "$argon2id$v=19$m=1048576,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}) {
    imported.set_password_hash(given);
    auto costly = store_.create_user(imported);
    ASSERT_FALSE(costly) << given;
    EXPECT_NE(costly.error().message.find("a stored hash needs m 65536..262144 KiB, t 2..10"),
              std::string::npos)
        << costly.error().message;
  }
  imported.set_password_hash("$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA");
  EXPECT_TRUE(store_.create_user(imported));
  store_.accept_hash_cost_from(policy::kTestArgon2Cost);

  ASSERT_TRUE(store_.set_user_password("alice", "pw-2"));
  EXPECT_TRUE(policy::verify_password(*hub_.current()->users->lookup("alice"), "pw-2"));
  EXPECT_EQ(store_.set_user_password("alice", "").error().code, Code::kInvalidArgument);
  EXPECT_EQ(store_.set_user_password("alice", "a\nb").error().code, Code::kInvalidArgument);
  EXPECT_EQ(store_.set_user_password("nobody", "x").error().code, Code::kNotFound);
  auto users = store_.list_users();
  ASSERT_TRUE(users);
  for (const v1::User& u : users.value()) EXPECT_TRUE(u.password_hash().empty());
  ASSERT_TRUE(store_.delete_user("alice"));
  EXPECT_FALSE(hub_.current()->users->lookup("alice").has_value());
}

TEST_F(ConfigStorePolicyTest, ApplyCreatesEverythingOnceAndIsIdempotent) {
  const auto before = version();
  auto applied = store_.apply(document(), false);
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_GE(applied.value().changes_size(), 4);
  EXPECT_EQ(version(), before + 1) << "one publication for the whole document";
  auto edge = store_.get_service("edge");
  ASSERT_TRUE(edge);
  ASSERT_EQ(edge.value().interfaces_size(), 1);
  ASSERT_EQ(edge.value().handlers_size(), 2);
  EXPECT_EQ(edge.value().handlers(0).command(), v1::SMTP_COMMAND_MAIL);
  EXPECT_EQ(*hub_.current()->users->lookup("bob"), bob_hash_);

  const auto interface_id = edge.value().interfaces(0).id();
  auto again = store_.apply(document(), false);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again.value().changes_size(), 0) << again.value().DebugString();
  EXPECT_EQ(version(), before + 1);
  EXPECT_EQ(store_.get_service("edge").value().interfaces(0).id(), interface_id);

  // The export applies as a no-op too.
  auto exported = store_.export_document();
  ASSERT_TRUE(exported);
  auto round = store_.apply(exported.value(), false);
  ASSERT_TRUE(round) << round.error().message;
  EXPECT_EQ(round.value().changes_size(), 0) << round.value().DebugString();
  for (const v1::Service& s : exported.value().services()) EXPECT_TRUE(s.password().empty());
}

TEST_F(ConfigStorePolicyTest, ApplyIsAllOrNothingWithFileAndLine) {
  auto d = document();
  d.mutable_services(0)->mutable_handlers(1)->set_policy("nope");
  const auto before = version();
  auto refused = store_.apply(d, false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kNotFound);
  EXPECT_EQ(refused.error().message.rfind("site.yaml:20: ", 0), 0u) << refused.error().message;
  EXPECT_NE(refused.error().message.find("nope"), std::string::npos);
  EXPECT_EQ(version(), before);
  EXPECT_FALSE(store_.get_policy("allow"));
  EXPECT_FALSE(store_.get_service("edge"));
  EXPECT_FALSE(hub_.current()->users->lookup("bob").has_value());

  auto bad_policy = document();
  bad_policy.mutable_policies(0)->set_filters_yaml(
      "- type: match\n  attribute: x\n  regex: '(['\n");
  auto compile = store_.apply(bad_policy, false);
  ASSERT_FALSE(compile);
  EXPECT_EQ(compile.error().message.rfind("site.yaml:3: ", 0), 0u) << compile.error().message;
}

// Probe round 17: the port check ran against the half-applied database, so moving an
// interface to a service listed earlier, or swapping two services' ports, was refused.
TEST_F(ConfigStorePolicyTest, ApplyMovesAndSwapsPortsWhateverTheOrderOfTheFile) {
  auto two_services = [](int port_a, int port_b, bool b_first) {
    v1::ConfigurationDocument d;
    d.set_file_name("ports.yaml");
    for (const auto& [name, port] :
         b_first ? std::vector<std::pair<std::string, int>>{{"b", port_b}, {"a", port_a}}
                 : std::vector<std::pair<std::string, int>>{{"a", port_a}, {"b", port_b}}) {
      v1::Service* s = d.add_services();
      s->set_name(name);
      s->set_host("127.0.0.1");
      s->set_declares_interfaces(true);
      if (port == 0) continue;
      v1::Interface* i = s->add_interfaces();
      i->set_type(v1::INTERFACE_TYPE_TCP);
      i->set_bind_address("127.0.0.1");
      i->set_port(port);
    }
    return d;
  };
  auto port_of = [this](const std::string& service) {
    auto s = store_.get_service(service);
    return s && s.value().interfaces_size() == 1 ? static_cast<int>(s.value().interfaces(0).port())
                                                 : 0;
  };
  ASSERT_TRUE(store_.apply(two_services(9100, 9101, false), false));
  // Swap, in both orders of the file.
  for (bool b_first : {false, true}) {
    auto swapped = store_.apply(two_services(port_of("b"), port_of("a"), b_first), false);
    ASSERT_TRUE(swapped) << swapped.error().message;
  }
  EXPECT_EQ(port_of("a"), 9100);
  EXPECT_EQ(port_of("b"), 9101);
  // Move a's port to b, with b listed first.
  auto moved = store_.apply(two_services(0, 9100, true), false);
  ASSERT_TRUE(moved) << moved.error().message;
  EXPECT_EQ(port_of("a"), 0);
  EXPECT_EQ(port_of("b"), 9100);
  // A real clash in the end state is still refused.
  auto clash = store_.apply(two_services(9100, 9100, false), false);
  ASSERT_FALSE(clash);
  EXPECT_NE(clash.error().message.find("overlaps"), std::string::npos) << clash.error().message;
}

// Two entries of one kind with one name contradict each other; gctl refuses such a file,
// and so does gctld for any other API client (probe round 9).
TEST_F(ConfigStorePolicyTest, ApplyRefusesANameDeclaredTwice) {
  const auto before = version();
  auto d = document();
  *d.add_policies() = d.policies(0);
  d.mutable_policies(d.policies_size() - 1)->set_source_line(40);
  auto refused = store_.apply(d, false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kInvalidArgument);
  EXPECT_EQ(refused.error().message, "site.yaml:40: policy \"" + d.policies(0).name() +
                                         "\": declared twice in this document (first at line " +
                                         std::to_string(d.policies(0).source_line()) + ")");
  EXPECT_EQ(version(), before);

  auto services = document();
  *services.add_services() = services.services(0);
  auto refused_service = store_.apply(services, false);
  ASSERT_FALSE(refused_service);
  EXPECT_NE(refused_service.error().message.find("declared twice"), std::string::npos);
  EXPECT_EQ(version(), before);
  EXPECT_FALSE(store_.get_service("edge"));
}

TEST_F(ConfigStorePolicyTest, DryRunReportsButKeepsNothing) {
  const auto before = version();
  auto dry = store_.apply(document(), true);
  ASSERT_TRUE(dry) << dry.error().message;
  EXPECT_GE(dry.value().changes_size(), 4);
  EXPECT_EQ(version(), before);
  EXPECT_FALSE(store_.get_service("edge"));
  EXPECT_FALSE(store_.get_policy("allow"));
}

TEST_F(ConfigStorePolicyTest, ApplyReplacesChangedHandlerListsAndKeepsStoredPasswords) {
  ASSERT_TRUE(store_.apply(document(), false));
  auto d = document();
  d.mutable_services(0)->mutable_handlers()->RemoveLast();  // drop the HELO handler
  d.mutable_services(0)->set_port(2600);
  auto changed = store_.apply(d, false);
  ASSERT_TRUE(changed) << changed.error().message;
  auto edge = store_.get_service("edge").value();
  EXPECT_EQ(edge.port(), 2600u);
  ASSERT_EQ(edge.handlers_size(), 1);
  EXPECT_EQ(edge.handlers(0).command(), v1::SMTP_COMMAND_MAIL);
  // An upstream password: stored once, then the same password is no change.
  d.mutable_services(0)->set_username("relay");
  d.mutable_services(0)->set_password("upstream-pw");
  auto with_password = store_.apply(d, false);
  ASSERT_TRUE(with_password) << with_password.error().message;
  EXPECT_EQ(with_password.value().changes_size(), 1);
  EXPECT_TRUE(store_.get_service("edge").value().has_password());
  auto same_password = store_.apply(d, false);
  ASSERT_TRUE(same_password);
  EXPECT_EQ(same_password.value().changes_size(), 0) << same_password.value().DebugString();
  d.mutable_services(0)->clear_password();  // absent: the stored password stays
  ASSERT_TRUE(store_.apply(d, false));
  EXPECT_TRUE(store_.get_service("edge").value().has_password());
  // Without the handlers key, the stored handlers stay.
  d.mutable_services(0)->set_declares_handlers(false);
  d.mutable_services(0)->clear_handlers();
  ASSERT_TRUE(store_.apply(d, false));
  EXPECT_EQ(store_.get_service("edge").value().handlers_size(), 1);
  // Without a username the entry has no upstream login: the stored password goes too
  // (probe round 48: it was kept, and the lone password was refused).
  d.mutable_services(0)->clear_username();
  auto dropped = store_.apply(d, false);
  ASSERT_TRUE(dropped) << dropped.error().message;
  EXPECT_EQ(dropped.value().changes_size(), 1);
  const v1::Service no_login = store_.get_service("edge").value();
  EXPECT_FALSE(no_login.has_password());
  EXPECT_EQ(no_login.username(), "");
  auto again = store_.apply(d, false);
  ASSERT_TRUE(again);
  EXPECT_EQ(again.value().changes_size(), 0) << again.value().DebugString();
}

}  // namespace
}  // namespace gw::controlplane
