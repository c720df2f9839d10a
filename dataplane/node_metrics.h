// What grelayd's /metrics endpoint shows (DESIGN.md §8; README "Metrics").
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "dataplane/policy_counters.h"
#include "dataplane/relay_counters.h"

namespace gw::dataplane {

/// The node's counters the exposition reads; every pointer must outlive the exporter.
struct NodeMetricsSources {
  std::string node_id;
  std::string instance;
  const RelayCounters* relay = nullptr;
  const PolicyCounters* policy = nullptr;
  /// Version of the last configuration snapshot applied (0: none yet).
  const std::atomic<std::uint64_t>* config_version = nullptr;
};

/// The node's metrics in the Prometheus text format: gw_node_info{node_id,instance} 1,
/// gw_node_config_version, gw_policy_decisions_total{outcome=continue|refused|unavailable|
/// failed_open}, the per-service families of RelayCounters::write, and process_*.
std::string render_node_metrics(const NodeMetricsSources& sources);

}  // namespace gw::dataplane
