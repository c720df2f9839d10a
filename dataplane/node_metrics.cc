// render_node_metrics: the node's counters as one Prometheus exposition.
#include "dataplane/node_metrics.h"

#include "common/metrics/exposition.h"
#include "common/metrics/process_metrics.h"

namespace gw::dataplane {

using metrics::MetricType;

std::string render_node_metrics(const NodeMetricsSources& sources) {
  metrics::ExpositionWriter out;
  out.family("gw_node_info", MetricType::kGauge, "This relay node's id and instance (always 1).");
  out.sample("gw_node_info", {{"node_id", sources.node_id}, {"instance", sources.instance}},
             std::uint64_t{1});
  if (sources.config_version) {
    out.single("gw_node_config_version", MetricType::kGauge,
               "Version of the configuration snapshot the node runs (0 until the first one "
               "arrives, and while the control plane has never been configured).",
               sources.config_version->load(std::memory_order_relaxed));
  }
  if (sources.policy) {
    const PolicyCounters& p = *sources.policy;
    out.family("gw_policy_decisions_total", MetricType::kCounter,
               "Policy decisions the node asked for, by outcome: continue, refused (the "
               "policy's reject or tempfail), unavailable (no answer in time: 451 4.3.0 or "
               "454 4.7.0), failed_open (no answer, the service fails open).");
    out.sample("gw_policy_decisions_total", {{"outcome", "continue"}},
               p.continued.load(std::memory_order_relaxed));
    out.sample("gw_policy_decisions_total", {{"outcome", "refused"}},
               p.refused.load(std::memory_order_relaxed));
    out.sample("gw_policy_decisions_total", {{"outcome", "unavailable"}},
               p.unavailable.load(std::memory_order_relaxed));
    out.sample("gw_policy_decisions_total", {{"outcome", "failed_open"}},
               p.failed_open.load(std::memory_order_relaxed));
  }
  if (sources.relay) sources.relay->write(out);
  metrics::write_process_metrics(out);
  return out.take();
}

}  // namespace gw::dataplane
