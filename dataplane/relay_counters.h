// Per-service counts of a relay node's sessions and messages, for its /metrics endpoint
// (DESIGN.md §8). Node-wide decision outcomes stay in PolicyCounters.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace gw::metrics {
class ExpositionWriter;
}

namespace gw::dataplane {

/// The counts of one service on this node; relaxed atomics, updated by its sessions (any
/// thread) and read by the metrics endpoint. Thread-safe.
struct ServiceCounters {
  std::atomic<std::uint64_t> sessions{0};          // accepted and handed to a session
  std::atomic<std::uint64_t> sessions_refused{0};  // over max_sessions(_per_client): 421/closed
  std::atomic<std::int64_t> sessions_active{0};    // sessions running now
  std::atomic<std::uint64_t> delivered{0};         // messages the upstream accepted (2xx)
  std::atomic<std::uint64_t> upstream_refused{0};  // messages the upstream answered 4xx/5xx
  std::atomic<std::uint64_t> refused{0};  // messages the gateway refused: content defects
                                          // (bare CR/LF, NUL, size, line length, 8-bit)
                                          // or the DATA policy's reply
  std::atomic<std::uint64_t> failed{0};  // messages answered 4xx for an upstream fault, or
                                         // 451 4.3.0 for a DATA decision that did not come
  std::atomic<std::uint64_t> delivered_octets{0};  // octets of delivered messages as the
                                                   // client sent them, unstuffed, terminator
                                                   // excluded (before any DATA rewrite)
  std::atomic<std::uint64_t> upstream_failures{0};  // upstream connect/protocol/timeout faults

  /// Policy decisions of the service's sessions, by what the session did with them (the
  /// verdict names gctld and `gctl audit` use, plus the node's own fail-safe outcomes).
  enum class DecisionOutcome { kContinue, kReject, kTempfail, kUnavailable, kFailedOpen };
  static constexpr std::size_t kDecisionOutcomes = 5;
  std::array<std::atomic<std::uint64_t>, kDecisionOutcomes> decisions{};
  void count_decision(DecisionOutcome outcome) {
    decisions[static_cast<std::size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
  }
};

/// Holds a ServiceCounters per service name, created on first use and kept for the life of
/// the node (a deleted service's counts stay, as Prometheus counters must not go back).
/// Thread-safe: for_service() takes a mutex (once per accepted connection); the counters
/// themselves are lock-free.
class RelayCounters {
 public:
  /// The counters of service `name` (created at zero if new). Never null.
  std::shared_ptr<ServiceCounters> for_service(std::string_view name);

  /// Writes gw_relay_sessions_total, gw_relay_sessions_refused_total,
  /// gw_relay_sessions_active, gw_relay_messages_total{outcome=delivered|upstream_refused|
  /// refused|failed}, gw_relay_delivered_octets_total, gw_relay_upstream_failures_total and
  /// gw_policy_decisions_total{outcome=continue|reject|tempfail|unavailable|failed_open},
  /// each labelled with `service`, services in name order.
  void write(metrics::ExpositionWriter& out) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<ServiceCounters>, std::less<>> services_;
};

}  // namespace gw::dataplane
