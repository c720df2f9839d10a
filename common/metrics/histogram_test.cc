// Tests of LatencyHistogram: bucket edges, cumulative output in seconds, bad bounds.
#include "common/metrics/histogram.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>
#include <vector>

namespace gw::metrics {
namespace {

using std::chrono::microseconds;

TEST(LatencyHistogram, CountsIntoBucketsAndWritesCumulativeSeconds) {
  LatencyHistogram h{100, 2500, 1000000, 2500000};
  h.observe(microseconds(0));
  h.observe(microseconds(100));  // on the bound: le is "less or equal"
  h.observe(microseconds(101));
  h.observe(microseconds(2500000));
  h.observe(microseconds(9000000));
  h.observe(microseconds(-5));  // counted as 0
  ExpositionWriter out;
  h.write(out, "gw_decision_duration_seconds", "Decision latency.");
  EXPECT_EQ(out.text(),
            "# HELP gw_decision_duration_seconds Decision latency.\n"
            "# TYPE gw_decision_duration_seconds histogram\n"
            "gw_decision_duration_seconds_bucket{le=\"0.0001\"} 3\n"
            "gw_decision_duration_seconds_bucket{le=\"0.0025\"} 4\n"
            "gw_decision_duration_seconds_bucket{le=\"1\"} 4\n"
            "gw_decision_duration_seconds_bucket{le=\"2.5\"} 5\n"
            "gw_decision_duration_seconds_bucket{le=\"+Inf\"} 6\n"
            "gw_decision_duration_seconds_sum 11.500201\n"
            "gw_decision_duration_seconds_count 6\n");
  EXPECT_EQ(h.count(), 6u);
}

TEST(LatencyHistogram, RefusesBadBounds) {
  EXPECT_THROW(LatencyHistogram({}), std::invalid_argument);
  EXPECT_THROW(LatencyHistogram({5, 3}), std::invalid_argument);
  EXPECT_THROW(LatencyHistogram({5, 5}), std::invalid_argument);
  EXPECT_THROW(LatencyHistogram({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
                                 19, 20, 21, 22, 23, 24, 25}),
               std::invalid_argument);
}

TEST(LatencyHistogram, ConcurrentObserversLoseNothing) {
  LatencyHistogram h{10, 1000};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 10000; ++i) h.observe(microseconds(t * 500));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.count(), 40000u);
  ExpositionWriter out;
  h.write(out, "x", "x");
  EXPECT_NE(out.text().find("x_bucket{le=\"0.00001\"} 10000\n"), std::string::npos);
  EXPECT_NE(out.text().find("x_bucket{le=\"0.001\"} 30000\n"), std::string::npos);
  EXPECT_NE(out.text().find("x_bucket{le=\"+Inf\"} 40000\n"), std::string::npos);
  EXPECT_NE(out.text().find("x_count 40000\n"), std::string::npos);
}

}  // namespace
}  // namespace gw::metrics
