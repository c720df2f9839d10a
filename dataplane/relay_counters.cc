// RelayCounters: per-service counters and their Prometheus families.
#include "dataplane/relay_counters.h"

#include <functional>
#include <utility>
#include <vector>

#include "common/metrics/exposition.h"

namespace gw::dataplane {

using metrics::MetricType;

std::shared_ptr<ServiceCounters> RelayCounters::for_service(std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = services_.find(name);
  if (it == services_.end()) {
    it = services_.emplace(std::string(name), std::make_shared<ServiceCounters>()).first;
  }
  return it->second;
}

void RelayCounters::write(metrics::ExpositionWriter& out) const {
  std::vector<std::pair<std::string, std::shared_ptr<ServiceCounters>>> services;
  {
    std::lock_guard lock(mu_);
    services.assign(services_.begin(), services_.end());
  }
  using Field = std::atomic<std::uint64_t> ServiceCounters::*;
  const auto counter = [&](const char* name, const char* help, Field field) {
    out.family(name, MetricType::kCounter, help);
    for (const auto& [service, c] : services) {
      out.sample(name, {{"service", service}}, ((*c).*field).load(std::memory_order_relaxed));
    }
  };
  counter("gw_relay_sessions_total", "Client connections accepted and relayed, per service.",
          &ServiceCounters::sessions);
  counter("gw_relay_sessions_refused_total",
          "Client connections refused over the service's session limits (421 or closed).",
          &ServiceCounters::sessions_refused);
  out.family("gw_relay_sessions_active", MetricType::kGauge, "Relay sessions open now.");
  for (const auto& [service, c] : services) {
    out.sample("gw_relay_sessions_active", {{"service", service}},
               c->sessions_active.load(std::memory_order_relaxed));
  }
  out.family("gw_relay_messages_total", MetricType::kCounter,
             "Messages whose end of data got an answer: delivered (the upstream's 2xx), "
             "upstream_refused (the upstream's 4xx/5xx relayed), refused (by the gateway: a "
             "content defect or the DATA policy's reply), failed (a 4xx for an upstream "
             "fault, or 451 4.3.0 when the DATA decision did not come in time).");
  for (const auto& [service, c] : services) {
    out.sample("gw_relay_messages_total", {{"service", service}, {"outcome", "delivered"}},
               c->delivered.load(std::memory_order_relaxed));
    out.sample("gw_relay_messages_total",
               {{"service", service}, {"outcome", "upstream_refused"}},
               c->upstream_refused.load(std::memory_order_relaxed));
    out.sample("gw_relay_messages_total", {{"service", service}, {"outcome", "refused"}},
               c->refused.load(std::memory_order_relaxed));
    out.sample("gw_relay_messages_total", {{"service", service}, {"outcome", "failed"}},
               c->failed.load(std::memory_order_relaxed));
  }
  counter("gw_relay_delivered_octets_total",
          "Octets of delivered messages as the client sent them (unstuffed, without the "
          "terminator).",
          &ServiceCounters::delivered_octets);
  counter("gw_relay_upstream_failures_total",
          "Upstream faults (connect, timeout, protocol, lost connection) seen by sessions.",
          &ServiceCounters::upstream_failures);
  static constexpr const char* kOutcomes[ServiceCounters::kDecisionOutcomes] = {
      "continue", "reject", "tempfail", "unavailable", "failed_open"};
  out.family("gw_policy_decisions_total", MetricType::kCounter,
             "Policy decisions the node asked for, by what it did: continue, reject and "
             "tempfail (the policy's verdict), unavailable (no answer in time: 451 4.3.0 or "
             "454 4.7.0), failed_open (no answer, the service fails open).");
  for (const auto& [service, c] : services) {
    for (std::size_t i = 0; i < ServiceCounters::kDecisionOutcomes; ++i) {
      out.sample("gw_policy_decisions_total", {{"service", service}, {"outcome", kOutcomes[i]}},
                 c->decisions[i].load(std::memory_order_relaxed));
    }
  }
}

}  // namespace gw::dataplane
