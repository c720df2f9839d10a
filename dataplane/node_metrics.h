// What grelayd's /metrics endpoint shows (DESIGN.md §8; README "Metrics").
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "dataplane/relay_counters.h"

namespace gw::dataplane {

/// The node's counters the exposition reads; every pointer must outlive the exporter.
struct NodeMetricsSources {
  std::string node_id;
  std::string instance;
  const RelayCounters* relay = nullptr;
  /// Version of the last configuration snapshot applied (0: none yet).
  const std::atomic<std::uint64_t>* config_version = nullptr;
};

/// The node's metrics in the Prometheus text format: gw_node_info{node_id,instance} 1,
/// gw_node_config_version, the per-service families of RelayCounters::write (decision
/// outcomes included), and process_*.
std::string render_node_metrics(const NodeMetricsSources& sources);

}  // namespace gw::dataplane
