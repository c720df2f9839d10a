// LatencyHistogram: per-bucket relaxed counters, written cumulatively in seconds.
#include "common/metrics/histogram.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace gw::metrics {
namespace {

/// `us` in seconds, exactly and without trailing zeros: 100 → "0.0001", 2500000 → "2.5".
std::string seconds_text(std::uint64_t us) {
  std::string text = std::to_string(us / 1000000);
  if (const std::uint64_t fraction = us % 1000000; fraction != 0) {
    std::string digits = std::to_string(1000000 + fraction).substr(1);
    digits.erase(digits.find_last_not_of('0') + 1);
    text += "." + digits;
  }
  return text;
}

}  // namespace

LatencyHistogram::LatencyHistogram(std::initializer_list<std::uint64_t> bounds_us) {
  if (bounds_us.size() == 0 || bounds_us.size() > kMaxBuckets ||
      !std::is_sorted(bounds_us.begin(), bounds_us.end()) ||
      std::adjacent_find(bounds_us.begin(), bounds_us.end()) != bounds_us.end()) {
    throw std::invalid_argument("metrics: histogram bounds must be 1 to 24 ascending values");
  }
  std::copy(bounds_us.begin(), bounds_us.end(), bounds_us_.begin());
  buckets_ = bounds_us.size();
}

void LatencyHistogram::observe(std::chrono::microseconds duration) {
  const std::uint64_t us = duration.count() > 0 ? static_cast<std::uint64_t>(duration.count()) : 0;
  const auto first = bounds_us_.begin();
  const auto index =
      static_cast<std::size_t>(std::lower_bound(first, first + buckets_, us) - first);
  counts_[index].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(us, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void LatencyHistogram::write(ExpositionWriter& out, std::string_view name,
                             std::string_view help) const {
  out.family(name, MetricType::kHistogram, help);
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < buckets_; ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    out.sample(bucket, {{"le", seconds_text(bounds_us_[i])}}, cumulative);
  }
  cumulative += counts_[buckets_].load(std::memory_order_relaxed);
  out.sample(bucket, {{"le", "+Inf"}}, cumulative);
  out.sample(std::string(name) + "_sum", {},
             static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6);
  // The +Inf bucket and _count must agree: both from the bucket counts read above.
  out.sample(std::string(name) + "_count", {}, cumulative);
}

}  // namespace gw::metrics
