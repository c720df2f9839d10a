// Unit tests for EHLO keyword parsing and the gateway's advertised capabilities
// (RFC 5321 §4.1.1.1, RFC 1870, RFC 2920; relay behaviour "EHLO reply").
#include "dataplane/smtp/capabilities.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gw::smtp {
namespace {

// Feeds CRLF-free reply lines through the real parser, as the upstream leg does.
Reply parse_reply(const std::vector<std::string_view>& lines) {
  ReplyParser parser;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    ReplyParser::Status st = parser.feed_line(lines[i]);
    EXPECT_EQ(
        st, i + 1 < lines.size() ? ReplyParser::Status::kNeedMore : ReplyParser::Status::kComplete)
        << lines[i];
  }
  return parser.take();
}

Reply ehlo_reply(const std::vector<std::string>& keywords) {
  Reply r;
  r.code = 250;
  r.lines.emplace_back("upstream.example.org Hello");
  for (const auto& k : keywords) r.lines.push_back(k);
  return r;
}

// The reference trace: smtp.gmail.com's answer to EHLO, before and after STARTTLS.
TEST(ParseEhloReply, ReferenceTraceGmailBeforeTls) {
  Capabilities c = parse_ehlo_reply(parse_reply({
      "250-mx.google.com at your service, [87.198.245.194]",
      "250-SIZE 35651584",
      "250-8BITMIME",
      "250-STARTTLS",
      "250 ENHANCEDSTATUSCODES",
  }));
  ASSERT_TRUE(c.size.has_value());
  EXPECT_EQ(*c.size, 35651584u);
  EXPECT_TRUE(c.eightbitmime);
  EXPECT_TRUE(c.starttls);
  EXPECT_TRUE(c.enhanced_status_codes);
  EXPECT_FALSE(c.pipelining);
  EXPECT_FALSE(c.smtputf8);
  EXPECT_FALSE(c.chunking);
  EXPECT_TRUE(c.auth_mechanisms.empty());
}

TEST(ParseEhloReply, ReferenceTraceGmailAfterTls) {
  Capabilities c = parse_ehlo_reply(parse_reply({
      "250-mx.google.com at your service, [87.198.245.194]",
      "250-SIZE 35651584",
      "250-8BITMIME",
      "250-AUTH LOGIN PLAIN XOAUTH",
      "250 ENHANCEDSTATUSCODES",
  }));
  ASSERT_TRUE(c.size.has_value());
  EXPECT_EQ(*c.size, 35651584u);
  EXPECT_TRUE(c.eightbitmime);
  EXPECT_FALSE(c.starttls);
  EXPECT_TRUE(c.enhanced_status_codes);
  EXPECT_EQ(c.auth_mechanisms, (std::vector<std::string>{"LOGIN", "PLAIN", "XOAUTH"}));
}

TEST(ParseEhloReply, FirstLineIsNeverAKeyword) {
  Reply r;
  r.code = 250;
  r.lines = {"SMTPUTF8"};
  EXPECT_FALSE(parse_ehlo_reply(r).smtputf8);
  r.lines = {"PIPELINING greets you", "CHUNKING"};
  Capabilities c = parse_ehlo_reply(r);
  EXPECT_FALSE(c.pipelining);
  EXPECT_TRUE(c.chunking);
}

TEST(ParseEhloReply, LowerCaseKeywords) {
  Capabilities c =
      parse_ehlo_reply(ehlo_reply({"pipelining", "8bitmime", "smtputf8", "enhancedstatuscodes",
                                   "starttls", "chunking", "size 1000", "auth plain login"}));
  EXPECT_TRUE(c.pipelining);
  EXPECT_TRUE(c.eightbitmime);
  EXPECT_TRUE(c.smtputf8);
  EXPECT_TRUE(c.enhanced_status_codes);
  EXPECT_TRUE(c.starttls);
  EXPECT_TRUE(c.chunking);
  ASSERT_TRUE(c.size.has_value());
  EXPECT_EQ(*c.size, 1000u);
  EXPECT_EQ(c.auth_mechanisms, (std::vector<std::string>{"PLAIN", "LOGIN"}));
}

