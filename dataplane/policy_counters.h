// Node-wide counts of policy decision outcomes (issue 4: "the outcome is counted" when the
// control plane is unreachable or slow; DESIGN.md §7 "Fail safe").
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace gw::dataplane {

/// Counters shared by every session of a node; relaxed atomics, read by a periodic log line
/// (`policy: decisions=... unavailable=...`) and at shutdown. Thread-safe.
struct PolicyCounters {
  std::atomic<std::uint64_t> continued{0};    // verdict continue
  std::atomic<std::uint64_t> refused{0};      // verdict reject or tempfail (policy's reply)
  std::atomic<std::uint64_t> unavailable{0};  // no answer in time / control plane down:
                                              // answered 451 4.3.0 or 454 4.7.0
  std::atomic<std::uint64_t> failed_open{0};  // no answer, service fails open: let through

  /// Total decisions asked for.
  std::uint64_t total() const {
    return continued.load(std::memory_order_relaxed) + refused.load(std::memory_order_relaxed) +
           unavailable.load(std::memory_order_relaxed) +
           failed_open.load(std::memory_order_relaxed);
  }

  /// "decisions=N continue=N refused=N unavailable=N failed_open=N".
  std::string summary() const {
    return "decisions=" + std::to_string(total()) +
           " continue=" + std::to_string(continued.load(std::memory_order_relaxed)) +
           " refused=" + std::to_string(refused.load(std::memory_order_relaxed)) +
           " unavailable=" + std::to_string(unavailable.load(std::memory_order_relaxed)) +
           " failed_open=" + std::to_string(failed_open.load(std::memory_order_relaxed));
  }
};

}  // namespace gw::dataplane
