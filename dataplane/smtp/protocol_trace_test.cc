// Tests of the protocol trace: every line traced in order, AUTH payloads never.
#include "dataplane/smtp/protocol_trace.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gw::smtp {
namespace {

class ProtocolTraceTest : public ::testing::Test {
 protected:
  std::vector<std::string> lines_;
  ProtocolTrace trace_{[this](TraceDirection d, std::string_view text) {
    lines_.push_back(std::string(trace_direction_name(d)) + " " + std::string(text));
  }};

  /// True if no traced line contains `secret`.
  bool nowhere(std::string_view secret) const {
    for (const auto& line : lines_) {
      if (line.find(secret) != std::string::npos) return false;
    }
    return true;
  }
};

TEST_F(ProtocolTraceTest, CommandsAndRepliesOfBothLegsAreTracedLineByLine) {
  trace_.to_client("220 relay ESMTP relay ready\r\n");
  trace_.client_line("EHLO [127.0.0.1]", false);
  trace_.to_upstream("EHLO relay.example\r\n");
  trace_.from_upstream(Reply{250, {"mx.example", "SIZE 1000", "8BITMIME"}});
  trace_.to_client("250-relay Hello [127.0.0.1]\r\n250 SIZE 1000\r\n");
  trace_.client_line("MAIL FROM:<a@example.org>", false);
  trace_.to_upstream("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n");
  trace_.message(TraceDirection::kFromClient, 1234);
  trace_.tls(TraceDirection::kToUpstream, true, "TLSv1.3 TLS_AES_256_GCM_SHA384");
  trace_.tls(TraceDirection::kFromClient, false, "wrong version number");
  EXPECT_EQ(lines_, (std::vector<std::string>{
                        "g>c 220 relay ESMTP relay ready",
                        "c>g EHLO [127.0.0.1]",
                        "g>u EHLO relay.example",
                        "u>g 250-mx.example",
                        "u>g 250-SIZE 1000",
                        "u>g 250 8BITMIME",
                        "g>c 250-relay Hello [127.0.0.1]",
                        "g>c 250 SIZE 1000",
                        "c>g MAIL FROM:<a@example.org>",
                        "g>u MAIL FROM:<a@example.org>",
                        "g>u RCPT TO:<b@example.net>",
                        "c>g [message content, 1234 octets]",
                        "g>u [TLS established: TLSv1.3 TLS_AES_256_GCM_SHA384]",
                        "c>g [TLS handshake failed: wrong version number]",
                    }));
}

TEST_F(ProtocolTraceTest, ClientAuthPayloadsAreRedactedForEveryMechanismAndSpelling) {
  const std::string plain = "AGFsaWNlAHMzY3JldC1wYXNz";  // \0alice\0s3cret-pass
  trace_.client_line("AUTH PLAIN " + plain, false);
  trace_.client_line("auth plain " + plain, false);
  trace_.client_line("AUTH LOGIN", false);
  trace_.to_client("334 VXNlcm5hbWU6\r\n");
  trace_.client_line("YWxpY2U=", true);
  trace_.client_line("*", true);
  trace_.client_line("AUTH X-TOKEN:" + plain, false);  // no SP after the mechanism
  trace_.client_line("AUTH  " + plain, false);          // two spaces: no mechanism
  // A response sent out of turn (pipelined behind a refused AUTH) is read as a command.
  trace_.client_line("czNjcmV0LXBhc3M=", false);
  // Trailing blanks (RFC 5321 §4.1.1 tolerance) must not move the cut (probe round 48).
  trace_.client_line("AUTH PLAIN " + plain + std::string(40, ' '), false);
  trace_.client_line("AUTH LOGIN YWxpY2U=\t\t\t\t\t\t\t\t\t\t\t\t", false);
  trace_.client_line("AUTH PLAIN ", false);
  // A credential where the mechanism goes: longer than any mechanism name (RFC 4422 §3.1).
  trace_.client_line("AUTH AGJvYgBIdW50ZXIyeHl6", false);
  trace_.client_line("AUTH DIGEST-MD5", false);
  trace_.client_line("AUTH SECRETPASS7", false);  // upper case, short: still no mechanism
  trace_.client_line_refused("too long");
  EXPECT_TRUE(nowhere(plain));
  EXPECT_TRUE(nowhere("YWxpY2U="));
  EXPECT_TRUE(nowhere("czNjcmV0LXBhc3M="));
  EXPECT_TRUE(nowhere("VXNlcm5hbWU6"));
  EXPECT_EQ(lines_, (std::vector<std::string>{
                        "c>g AUTH PLAIN [redacted]",
                        "c>g auth plain [redacted]",
                        "c>g AUTH LOGIN",
                        "g>c 334 [challenge redacted]",
                        "c>g [SASL response redacted]",
                        "c>g *",
                        "c>g AUTH [redacted]",
                        "c>g AUTH [redacted]",
                        "c>g [unrecognized line redacted, 16 octets]",
                        "c>g AUTH PLAIN [redacted]",
                        "c>g AUTH LOGIN [redacted]",
                        "c>g AUTH PLAIN",
                        "c>g AUTH [redacted]",
                        "c>g AUTH DIGEST-MD5",
                        "c>g AUTH [redacted]",
                        "c>g [line refused: too long]",
                    }));
  EXPECT_TRUE(nowhere("AGJvYgBIdW50ZXIyeHl6"));
  EXPECT_TRUE(nowhere("SECRETPASS7"));
}

TEST_F(ProtocolTraceTest, UpstreamSaslResponsesAreRedactedUntilTheExchangeEnds) {
  trace_.to_upstream("AUTH LOGIN\r\n");
  trace_.from_upstream(Reply{334, {"VXNlcm5hbWU6"}});
  trace_.to_upstream("cmVsYXk=\r\n");
  trace_.from_upstream(Reply{334, {"UGFzc3dvcmQ6"}});
  trace_.to_upstream("dXBzdHJlYW0tcHc=\r\n");
  trace_.from_upstream(Reply{235, {"2.7.0 Authentication successful"}});
  trace_.to_upstream("MAIL FROM:<a@example.org>\r\n");
  EXPECT_TRUE(nowhere("cmVsYXk="));
  EXPECT_TRUE(nowhere("dXBzdHJlYW0tcHc="));
  EXPECT_EQ(lines_, (std::vector<std::string>{
                        "g>u AUTH LOGIN",
                        "u>g 334 [challenge redacted]",
                        "g>u [SASL response redacted]",
                        "u>g 334 [challenge redacted]",
                        "g>u [SASL response redacted]",
                        "u>g 235 2.7.0 Authentication successful",
                        "g>u MAIL FROM:<a@example.org>",
                    }));
}

TEST_F(ProtocolTraceTest, LinesAreEscapedAndBounded) {
  trace_.client_line("NOOP \x01\x7f" + std::string(2000, 'x'), false);
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_EQ(lines_[0].find('\x01'), std::string::npos);
  EXPECT_LT(lines_[0].size(), ProtocolTrace::kMaxLineOctets + 64);
}

}  // namespace
}  // namespace gw::smtp
