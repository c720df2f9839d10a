// Tests of reply parsing and per-command defaults.
#include "controlplane/policy/smtp_reply.h"

#include <gtest/gtest.h>

namespace gw::controlplane::policy {
namespace {

TEST(SmtpReply, ParsesValidReplies) {
  auto r = parse_reply("550 5.7.1 Sender ${smtp.mail.from} not allowed");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r.value().code, 550u);
  EXPECT_EQ(r.value().enhanced_code, "5.7.1");
  EXPECT_EQ(r.value().text, "Sender ${smtp.mail.from} not allowed");

  r = parse_reply("451 4.3.0 Try later");
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value().code, 451u);
  EXPECT_EQ(r.value().enhanced_code, "4.3.0");

  r = parse_reply("554 5.123.456");
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value().enhanced_code, "5.123.456");
  EXPECT_EQ(r.value().text, "");
}

TEST(SmtpReply, RefusesBadReplies) {
  EXPECT_NE(parse_reply("250 2.0.0 ok").error().find("not a failure code"), std::string::npos);
  for (const char* code : {"599 5.9.999 x", "460 4.0.0 x", "570 5.7.1 x"}) {
    const std::string error = parse_reply(code).error();
    EXPECT_NE(error.find("no defined second digit"), std::string::npos) << code << ": " << error;
  }
  EXPECT_NE(parse_reply("550 4.7.1 x").error().find("does not match"), std::string::npos);
  EXPECT_NE(parse_reply("550 Not allowed").error().find("enhanced"), std::string::npos);
  EXPECT_FALSE(parse_reply("55 5.7.1 x"));
  EXPECT_FALSE(parse_reply("5500 5.7.1 x"));
  EXPECT_FALSE(parse_reply("550"));
  EXPECT_FALSE(parse_reply("550 5.7 x"));
  EXPECT_FALSE(parse_reply("550 5.7.1x"));
  EXPECT_FALSE(parse_reply("550 5.1234.1 x"));
  EXPECT_FALSE(parse_reply("470 4.7.1 x"));
  EXPECT_NE(parse_reply("550 5.7.1 a\r\n250 ok").error().find("control"), std::string::npos);
  EXPECT_FALSE(parse_reply("550 5.7.1 " + std::string(401, 'x')));
}

TEST(SmtpReply, DefaultsPerCommand) {
  EXPECT_EQ(default_reply(Command::kHelo).code, 550u);
  EXPECT_EQ(default_reply(Command::kHelo).enhanced_code, "5.7.1");
  EXPECT_EQ(default_reply(Command::kAuth).code, 535u);
  EXPECT_EQ(default_reply(Command::kAuth).enhanced_code, "5.7.8");
  EXPECT_EQ(default_reply(Command::kMail).code, 550u);
  EXPECT_EQ(default_reply(Command::kMail).enhanced_code, "5.7.1");
  EXPECT_EQ(default_reply(Command::kRcpt).code, 550u);
  EXPECT_EQ(default_reply(Command::kRcpt).enhanced_code, "5.7.1");
  EXPECT_EQ(default_reply(Command::kData).code, 554u);
  EXPECT_EQ(default_reply(Command::kData).enhanced_code, "5.7.1");
  EXPECT_EQ(media_error_reply("x"), (SmtpReply{554, "5.6.0", "x"}));
  EXPECT_EQ(enhanced_code(451, kMediaError), "4.6.0");
  EXPECT_EQ(max_reply_text(SmtpReply{550, "5.7.1", ""}), 512u - 3 - 1 - 5 - 1 - 2);
}

}  // namespace
}  // namespace gw::controlplane::policy
