// DecisionMetrics: fixed arrays of relaxed counters and a latency histogram.
#include "controlplane/decision_metrics.h"

namespace gw::controlplane {
namespace {

constexpr const char* kCommandNames[] = {"unspecified", "helo", "auth", "mail", "rcpt", "data"};
constexpr const char* kVerdictNames[] = {"unspecified", "continue", "reject", "tempfail"};
constexpr const char* kFailureNames[] = {"error", "deadline", "audit_full", "overloaded"};

}  // namespace

void DecisionMetrics::count(gateway::v1::SmtpCommand command, gateway::v1::Verdict verdict,
                            std::chrono::microseconds latency) {
  const auto c = static_cast<std::size_t>(command);
  const auto v = static_cast<std::size_t>(verdict);
  if (c < kCommands && v < kVerdicts) decisions_[c][v].fetch_add(1, std::memory_order_relaxed);
  latency_.observe(latency);
}

void DecisionMetrics::count_failure(DecisionFailure failure) {
  failures_[static_cast<std::size_t>(failure)].fetch_add(1, std::memory_order_relaxed);
}

void DecisionMetrics::write(metrics::ExpositionWriter& out) const {
  out.family("gw_decisions_total", metrics::MetricType::kCounter,
             "Policy decisions answered, by SMTP command and verdict.");
  for (std::size_t c = 1; c < kCommands; ++c) {
    for (std::size_t v = 1; v < kVerdicts; ++v) {
      out.sample("gw_decisions_total",
                 {{"command", kCommandNames[c]}, {"verdict", kVerdictNames[v]}},
                 decisions_[c][v].load(std::memory_order_relaxed));
    }
  }
  out.family("gw_decision_failures_total", metrics::MetricType::kCounter,
             "Decisions answered without a verdict (the node fails safe or open): error, "
             "deadline (past the node's decision timeout), audit_full, overloaded (slow pool "
             "full).");
  for (std::size_t f = 0; f < kFailures; ++f) {
    out.sample("gw_decision_failures_total", {{"reason", kFailureNames[f]}},
               failures_[f].load(std::memory_order_relaxed));
  }
  latency_.write(out, "gw_decision_duration_seconds",
                 "Time from a decision request's arrival to its answer, audited decisions "
                 "only.");
}

}  // namespace gw::controlplane
