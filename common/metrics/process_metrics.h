// The standard process_* metrics of Prometheus client libraries, read from /proc (Linux).
#pragma once

#include "common/metrics/exposition.h"

namespace gw::metrics {

/// Writes process_cpu_seconds_total, process_resident_memory_bytes,
/// process_virtual_memory_bytes, process_open_fds, process_max_fds and
/// process_start_time_seconds (Unix time) for the calling process, with the names and units
/// Prometheus client libraries use. A value /proc does not give is left out, never
/// invented; nothing throws for an unreadable /proc.
void write_process_metrics(ExpositionWriter& out);

}  // namespace gw::metrics
