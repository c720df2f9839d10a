// The node-wide bound on message octets held for DATA decisions (DESIGN.md §7 "bounded").
#pragma once

#include <atomic>
#include <cstdint>

namespace gw::dataplane {

/// How many octets of message content the sessions of one grelayd may hold at once while a
/// DATA policy decides (the message is collected whole for it, DESIGN.md §3). Each limit of
/// a service (size, sessions) holds on its own, but without this nothing bounds their
/// product: 50 sessions of one client with 35 MiB each are 1.7 GiB of content, and the node
/// holds about three times the content of a message at the peak of its decision (the
/// content, the request, gRPC's serialized copy; probe round 36 measured +138 MB for one
/// 30 MB message). A session that cannot reserve more reads the rest of the message without
/// keeping it and answers 452 4.3.1 (RFC 5321 §4.2.2 "insufficient system storage", RFC 3463
/// X.3.1); nothing is delivered. Thread-safe (one atomic).
class HeldMessageBudget {
 public:
  /// `capacity_octets`: 0 means no bound.
  explicit HeldMessageBudget(std::uint64_t capacity_octets) : capacity_(capacity_octets) {}

  /// Takes `octets` from the budget; false (and nothing taken) when that would exceed it.
  bool try_reserve(std::uint64_t octets) {
    if (capacity_ == 0) {
      held_.fetch_add(octets, std::memory_order_relaxed);
      return true;
    }
    std::uint64_t now = held_.load(std::memory_order_relaxed);
    do {
      if (octets > capacity_ - now) return false;
    } while (!held_.compare_exchange_weak(now, now + octets, std::memory_order_relaxed));
    return true;
  }
  /// Gives back `octets` taken by try_reserve().
  void release(std::uint64_t octets) { held_.fetch_sub(octets, std::memory_order_relaxed); }
  /// Octets held now (metrics, tests).
  [[nodiscard]] std::uint64_t held() const { return held_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t capacity() const { return capacity_; }

 private:
  const std::uint64_t capacity_;
  std::atomic<std::uint64_t> held_{0};
};

/// A session's share of a HeldMessageBudget: grows with the content collected, given back
/// when destroyed. A null budget bounds nothing (tests).
class HeldMessageShare {
 public:
  explicit HeldMessageShare(HeldMessageBudget* budget) : budget_(budget) {}
  ~HeldMessageShare() {
    if (budget_ != nullptr) budget_->release(taken_);
  }
  HeldMessageShare(const HeldMessageShare&) = delete;
  HeldMessageShare& operator=(const HeldMessageShare&) = delete;

  /// Makes the share cover `octets` in all; false when the budget has not that much left
  /// (the share keeps what it had). Exactly what is held is taken, so the shares of many
  /// small messages add up to what they hold (probe round 37: 64 KiB steps made four 10 KB
  /// messages pass a 200,000-octet bound).
  bool cover(std::uint64_t octets) {
    if (budget_ == nullptr || octets <= taken_) return true;
    if (!budget_->try_reserve(octets - taken_)) return false;
    taken_ = octets;
    return true;
  }
  /// Gives back everything taken, at once: a session that dropped its content must not
  /// keep a share while it reads the rest of the message (probe round 40: two concurrent
  /// 15 MB messages under a 20 MB bound both got 452, each pinning what it had).
  void release_all() {
    if (budget_ != nullptr) budget_->release(taken_);
    taken_ = 0;
  }

 private:
  HeldMessageBudget* budget_;
  std::uint64_t taken_ = 0;
};

}  // namespace gw::dataplane
