// Counts of the decisions gctld answered and failed, for its /metrics endpoint (DESIGN.md §8).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "common/metrics/exposition.h"
#include "common/metrics/histogram.h"
#include "gateway/v1/decision.pb.h"

namespace gw::controlplane {

/// Why a decision got no verdict (the node then fails safe or open).
enum class DecisionFailure {
  kError,            // the engine refused the request (unknown service, handler, ...)
  kDeadline,         // took or waited longer than the node's decision timeout
  kAuditFull,        // the audit queue could not take the record
  kOverloaded,       // the slow-decision pool's queue was full
};

/// Lock-free counters updated on the decision path (any gRPC or slow-pool thread) and read
/// by the metrics endpoint. Thread-safe.
class DecisionMetrics {
 public:
  /// One answered decision: its command, verdict and latency (request received → answer).
  void count(gateway::v1::SmtpCommand command, gateway::v1::Verdict verdict,
             std::chrono::microseconds latency);
  /// One decision that got no verdict.
  void count_failure(DecisionFailure failure);

  /// Writes gw_decisions_total{command,verdict} (helo, auth, mail, rcpt, data ×
  /// continue, reject, tempfail), gw_decision_failures_total{reason=error|deadline|
  /// audit_full|overloaded} and the histogram gw_decision_duration_seconds.
  void write(metrics::ExpositionWriter& out) const;

 private:
  static constexpr std::size_t kCommands = 6;  // SmtpCommand values, UNSPECIFIED included
  static constexpr std::size_t kVerdicts = 4;  // Verdict values, UNSPECIFIED included
  static constexpr std::size_t kFailures = 4;
  std::array<std::array<std::atomic<std::uint64_t>, kVerdicts>, kCommands> decisions_{};
  std::array<std::atomic<std::uint64_t>, kFailures> failures_{};
  /// 50 µs to 5 s: a policy-only decision takes tens of µs, an Argon2id check or a large
  /// DATA message tens to hundreds of ms; the node's timeout defaults to 1 s.
  metrics::LatencyHistogram latency_{50,     100,    250,    500,     1000,    2500,   5000,
                                     10000,  25000,  50000,  100000,  250000,  500000,
                                     1000000, 2500000, 5000000};
};

}  // namespace gw::controlplane
