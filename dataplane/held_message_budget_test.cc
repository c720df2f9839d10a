// HeldMessageBudget / HeldMessageShare: the node-wide bound on message octets held for DATA
// decisions (probe round 36: five 30 MB messages took grelayd from 93 to 546 MB).
#include "dataplane/held_message_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace gw::dataplane {
namespace {

TEST(HeldMessageBudget, SharesGrowUntilTheBoundAndGiveBackWhenDone) {
  HeldMessageBudget budget(1024 * 1024);
  {
    HeldMessageShare a(&budget);
    EXPECT_TRUE(a.cover(1000));
    EXPECT_EQ(budget.held(), 64u * 1024) << "reserved in 64 KiB steps";
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

TEST(HeldMessageBudget, TheLastStepIsTakenExactlyNearTheBound) {
  HeldMessageBudget budget(100 * 1024);
  HeldMessageShare a(&budget);
  EXPECT_TRUE(a.cover(1));                // 64 KiB
  EXPECT_TRUE(a.cover(90 * 1024));        // a 64 KiB step would not fit; 26 KiB does
  EXPECT_EQ(budget.held(), 90u * 1024);
  EXPECT_FALSE(a.cover(101 * 1024));
  EXPECT_EQ(budget.held(), 90u * 1024) << "a refused cover takes nothing";
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