TEST(ParseEhloReply, SizeVariants) {
  Capabilities c = parse_ehlo_reply(ehlo_reply({"SIZE"}));
  ASSERT_TRUE(c.size.has_value()) << "SIZE without a value: present, no fixed limit";
  EXPECT_EQ(*c.size, 0u);

  c = parse_ehlo_reply(ehlo_reply({"SIZE 0"}));
  ASSERT_TRUE(c.size.has_value());
  EXPECT_EQ(*c.size, 0u);

  for (const char* bad :
       {"SIZE abc", "SIZE -1", "SIZE 12x", "SIZE 1.5", "SIZE 99999999999999999999999", "SIZE +5"}) {
    EXPECT_FALSE(parse_ehlo_reply(ehlo_reply({bad})).size.has_value()) << bad;
  }
  EXPECT_FALSE(parse_ehlo_reply(ehlo_reply({"8BITMIME"})).size.has_value());
  c = parse_ehlo_reply(ehlo_reply({"SIZE 18446744073709551615"}));
  ASSERT_TRUE(c.size.has_value());
  EXPECT_EQ(*c.size, 18446744073709551615u);
}

TEST(ParseEhloReply, WhiteSpaceAroundTheParts) {
  // Probe round 38: "SIZE 100 " was an unknown limit, so the gateway offered its own.
  for (const char* spelled : {"SIZE 100 ", "SIZE  100", "SIZE\t100", "SIZE 100\t \t"}) {
    Capabilities c = parse_ehlo_reply(ehlo_reply({spelled}));
    ASSERT_TRUE(c.size.has_value()) << spelled;
    EXPECT_EQ(*c.size, 100u) << spelled;
  }
  Capabilities c = parse_ehlo_reply(ehlo_reply({"SIZE ", "PIPELINING\t", "AUTH\t PLAIN  LOGIN "}));
  ASSERT_TRUE(c.size.has_value());
  EXPECT_EQ(*c.size, 0u);
  EXPECT_TRUE(c.pipelining);
  EXPECT_EQ(c.auth_mechanisms, (std::vector<std::string>{"PLAIN", "LOGIN"}));
}

TEST(ParseEhloReply, SizeListedTwiceKeepsTheStricterLimit) {
  // Probe round 19: "SIZE 50" then "SIZE 5000" made the gateway advertise 5000.
  for (const auto& order : {std::vector<std::string>{"SIZE 50", "SIZE 5000"},
                            std::vector<std::string>{"SIZE 5000", "SIZE 50"},
                            std::vector<std::string>{"SIZE", "SIZE 50"},
                            std::vector<std::string>{"SIZE 50", "SIZE 0"},
                            std::vector<std::string>{"SIZE 50", "SIZE abc"}}) {
    Capabilities c = parse_ehlo_reply(ehlo_reply(order));
    ASSERT_TRUE(c.size.has_value()) << order[0] << ", " << order[1];
    EXPECT_EQ(*c.size, 50u) << order[0] << ", " << order[1];
  }
  Capabilities none = parse_ehlo_reply(ehlo_reply({"SIZE", "SIZE 0"}));
  ASSERT_TRUE(none.size.has_value());
  EXPECT_EQ(*none.size, 0u);
}

TEST(ParseEhloReply, UnknownAndLookalikeKeywordsIgnored) {
  Capabilities c =
      parse_ehlo_reply(ehlo_reply({"DSN", "BINARYMIME", "X-EXPS GSSAPI", "PIPELININGX", "8BITMIMEY",
                                   "AUTH=LOGIN", "SIZEX 5", "STARTTLSX", "ETRN", "VRFY"}));
  EXPECT_FALSE(c.pipelining);
  EXPECT_FALSE(c.eightbitmime);
  EXPECT_FALSE(c.starttls);
  EXPECT_FALSE(c.size.has_value());
  EXPECT_TRUE(c.auth_mechanisms.empty());
}

TEST(ParseEhloReply, AuthMechanismsUpperCasedInOrderSkippingEmpties) {
  Capabilities c = parse_ehlo_reply(ehlo_reply({"AUTH  cram-md5 Plain  xoauth2 "}));
  EXPECT_EQ(c.auth_mechanisms, (std::vector<std::string>{"CRAM-MD5", "PLAIN", "XOAUTH2"}));
  EXPECT_TRUE(parse_ehlo_reply(ehlo_reply({"AUTH"})).auth_mechanisms.empty());
}

// ---------------------------------------------------------------------------------------
// client_capabilities

Capabilities upstream_with(std::optional<std::uint64_t> size) {
  Capabilities c;
  c.size = size;
  return c;
}

std::string size_line(const std::vector<std::string>& caps) {
  for (const auto& c : caps) {
    if (c.rfind("SIZE", 0) == 0) return c;
  }
  return "(none)";
}

