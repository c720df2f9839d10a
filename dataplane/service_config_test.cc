// make_service_config: zero limits take their defaults; line limits stay within what a
// session's input buffer holds (common::kMaxCommandLineLimit).
#include "dataplane/service_config.h"

#include <gtest/gtest.h>

#include "common/message_limits.h"

namespace gw::dataplane {
namespace {

gateway::v1::Service service() {
  gateway::v1::Service s;
  s.set_name("corp");
  s.set_host("127.0.0.1");
  s.set_port(2525);
  s.set_security(gateway::v1::SECURITY_NONE);
  return s;
}

TEST(ServiceConfigTest, ZeroLimitsTakeTheRfcDefaults) {
  auto cfg = make_service_config(service(), {});
  EXPECT_EQ(cfg->limits.max_command_line, 512u);  // RFC 5321 §4.5.3.1.4
  EXPECT_EQ(cfg->limits.max_auth_line, 12288u);   // RFC 4954 §4
  EXPECT_EQ(cfg->limits.max_text_line, 1000u);    // RFC 5321 §4.5.3.1.6
}

TEST(ServiceConfigTest, ConfiguredLineLimitsAreKept) {
  auto s = service();
  s.mutable_limits()->set_max_command_line(2048);
  s.mutable_limits()->set_max_auth_line(common::kMaxCommandLineLimit);
  auto cfg = make_service_config(s, {});
  EXPECT_EQ(cfg->limits.max_command_line, 2048u);
  EXPECT_EQ(cfg->limits.max_auth_line, common::kMaxCommandLineLimit);
}

// SNI and the hostname check use the name without a final dot (RFC 6066 §3, RFC 6125
// §6.4.1; probe round 45).
TEST(ServiceConfigTest, UpstreamServerNameLosesItsFinalDot) {
  auto s = service();
  s.set_host("mx.example.");
  EXPECT_EQ(make_service_config(s, {})->tls_server_name, "mx.example");
  s.set_tls_server_name("up.example.test.");
  EXPECT_EQ(make_service_config(s, {})->tls_server_name, "up.example.test");
  s.set_tls_server_name("up.example.test");
  EXPECT_EQ(make_service_config(s, {})->tls_server_name, "up.example.test");
}

// gctld refuses these; a node given them anyway (a hand-edited database, an older control
// plane) must not take a limit its 64 KiB input buffer cannot hold (probe round 8: a
// 70,000-octet line then ended the session without any reply).
TEST(ServiceConfigTest, LineLimitsBeyondTheInputBufferAreClamped) {
  auto s = service();
  s.mutable_limits()->set_max_command_line(100000);
  s.mutable_limits()->set_max_auth_line(65536);
  auto cfg = make_service_config(s, {});
  EXPECT_EQ(cfg->limits.max_command_line, common::kMaxCommandLineLimit);
  EXPECT_EQ(cfg->limits.max_auth_line, common::kMaxCommandLineLimit);
}

TEST(SessionLimitsTest, DataDecisionsGetTimeForTheirMessage) {
  // Probe round 36: five 30 MB messages at once, one got 451 4.3.0 at the fixed 1 s.
  SessionLimits limits;
  limits.decision_timeout = std::chrono::milliseconds(1000);
  using gateway::v1::SMTP_COMMAND_DATA;
  EXPECT_EQ(limits.decision_timeout_for(gateway::v1::SMTP_COMMAND_MAIL, 30'000'000),
            std::chrono::milliseconds(1000));
  EXPECT_EQ(limits.decision_timeout_for(SMTP_COMMAND_DATA, 0), std::chrono::milliseconds(1000));
  EXPECT_EQ(limits.decision_timeout_for(SMTP_COMMAND_DATA, 8 * 1024 * 1000),
            std::chrono::milliseconds(2000));
  EXPECT_GE(limits.decision_timeout_for(SMTP_COMMAND_DATA, 35 * 1024 * 1024),
            std::chrono::milliseconds(5000));
}

TEST(SessionLimitsTest, AuthDecisionsGetTimeForThePasswordHash) {
  // Probe round 40: Argon2id takes 0.1-0.5 s; at 500 ms half of four concurrent logins
  // got 454 4.7.0.
  SessionLimits limits;
  limits.decision_timeout = std::chrono::milliseconds(500);
  EXPECT_EQ(limits.decision_timeout_for(gateway::v1::SMTP_COMMAND_AUTH, 0),
            std::chrono::milliseconds(2500));
  EXPECT_EQ(limits.decision_timeout_for(gateway::v1::SMTP_COMMAND_HELO, 0),
            std::chrono::milliseconds(500));
}

}  // namespace
}  // namespace gw::dataplane
