// The AUTH matrix of DESIGN.md §4, strict SASL base64 (RFC 4648 §4, RFC 4954 §4) and the
// PLAIN message rules (RFC 4616 §2) — field cases BR-08, BR-09, BR-11.
#include "dataplane/smtp/auth.h"

#include <gtest/gtest.h>

#include <string>

namespace gw::smtp {
namespace {

using namespace std::string_literals;

TEST(AuthMatrix, EveryRowOfTheDesignTable) {
  // (handler, credentials, upstream offers AUTH) → (advertise, proxy, gateway logs in).
  struct Row {
    bool h, c, s, advertise, proxy, gateway;
  };
  const Row rows[] = {
      {false, false, false, false, false, false}, {false, false, true, true, true, false},
      {false, true, false, false, false, false},  {false, true, true, false, false, true},
      {true, false, false, true, false, false},   {true, false, true, true, false, false},
      {true, true, false, true, false, false},    {true, true, true, true, false, true},
  };
  for (const Row& row : rows) {
    const AuthDecision d = auth_matrix(row.h, row.c, row.s);
    SCOPED_TRACE(testing::Message() << "H=" << row.h << " C=" << row.c << " S=" << row.s);
    EXPECT_EQ(d.advertise, row.advertise);
    EXPECT_EQ(d.proxy, row.proxy);
    EXPECT_EQ(d.gateway_authenticates, row.gateway);
    EXPECT_FALSE(d.proxy && d.gateway_authenticates) << "never both on one connection";
    // Only row 8 lends the gateway's own login, and only to clients it authenticated.
    EXPECT_EQ(d.require_client_auth, row.h && row.c && row.s);
  }
}

constexpr auto kInitial = SaslPosition::kInitialResponse;
constexpr auto kNext = SaslPosition::kContinuation;

TEST(SaslBase64, ZeroLengthResponseDependsOnThePosition) {
  // RFC 4954 §4: "=" alone is the empty initial response (BR-08); after a 334 the empty
  // response is the empty line (probe round 15: it was refused), and "=" is read as one too
  // (BR-08's third trigger).
  EXPECT_EQ(decode_sasl_base64("=", kInitial), std::optional<std::string>(""));
  EXPECT_EQ(decode_sasl_base64("", kInitial), std::nullopt);  // no response at all
  EXPECT_EQ(decode_sasl_base64("", kNext), std::optional<std::string>(""));
  EXPECT_EQ(decode_sasl_base64("=", kNext), std::optional<std::string>(""));
  for (auto position : {kInitial, kNext}) {
    EXPECT_EQ(decode_sasl_base64("==", position), std::nullopt);
    EXPECT_EQ(decode_sasl_base64("====", position), std::nullopt);
  }
}

TEST(SaslBase64, DecodesCanonicalTextWithAndWithoutPadding) {
  EXPECT_EQ(decode_sasl_base64("AGFsaWNlAHMzY3JldA==", kNext), "\0alice\0s3cret"s);
  EXPECT_EQ(decode_sasl_base64("YWJj", kNext), "abc");
  EXPECT_EQ(decode_sasl_base64("YWI=", kNext), "ab");
  EXPECT_EQ(decode_sasl_base64("YQ==", kNext), "a");
  EXPECT_EQ(decode_sasl_base64("AP8A/w==", kNext), "\0\xff\0\xff"s);  // any octet survives
}

TEST(SaslBase64, RefusesEverythingElse) {  // BR-11
  for (const char* bad : {"YWJ", "YWJjZ", "YWJjZGV", "YW=j", "Y===", "=YWJ", "YWJj=",
                          "YW Jj", "YWJj\t", " YWJj", "YW\r\nJj", "YWJ!", "YWJ-", "YWJ_",
                          "YWJjZA=A", "YWJjZA=\0"}) {
    EXPECT_EQ(decode_sasl_base64(bad, kNext), std::nullopt) << '"' << bad << '"';
  }
  EXPECT_EQ(decode_sasl_base64("YWJj\0ZGVm"s, kNext), std::nullopt);  // NUL inside
}

TEST(SaslBase64, RefusesNonZeroPadBits) {  // RFC 4648 §3.5, probe round 50
  EXPECT_EQ(decode_sasl_base64("YQ==", kNext), "a");
  EXPECT_EQ(decode_sasl_base64("YWI=", kNext), "ab");
  for (const char* bad : {"YR==", "YZ==", "Yf==", "YWJ=", "YWL=", "AGFsaWNlAHMzY3JldB=="}) {
    EXPECT_EQ(decode_sasl_base64(bad, kNext), std::nullopt) << bad;
    EXPECT_EQ(decode_sasl_base64(bad, kInitial), std::nullopt) << bad;
  }
}

TEST(SaslBase64, LongInputNeverReadsPastTheEnd) {
  std::string text(65536, 'A');
  auto decoded = decode_sasl_base64(text, kNext);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->size(), 65536u / 4 * 3);
  text.back() = '=';
  text[text.size() - 2] = '=';
  decoded = decode_sasl_base64(text, kNext);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->size(), 65536u / 4 * 3 - 2);
}

