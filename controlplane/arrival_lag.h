// How much later than usual a node's decision call reached gctld: the time it already
// waited that gctld cannot see from its own arrival time (a stalled or backlogged gctld;
// probe round 41: calls read after a 3 s stall were decided and audited as "continue"
// while the node had answered 454 long before).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <limits>

namespace gw::controlplane {

/// One connection's estimate of arrival lag, from the node's send times.
///
/// Each call carries the node's steady-clock time when the node began to wait for it
/// (DecisionRequest.sent_steady_us, µs; the clocks of node and gctld are unrelated). The
/// difference arrival − sent is transit + clock offset + lag; its smallest value over the
/// last ten minutes (a minimum per minute, as LEDBAT keeps its base delay, RFC 6817 §3.4.2)
/// stands for transit + offset, so the excess is the lag. The window bounds the error two
/// clocks running at different rates can build up (50 ppm: 30 ms). A first call that
/// arrived late sets no lasting baseline: any earlier-looking call lowers it.
///
/// Not thread-safe: one per stream (its reads are serialised), or guarded by the caller.
class ArrivalLag {
 public:
  using Clock = std::chrono::steady_clock;

  /// The lag of a call sent at `sent_steady_us` (node clock, µs; 0 = unknown → 0) that
  /// arrived at `arrived` (gctld's steady clock). Never negative.
  std::chrono::microseconds observe(std::int64_t sent_steady_us, Clock::time_point arrived);

 private:
  static constexpr std::size_t kBuckets = 10;
  static constexpr std::chrono::seconds kBucketLength{60};
  static constexpr std::int64_t kNone = std::numeric_limits<std::int64_t>::max();

  std::array<std::int64_t, kBuckets> minima_{kNone, kNone, kNone, kNone, kNone,
                                             kNone, kNone, kNone, kNone, kNone};
  std::int64_t current_bucket_ = -1;  // index (arrival minutes) of minima_'s newest bucket
};

}  // namespace gw::controlplane
