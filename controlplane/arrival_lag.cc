#include "controlplane/arrival_lag.h"

#include <algorithm>

namespace gw::controlplane {

std::chrono::microseconds ArrivalLag::observe(std::int64_t sent_steady_us,
                                              Clock::time_point arrived) {
  if (sent_steady_us <= 0) return std::chrono::microseconds(0);
  const std::int64_t arrived_us =
      std::chrono::duration_cast<std::chrono::microseconds>(arrived.time_since_epoch()).count();
  // Wraps are impossible in practice (steady clocks count from boot); saturate anyway.
  const std::int64_t offset = arrived_us - sent_steady_us;
  const std::int64_t bucket = arrived_us / std::chrono::duration_cast<std::chrono::microseconds>(
                                               kBucketLength)
                                               .count();
  if (current_bucket_ < 0 || bucket - current_bucket_ >= static_cast<std::int64_t>(kBuckets)) {
    minima_.fill(kNone);
  } else {
    for (std::int64_t b = current_bucket_ + 1; b <= bucket; ++b) {
      minima_[static_cast<std::size_t>(b % static_cast<std::int64_t>(kBuckets))] = kNone;
    }
  }
  current_bucket_ = std::max(current_bucket_, bucket);
  auto& newest = minima_[static_cast<std::size_t>(current_bucket_ % static_cast<std::int64_t>(kBuckets))];
  newest = std::min(newest, offset);
  const std::int64_t base = *std::min_element(minima_.begin(), minima_.end());
  return std::chrono::microseconds(std::max<std::int64_t>(0, offset - base));
}

}  // namespace gw::controlplane
