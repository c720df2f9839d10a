#include "common/logging.h"

#include <gtest/gtest.h>

namespace gw::common {
namespace {

TEST(LogEscape, KeepsPrintableAscii) { EXPECT_EQ(log_escape("EHLO a.example"), "EHLO a.example"); }

TEST(LogEscape, EscapesControlsPercentAndHighBytes) {
  EXPECT_EQ(log_escape("a\r\nb%s\xff"), "a\\x0d\\x0ab\\x25s\\xff");
}

TEST(LogEscape, Truncates) {
  EXPECT_EQ(log_escape(std::string(300, 'a'), 10), std::string(10, 'a') + "...");
}

TEST(InitLogging, RejectsUnknownLevel) { EXPECT_THROW(init_logging("t", "loud"), std::invalid_argument); }

}  // namespace
}  // namespace gw::common
