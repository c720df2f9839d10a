// Latency samples and their summary for gw-decision-load (issue 4 "Benchmarks"): every
// sample is kept (HdrHistogram is not packaged in Debian 12), percentiles by nearest rank.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gw::bench {

/// Percentiles of a set of latencies, in microseconds. All zero for an empty set.
struct LatencySummary {
  std::size_t count = 0;
  double mean_us = 0;
  std::int64_t min_us = 0;
  std::int64_t p50_us = 0;
  std::int64_t p90_us = 0;
  std::int64_t p99_us = 0;
  std::int64_t p999_us = 0;
  std::int64_t max_us = 0;
};

/// The nearest-rank percentile `p` (0 < p <= 100) of `sorted` (ascending): the smallest
/// value with at least p% of the values at or below it. 0 for an empty vector.
std::int64_t nearest_rank(const std::vector<std::int64_t>& sorted, double p);

/// Summarizes `samples_us` (any order; sorted in place).
LatencySummary summarize(std::vector<std::int64_t>& samples_us);

/// {"count", "mean", "min", "p50", "p90", "p99", "p99.9", "max"} (µs).
nlohmann::json to_json(const LatencySummary& s);

/// Thread-safe sink for the outcome of each measured call: called from gRPC's callback
/// threads. Successful calls keep their latency (µs) and count their verdict by name;
/// failed ones count their gRPC status code by name.
class Recorder {
 public:
  /// One successful call: `latency_us` from the intended start, `service_us` from the
  /// actual send (equal in closed loop), `verdict` the Verdict enum name.
  void ok(std::int64_t latency_us, std::int64_t service_us, const std::string& verdict);
  /// One failed call with status code name `code` (e.g. "UNAVAILABLE").
  void error(const std::string& code);

  /// Everything recorded so far (moves the samples out; call once, after the run).
  struct Totals {
    std::vector<std::int64_t> latency_us;
    std::vector<std::int64_t> service_us;
    std::map<std::string, std::uint64_t> verdicts;
    std::map<std::string, std::uint64_t> errors;
  };
  Totals take();

 private:
  std::mutex mu_;
  Totals totals_;
};

}  // namespace gw::bench
