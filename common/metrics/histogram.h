// A latency histogram that many threads update without a lock (DESIGN.md §8 metrics).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "common/metrics/exposition.h"

namespace gw::metrics {

/// Durations counted into fixed buckets (upper bounds in microseconds, ascending), plus their
/// count and sum: a Prometheus histogram in seconds. observe() is a few relaxed atomic
/// increments; write() reads them without stopping writers, so a scrape may see a sum and
/// a count a few observations apart (Prometheus tolerates that). Thread-safe.
class LatencyHistogram {
 public:
  static constexpr std::size_t kMaxBuckets = 24;

  /// `bounds_us`: ascending upper bounds in µs, at most kMaxBuckets (the +Inf bucket is
  /// implicit). Throws std::invalid_argument otherwise.
  explicit LatencyHistogram(std::initializer_list<std::uint64_t> bounds_us);

  /// Counts one duration (negative durations count as zero).
  void observe(std::chrono::microseconds duration);

  /// Writes the family `name` (type histogram, `help`): cumulative `_bucket` samples with
  /// `le` in seconds, `le="+Inf"`, `_sum` in seconds and `_count`, each with `labels`
  /// before `le`.
  void write(ExpositionWriter& out, std::string_view name, std::string_view help) const;

  /// Observations so far.
  [[nodiscard]] std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::array<std::uint64_t, kMaxBuckets> bounds_us_{};
  std::size_t buckets_ = 0;
  std::array<std::atomic<std::uint64_t>, kMaxBuckets + 1> counts_{};  // per bucket, +Inf last
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_us_{0};
};

}  // namespace gw::metrics
