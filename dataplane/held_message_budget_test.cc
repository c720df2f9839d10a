// HeldMessageBudget / HeldMessageShare: the node-wide bound on message octets held for DATA
// decisions (probe round 36: five 30 MB messages took grelayd from 93 to 546 MB).
#include "dataplane/held_message_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace gw::dataplane {
namespace {

TEST(HeldMessageBudget, SharesGrowUntilTheBoundAndGiveBackWhenDone) {
  HeldMessageBudget budget(1024 * 1024);
  {
    HeldMessageShare a(&budget);
    EXPECT_TRUE(a.cover(1000));
    EXPECT_EQ(budget.held(), 1000u) << "exactly what is held";
    EXPECT_TRUE(a.cover(600 * 1024));
    HeldMessageShare b(&budget);
    EXPECT_TRUE(b.cover(300 * 1024));
    EXPECT_FALSE(b.cover(500 * 1024)) << "a and b together would pass 1 MiB";
    EXPECT_LE(budget.held(), budget.capacity());
    EXPECT_TRUE(b.cover(400 * 1024)) << "what is left may still be taken exactly";
    EXPECT_EQ(budget.held(), 1000u * 1024);
  }
  EXPECT_EQ(budget.held(), 0u) << "both shares given back";
}

TEST(HeldMessageBudget, ManySmallMessagesAddUpToWhatTheyHold) {
  // Probe round 37: reserved in 64 KiB steps, four 10 KB messages passed a 200,000 bound.
  HeldMessageBudget budget(200000);
  std::vector<std::unique_ptr<HeldMessageShare>> shares;
  for (int i = 0; i < 19; ++i) {
    shares.push_back(std::make_unique<HeldMessageShare>(&budget));
    for (std::uint64_t size = 1000; size <= 10000; size += 1000) {
      ASSERT_TRUE(shares.back()->cover(size)) << "message " << i << " at " << size;
    }
  }
  EXPECT_EQ(budget.held(), 190000u);
  HeldMessageShare last(&budget);
  EXPECT_TRUE(last.cover(10000));
  EXPECT_FALSE(last.cover(10001));
  EXPECT_EQ(budget.held(), 200000u) << "a refused cover takes nothing";
}

TEST(HeldMessageBudget, ZeroAndNullBoundNothing) {
  HeldMessageBudget unbounded(0);
  HeldMessageShare big(&unbounded);
  EXPECT_TRUE(big.cover(std::uint64_t{1} << 40));
  HeldMessageShare none(nullptr);
  EXPECT_TRUE(none.cover(std::uint64_t{1} << 40));
}

TEST(HeldMessageBudget, ConcurrentSharesNeverPassTheBound) {
  HeldMessageBudget budget(10 * 1024 * 1024);
  std::vector<std::thread> threads;
  std::atomic<int> refused{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 200; ++round) {
        HeldMessageShare share(&budget);
        for (std::uint64_t size = 0; size <= 2 * 1024 * 1024; size += 100 * 1024) {
          if (!share.cover(size)) {
            ++refused;
            break;
          }
          ASSERT_LE(budget.held(), budget.capacity());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(budget.held(), 0u);
}

}  // namespace
}  // namespace gw::dataplane