TEST(ClientCapabilities, SizeIsTheSmallerNonZeroLimit) {
  GatewayOffer offer;
  offer.max_message_size = 36700160;
  EXPECT_EQ(size_line(client_capabilities(upstream_with(35651584), offer)), "SIZE 35651584");
  EXPECT_EQ(size_line(client_capabilities(upstream_with(50000000), offer)), "SIZE 36700160");
  EXPECT_EQ(size_line(client_capabilities(upstream_with(0), offer)), "SIZE 36700160")
      << "upstream SIZE 0 = no limit there";
  EXPECT_EQ(size_line(client_capabilities(upstream_with(std::nullopt), offer)), "SIZE 36700160")
      << "upstream without SIZE";
  offer.max_message_size = 0;
  EXPECT_EQ(size_line(client_capabilities(upstream_with(1000), offer)), "SIZE 1000");
  EXPECT_EQ(size_line(client_capabilities(upstream_with(std::nullopt), offer)), "SIZE");
  EXPECT_EQ(size_line(client_capabilities(upstream_with(0), offer)), "SIZE");
}

// With a DATA handler the upstream's SIZE is offered less a reserve for what the policy
// adds: min(64 KiB, a quarter of it). The service's own limit is about what the client
// sends and stays whole (probe round 34: a message at the offered SIZE got the upstream's
// 552 once the policy had added a field).
TEST(ClientCapabilities, DataPolicyReserveComesOffTheUpstreamsSize) {
  GatewayOffer offer;
  offer.data_policy = true;
  EXPECT_EQ(size_line(client_capabilities(upstream_with(1000), offer)), "SIZE 750");
  EXPECT_EQ(size_line(client_capabilities(upstream_with(35651584), offer)),
            "SIZE " + std::to_string(35651584 - 65536));
  EXPECT_EQ(size_line(client_capabilities(upstream_with(std::nullopt), offer)), "SIZE");
  offer.max_message_size = 1000;
  EXPECT_EQ(size_line(client_capabilities(upstream_with(std::nullopt), offer)), "SIZE 1000");
  EXPECT_EQ(size_line(client_capabilities(upstream_with(50000000), offer)), "SIZE 1000");
  EXPECT_EQ(message_size_limit(upstream_with(1000), 0, false), 1000u);
  EXPECT_EQ(message_size_limit(upstream_with(1000), 0, true), 750u);
  EXPECT_EQ(message_size_limit(upstream_with(1), 0, true), 1u);
}

TEST(ClientCapabilities, GmailUpstreamOnATcpInterface) {
  Capabilities up;
  up.size = 35651584;
  up.eightbitmime = true;
  up.starttls = true;
  up.enhanced_status_codes = true;
  up.auth_mechanisms = {"LOGIN", "PLAIN", "XOAUTH"};
  GatewayOffer offer;
  offer.max_message_size = 36700160;
  EXPECT_EQ(
      client_capabilities(up, offer),
      (std::vector<std::string>{"SIZE 35651584", "8BITMIME", "PIPELINING", "ENHANCEDSTATUSCODES"}))
      << "upstream STARTTLS/AUTH are not the gateway's to offer";
}

TEST(ClientCapabilities, NeverChunkingEvenIfUpstreamHasIt) {
  Capabilities up;
  up.chunking = true;
  up.pipelining = true;
  auto caps = client_capabilities(up, GatewayOffer{});
  for (const auto& c : caps) {
    EXPECT_NE(c, "CHUNKING");
    EXPECT_NE(c, "BINARYMIME");
    EXPECT_NE(c, "DSN");
  }
}

TEST(ClientCapabilities, ExtensionsOnlyWhenUpstreamHasThem) {
  Capabilities none;
  auto caps = client_capabilities(none, GatewayOffer{});
  EXPECT_EQ(caps, (std::vector<std::string>{"SIZE", "PIPELINING"}));

  Capabilities all;
  all.eightbitmime = true;
  all.smtputf8 = true;
  all.enhanced_status_codes = true;
  all.size = 1000;
  caps = client_capabilities(all, GatewayOffer{});
  EXPECT_EQ(caps, (std::vector<std::string>{"SIZE 1000", "8BITMIME", "SMTPUTF8", "PIPELINING",
                                            "ENHANCEDSTATUSCODES"}));

  // RFC 6531 §3.1: SMTPUTF8 needs 8BITMIME; an upstream with SMTPUTF8 alone gets neither.
  Capabilities only_utf8;
  only_utf8.smtputf8 = true;
  caps = client_capabilities(only_utf8, GatewayOffer{});
  EXPECT_EQ(caps, (std::vector<std::string>{"SIZE", "PIPELINING"}));
}

TEST(ParseEhloReply, Smtputf8WithoutEightBitMimeIsNotOffered) {
  EXPECT_FALSE(parse_ehlo_reply(ehlo_reply({"SMTPUTF8", "PIPELINING"})).smtputf8);
  EXPECT_TRUE(parse_ehlo_reply(ehlo_reply({"SMTPUTF8", "8BITMIME"})).smtputf8);
}

