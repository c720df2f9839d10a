// Latency summary and the thread-safe recorder of gw-decision-load.
#include "tests/bench/decision_load_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace gw::bench {

std::int64_t nearest_rank(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto n = static_cast<double>(sorted.size());
  // The small epsilon keeps 99.9% of 1000 at rank 999 (p / 100 * n is 999.0000000000001).
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * n - 1e-9));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

LatencySummary summarize(std::vector<std::int64_t>& samples_us) {
  LatencySummary s;
  if (samples_us.empty()) return s;
  std::sort(samples_us.begin(), samples_us.end());
  s.count = samples_us.size();
  const double sum = std::accumulate(samples_us.begin(), samples_us.end(), 0.0);
  s.mean_us = sum / static_cast<double>(s.count);
  s.min_us = samples_us.front();
  s.p50_us = nearest_rank(samples_us, 50);
  s.p90_us = nearest_rank(samples_us, 90);
  s.p99_us = nearest_rank(samples_us, 99);
  s.p999_us = nearest_rank(samples_us, 99.9);
  s.max_us = samples_us.back();
  return s;
}

nlohmann::json to_json(const LatencySummary& s) {
  return {{"count", s.count},   {"mean", std::round(s.mean_us * 10) / 10},
          {"min", s.min_us},    {"p50", s.p50_us},
          {"p90", s.p90_us},    {"p99", s.p99_us},
          {"p99.9", s.p999_us}, {"max", s.max_us}};
}

void Recorder::ok(std::int64_t latency_us, std::int64_t service_us, const std::string& verdict) {
  std::lock_guard lock(mu_);
  totals_.latency_us.push_back(latency_us);
  totals_.service_us.push_back(service_us);
  ++totals_.verdicts[verdict];
}

void Recorder::error(const std::string& code) {
  std::lock_guard lock(mu_);
  ++totals_.errors[code];
}

Recorder::Totals Recorder::take() {
  std::lock_guard lock(mu_);
  return std::exchange(totals_, Totals{});
}

}  // namespace gw::bench
