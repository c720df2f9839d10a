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
  if (sources.relay) sources.relay->write(out);
  metrics::write_process_metrics(out);
  return out.take();
}

}  // namespace gw::dataplane