TEST(ClientCapabilities, PipeliningAlways) {
  Capabilities up;
  up.pipelining = false;
  auto caps = client_capabilities(up, GatewayOffer{});
  EXPECT_NE(std::find(caps.begin(), caps.end(), "PIPELINING"), caps.end());
}

TEST(ClientCapabilities, StarttlsAndAuthPerOffer) {
  Capabilities up;
  up.starttls = true;
  up.auth_mechanisms = {"PLAIN"};
  GatewayOffer offer;
  auto caps = client_capabilities(up, offer);
  EXPECT_EQ(std::find(caps.begin(), caps.end(), "STARTTLS"), caps.end());
  for (const auto& c : caps) EXPECT_NE(c.rfind("AUTH", 0), 0u) << c;

  Capabilities bare;
  offer.offer_starttls = true;
  offer.auth_mechanisms = {"PLAIN", "LOGIN"};
  caps = client_capabilities(bare, offer);
  EXPECT_EQ(caps, (std::vector<std::string>{"SIZE", "PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN"}));
}

TEST(ParseEhloReply, AuthMechanismsFollowTheSaslGrammar) {
  // Probe round 24: "PLAIN<TAB>LOGIN" was kept as one mechanism and offered as two.
  Capabilities c = parse_ehlo_reply(ehlo_reply({"AUTH PLAIN\tLOGIN  cram-md5 X_Y-1 PLAIN"}));
  EXPECT_EQ(c.auth_mechanisms, (std::vector<std::string>{"PLAIN", "LOGIN", "CRAM-MD5", "X_Y-1"}));
  c = parse_ehlo_reply(ehlo_reply({"AUTH PLAIN B@D \x01X " + std::string(21, 'A') + " " +
                                   std::string(20, 'B')}));
  EXPECT_EQ(c.auth_mechanisms, (std::vector<std::string>{"PLAIN", std::string(20, 'B')}));
  EXPECT_TRUE(is_sasl_mechanism_name("SCRAM-SHA-256-PLUS"));
  EXPECT_FALSE(is_sasl_mechanism_name("PLAIN\tLOGIN"));
  EXPECT_FALSE(is_sasl_mechanism_name(""));
}

TEST(RelayableMechanisms, ChannelBoundOnesAreLeftOut) {
  for (const char* bound : {"EXTERNAL", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "GS2-KRB5-PLUS"}) {
    EXPECT_TRUE(is_channel_bound_mechanism(bound)) << bound;
  }
  for (const char* free : {"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "XOAUTH2", "PLUS",
                           "-PLUS", "EXTERNAL2", "X-EXTERNAL"}) {
    EXPECT_FALSE(is_channel_bound_mechanism(free)) << free;
  }
  Capabilities up = parse_ehlo_reply(
      ehlo_reply({"AUTH EXTERNAL SCRAM-SHA-256-PLUS PLAIN external scram-sha-256 LOGIN"}));
  EXPECT_EQ(relayable_mechanisms(up),
            (std::vector<std::string>{"PLAIN", "SCRAM-SHA-256", "LOGIN"}));
  up.auth_mechanisms = {"EXTERNAL"};
  EXPECT_TRUE(relayable_mechanisms(up).empty());
}

TEST(ClientCapabilities, LongAuthListIsNeverCutInsideAName) {
  // Probe round 24: two long upstream AUTH lines were merged and cut at 512 octets inside a
  // name. Names that do not fit are left out whole.
  GatewayOffer offer;
  for (int k = 0; k < 40; ++k) offer.auth_mechanisms.push_back("Y-MECH" + std::to_string(100 + k));
  offer.auth_mechanisms.push_back("PLAIN");
  const auto caps = client_capabilities(Capabilities{}, offer);
  const std::string& line = caps.back();
  ASSERT_EQ(line.rfind("AUTH ", 0), 0u);
  EXPECT_LE(line.size() + 6, 512u);
  std::size_t pos = 5;
  while (pos < line.size()) {
    const std::size_t end = std::min(line.find(' ', pos), line.size());
    const std::string name = line.substr(pos, end - pos);
    EXPECT_NE(std::find(offer.auth_mechanisms.begin(), offer.auth_mechanisms.end(), name),
              offer.auth_mechanisms.end())
        << "cut name " << name;
    pos = end + 1;
  }
  EXPECT_NE(line.find(" PLAIN"), std::string::npos) << "a short name after the cut still fits";
}

}  // namespace
}  // namespace gw::smtp
