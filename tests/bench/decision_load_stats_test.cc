// Tests of gw-decision-load's latency summary: nearest-rank percentiles and the recorder.
#include "tests/bench/decision_load_stats.h"

#include <gtest/gtest.h>

#include <numeric>
#include <thread>
#include <vector>

namespace gw::bench {
namespace {

TEST(DecisionLoadStats, NearestRankOnOneToHundred) {
  std::vector<std::int64_t> v(100);
  std::iota(v.begin(), v.end(), 1);
  EXPECT_EQ(nearest_rank(v, 50), 50);
  EXPECT_EQ(nearest_rank(v, 99), 99);
  EXPECT_EQ(nearest_rank(v, 99.9), 100);  // rank ceil(99.9)
  EXPECT_EQ(nearest_rank(v, 90), 90);
  EXPECT_EQ(nearest_rank(v, 100), 100);
  EXPECT_EQ(nearest_rank(v, 0.5), 1);
  EXPECT_EQ(nearest_rank({}, 99), 0);
}

TEST(DecisionLoadStats, SummarizeSortsAndKeepsTheTail) {
  // 990 fast samples and 10 slow ones: p99 is still fast, p99.9 and max see the tail.
  std::vector<std::int64_t> v(990, 100);
  for (int i = 0; i < 10; ++i) v.insert(v.begin() + i * 50, 5000 + i);
  const LatencySummary s = summarize(v);
  EXPECT_EQ(s.count, 1000u);
  EXPECT_EQ(s.min_us, 100);
  EXPECT_EQ(s.p50_us, 100);
  EXPECT_EQ(s.p99_us, 100);
  EXPECT_EQ(s.p999_us, 5008);  // rank 999 of 1000
  EXPECT_EQ(s.max_us, 5009);
  EXPECT_NEAR(s.mean_us, (990 * 100 + 10 * 5000 + 45) / 1000.0, 1e-9);
  const auto j = to_json(s);
  EXPECT_EQ(j["p99"], 100);
  EXPECT_EQ(j["max"], 5009);
}

TEST(DecisionLoadStats, RecorderCountsFromManyThreads) {
  Recorder r;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&r, t] {
      for (int i = 0; i < 1000; ++i) {
        if (i % 10 == 0) {
          r.error(t % 2 ? "UNAVAILABLE" : "DEADLINE_EXCEEDED");
        } else {
          r.ok(i, i, "VERDICT_CONTINUE");
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto totals = r.take();
  EXPECT_EQ(totals.latency_us.size(), 3600u);
  EXPECT_EQ(totals.verdicts.at("VERDICT_CONTINUE"), 3600u);
  EXPECT_EQ(totals.errors.at("UNAVAILABLE"), 200u);
  EXPECT_EQ(totals.errors.at("DEADLINE_EXCEEDED"), 200u);
  EXPECT_TRUE(r.take().latency_us.empty());
}

}  // namespace
}  // namespace gw::bench
