// ControlPlane::metrics_text: what gctld's /metrics endpoint shows (DESIGN.md §8).
#include "common/metrics/exposition.h"
#include "common/metrics/process_metrics.h"
#include "controlplane/control_plane.h"

namespace gw::controlplane {

std::string ControlPlane::metrics_text() const {
  using metrics::MetricType;
  metrics::ExpositionWriter out;
  out.single("gw_config_version", MetricType::kGauge,
             "Version of the configuration the control plane serves.",
             hub_.current()->version);
  out.single("gw_nodes_watching", MetricType::kGauge,
             "Relay nodes following the configuration (open watch streams).",
             static_cast<std::uint64_t>(hub_.watcher_count()));
  out.single("gw_audit_records_written_total", MetricType::kCounter,
             "Audit records written to the database since start.", audit_writer_.written());
  out.single("gw_audit_queue_records", MetricType::kGauge,
             "Audit records queued and not yet written.",
             static_cast<std::uint64_t>(audit_writer_.queued()));
  decision_service_.metrics().write(out);
  metrics::write_process_metrics(out);
  return out.take();
}

}  // namespace gw::controlplane