TEST(SaslBase64, EncodeRoundTrips) {
  for (std::string bytes : {""s, "a"s, "ab"s, "abc"s, "\0user\0p\xc3\xa4ss"s, std::string(1000, '\xff')}) {
    const std::string text = encode_base64(bytes);
    EXPECT_EQ(text.size() % 4, 0u);
    if (bytes.empty()) {
      EXPECT_EQ(text, "");
    } else {
      EXPECT_EQ(decode_sasl_base64(text, kNext), bytes);
    }
  }
}

TEST(ParsePlain, SplitsAuthzidAuthcidAndPassword) {
  PlainCredentials c;
  ASSERT_EQ(parse_plain("\0alice\0s3cret"s, c), PlainError::kNone);
  EXPECT_EQ(c.authzid, "");
  EXPECT_EQ(c.authcid, "alice");
  EXPECT_EQ(c.password, "s3cret");
  ASSERT_EQ(parse_plain("bob\0alice\0pa ss"s, c), PlainError::kNone);
  EXPECT_EQ(c.authzid, "bob");
  EXPECT_EQ(c.authcid, "alice");
  EXPECT_EQ(c.password, "pa ss");  // spaces are password octets
  // UTF-8 anywhere (RFC 4616 §2: UTF8SAFE).
  ASSERT_EQ(parse_plain("j\xc3\xb6rg\0j\xc3\xb6rg\0P\xc3\xa4ss \xe2\x82\xac"s, c), PlainError::kNone);
  EXPECT_EQ(c.password, "P\xc3\xa4ss \xe2\x82\xac");
}

TEST(ParsePlain, MalformedMessagesAreRefused) {
  PlainCredentials c;
  const std::string bad[] = {
      ""s,                          // "AUTH PLAIN =" (BR-08)
      "alice"s,                     // no NUL
      "\0alice"s,                   // one NUL
      "\0alice\0pw\0"s,             // three NULs
      "\0\0pw"s,                    // empty authentication identity
      "\0alice\0"s,                 // empty password
      "\0al\x01ice\0pw"s,           // control character in authcid
      "\0alice\x7f\0pw"s,           // DEL
      "b\x07ob\0alice\0pw"s,        // control character in authzid
      "\0ali\r\nce\0pw"s,           // CRLF in authcid
  };
  for (const std::string& message : bad) {
    EXPECT_EQ(parse_plain(message, c), PlainError::kMalformed) << testing::PrintToString(message);
  }
}

TEST(ParsePlain, FieldsThatAreNotUtf8AreRefused) {
  // A Latin-1 password, a lone continuation octet, an overlong form, a surrogate, a cut-off
  // sequence: in each of the three fields. Before probe round 12 these reached the decision
  // request, whose attribute values gRPC must carry as UTF-8, and the node's shared decision
  // stream broke (454 4.7.0 for the client, every decision in flight failed).
  for (const std::string& octets : {"P\xe4ss"s, "\x80"s, "\xc0\xaf"s, "\xed\xa0\x80"s, "\xe2\x82"s, "\xff"s}) {
    PlainCredentials c;
    EXPECT_EQ(parse_plain("\0alice\0"s + octets, c), PlainError::kMalformed) << "password";
    EXPECT_EQ(parse_plain("\0"s + octets + "\0pw"s, c), PlainError::kMalformed) << "authcid";
    EXPECT_EQ(parse_plain(octets + "\0alice\0pw"s, c), PlainError::kMalformed) << "authzid";
  }
}

