// Nearest-rank percentiles of gw-smtp-source.
#include "tests/bench/tls/latency_summary.h"

#include <gtest/gtest.h>

namespace gw::bench {
namespace {

TEST(LatencySummary, NearestRank) {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);  // unsorted on purpose
  LatencySummary s = summarize(samples);
  EXPECT_EQ(s.count, 100u);
  EXPECT_DOUBLE_EQ(s.p50, 50);
  EXPECT_DOUBLE_EQ(s.p99, 99);
  EXPECT_DOUBLE_EQ(s.max, 100);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
}

TEST(LatencySummary, SmallAndEmpty) {
  EXPECT_DOUBLE_EQ(summarize({7}).p99, 7);
  EXPECT_DOUBLE_EQ(summarize({1, 2, 3}).p50, 2);
  EXPECT_DOUBLE_EQ(summarize({1, 2, 3}).p99, 3);
  EXPECT_EQ(summarize({}).count, 0u);
  EXPECT_DOUBLE_EQ(summarize({}).p99, 0);
}

}  // namespace
}  // namespace gw::bench
