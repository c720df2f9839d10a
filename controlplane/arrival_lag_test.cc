// ArrivalLag: the lag of a decision call beyond its connection's usual transit, from the
// node's send times on an unrelated clock (probe round 41: calls read after a gctld stall
// were decided and audited though the node had given up on them).
#include "controlplane/arrival_lag.h"

#include <gtest/gtest.h>

namespace gw::controlplane {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = ArrivalLag::Clock;

TEST(ArrivalLag, UnknownSendTimeMeansNoLag) {
  ArrivalLag lag;
  EXPECT_EQ(lag.observe(0, Clock::now()), microseconds(0));
  EXPECT_EQ(lag.observe(-5, Clock::now()), microseconds(0));
}

TEST(ArrivalLag, TheExcessOverTheSmallestDifferenceIsTheLag) {
  ArrivalLag lag;
  const Clock::time_point t0 = Clock::time_point(seconds(100000));
  // Node clock 7 s behind gctld's, transit 300 µs.
  const std::int64_t offset_us = 7'000'000;
  auto sent_at = [&](Clock::time_point gctld_time) {
    return std::chrono::duration_cast<microseconds>(gctld_time.time_since_epoch()).count() -
           offset_us;
  };
  EXPECT_EQ(lag.observe(sent_at(t0), t0 + microseconds(300)), microseconds(0));
  EXPECT_EQ(lag.observe(sent_at(t0 + milliseconds(5)), t0 + milliseconds(5) + microseconds(300)),
            microseconds(0));
  // Sent at t0+10 ms, read 3 s later (gctld stalled): 3 s of lag, less the usual transit.
  EXPECT_EQ(lag.observe(sent_at(t0 + milliseconds(10)), t0 + milliseconds(3010)),
            microseconds(3'000'000 - 300));
  // Calls after the stall are on time again.
  EXPECT_EQ(lag.observe(sent_at(t0 + milliseconds(3020)), t0 + milliseconds(3020) + microseconds(400)),
            microseconds(100));
}

TEST(ArrivalLag, AFirstLateCallSetsNoLastingBaseline) {
  ArrivalLag lag;
  const Clock::time_point t0 = Clock::time_point(seconds(5000));
  const std::int64_t sent0 = 1'000'000;
  EXPECT_EQ(lag.observe(sent0, t0 + seconds(2)), microseconds(0)) << "nothing to compare with";
  // The next call shows the real baseline: it has no lag, and the baseline drops.
  EXPECT_EQ(lag.observe(sent0 + 2'100'000, t0 + seconds(2) + milliseconds(100)),
            microseconds(0));
  EXPECT_EQ(lag.observe(sent0 + 2'200'000, t0 + seconds(2) + milliseconds(200)),
            microseconds(0));
}

TEST(ArrivalLag, ClockDriftIsForgottenAfterTenMinutes) {
  ArrivalLag lag;
  const Clock::time_point t0 = Clock::time_point(seconds(600000));
  EXPECT_EQ(lag.observe(1'000'000, t0), microseconds(0));
  // gctld's clock runs faster: 20 minutes later the difference is 60 ms larger.
  const Clock::time_point later = t0 + seconds(1200);
  const std::int64_t sent_later = 1'000'000 + 1'200'000'000 - 60'000;
  EXPECT_EQ(lag.observe(sent_later, later), microseconds(0))
      << "the old minimum left the window: no phantom lag";
  // Within the window the minimum holds: a call 50 ms late shows 50 ms.
  EXPECT_EQ(lag.observe(sent_later + 1'000'000 - 50'000, later + seconds(1)), microseconds(50'000));
}

}  // namespace
}  // namespace gw::controlplane