TEST(ParsePlain, UnicodeControlCharactersInIdentitiesAreRefused) {
  // Probe round 23: NEL (U+0085, a C1 control and a line break to many readers) and U+2028
  // in the authorization identity got 235 and went into the audit trail. Every control
  // character common::printable_line would replace is refused, in either identity; the
  // password may hold anything that is UTF-8.
  for (const std::string& control :
       {"\xc2\x85"s, "\xc2\x9b"s, "\xc2\x80"s, "\xe2\x80\xa8"s, "\xe2\x80\xa9"s, "\xe2\x80\xae"s,
        "\xe2\x81\xa6"s, "\t"s}) {
    PlainCredentials c;
    EXPECT_EQ(parse_plain("bo"s + control + "b\0alice\0pw"s, c), PlainError::kMalformed)
        << "authzid " << testing::PrintToString(control);
    EXPECT_EQ(parse_plain("\0ali"s + control + "ce\0pw"s, c), PlainError::kMalformed)
        << "authcid " << testing::PrintToString(control);
    EXPECT_EQ(parse_plain("\0alice\0p"s + control + "w"s, c), PlainError::kNone)
        << "password " << testing::PrintToString(control);
    EXPECT_FALSE(is_printable_identity("x"s + control));
  }
  // Letters of any script, and the bidirectional marks that Hebrew and Arabic text uses.
  for (const std::string& name : {"j\xc3\xbcrgen"s, "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d\xe2\x80\x8f"s,
                                  "\xe5\xb1\xb1\xe7\x94\xb0"s}) {
    PlainCredentials c;
    EXPECT_EQ(parse_plain("\0"s + name + "\0pw"s, c), PlainError::kNone) << name;
    EXPECT_EQ(c.authcid, name);
    EXPECT_TRUE(is_printable_identity(name)) << name;
  }
}

TEST(AuthPipelining, OnlyOneRoundTripMechanismsWithAnInitialResponseMayBeFollowed) {
  // RFC 4954 §4: PLAIN and EXTERNAL with an initial response do not end the group.
  EXPECT_FALSE(auth_ends_pipeline_group("PLAIN", true));
  EXPECT_FALSE(auth_ends_pipeline_group("EXTERNAL", true));
  EXPECT_TRUE(auth_ends_pipeline_group("PLAIN", false));   // a 334 comes first
  EXPECT_TRUE(auth_ends_pipeline_group("LOGIN", true));    // two round trips
  EXPECT_TRUE(auth_ends_pipeline_group("LOGIN", false));
  EXPECT_TRUE(auth_ends_pipeline_group("CRAM-MD5", false));
  EXPECT_TRUE(auth_ends_pipeline_group("SCRAM-SHA-256", true));  // more than one round trip
  EXPECT_FALSE(auth_command_ends_pipeline_group("PLAIN AGFsaWNlAHMzY3JldA=="));
  EXPECT_FALSE(auth_command_ends_pipeline_group("plain ="));
  EXPECT_FALSE(auth_command_ends_pipeline_group("Plain AGFsaWNlAHMzY3JldA==  "));
  EXPECT_TRUE(auth_command_ends_pipeline_group("PLAIN"));
  EXPECT_TRUE(auth_command_ends_pipeline_group("PLAIN "));
  EXPECT_TRUE(auth_command_ends_pipeline_group("LOGIN YWxpY2U="));
  EXPECT_TRUE(auth_command_ends_pipeline_group(""));
}

TEST(SaslCancel, OnlyALoneAsterisk) {  // BR-09
  EXPECT_TRUE(is_sasl_cancel("*"));
  EXPECT_FALSE(is_sasl_cancel("**"));
  EXPECT_FALSE(is_sasl_cancel(" *"));
  EXPECT_FALSE(is_sasl_cancel("*="));
  EXPECT_FALSE(is_sasl_cancel(""));
}

}  // namespace
}  // namespace gw::smtp

namespace gw::smtp {
namespace {

// RFC 4954 §4: the initial response only goes on the AUTH line when the line, CRLF
// included, stays within 512 octets (probe round 31).
TEST(AuthCommandLine, InitialResponseOnlyWhenTheLineFits) {
  std::string deferred = "stale";
  EXPECT_EQ(auth_command_line("PLAIN", "", deferred), "AUTH PLAIN\r\n");
  EXPECT_EQ(deferred, "");
  EXPECT_EQ(auth_command_line("PLAIN", "=", deferred), "AUTH PLAIN =\r\n");
  EXPECT_EQ(deferred, "");
  // "AUTH PLAIN " is 11 octets and CRLF 2: a 499-octet response makes exactly 512.
  const std::string fits(499, 'A');
  const std::string line = auth_command_line("PLAIN", fits, deferred);
  EXPECT_EQ(line.size(), 512u);
  EXPECT_EQ(line, "AUTH PLAIN " + fits + "\r\n");
  EXPECT_EQ(deferred, "");
  const std::string too_long(500, 'A');
  EXPECT_EQ(auth_command_line("PLAIN", too_long, deferred), "AUTH PLAIN\r\n");
  EXPECT_EQ(deferred, too_long);
  // Any mechanism: a long XOAUTH2 token waits for the 334 as well.
  const std::string token(4000, 'B');
  EXPECT_EQ(auth_command_line("XOAUTH2", token, deferred), "AUTH XOAUTH2\r\n");
  EXPECT_EQ(deferred, token);
}

}  // namespace
}  // namespace gw::smtp
