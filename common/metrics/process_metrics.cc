// process_* metrics from /proc/self/stat, /proc/self/fd, /proc/stat and getrlimit.
#include "common/metrics/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace gw::metrics {
namespace {

/// The fields of /proc/self/stat after the command name (field 3 is index 0).
std::vector<std::string> stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return {};
  // The command name (field 2) is in parentheses and may hold spaces and ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

std::optional<std::uint64_t> field(const std::vector<std::string>& fields, std::size_t number) {
  // `number` as proc(5) counts (1-based, field 3 = state = index 0).
  if (number < 3 || number - 3 >= fields.size()) return std::nullopt;
  try {
    return std::stoull(fields[number - 3]);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<std::uint64_t> boot_time_s() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      std::uint64_t value = 0;
      if (in >> value) return value;
      return std::nullopt;
    }
    in.ignore(1 << 20, '\n');
  }
  return std::nullopt;
}

}  // namespace

void write_process_metrics(ExpositionWriter& out) {
  const auto fields = stat_fields();
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);
  const auto utime = field(fields, 14);
  const auto stime = field(fields, 15);
  if (utime && stime && ticks > 0) {
    out.single("process_cpu_seconds_total", MetricType::kCounter,
               "Total user and system CPU time spent in seconds.",
               static_cast<double>(*utime + *stime) / static_cast<double>(ticks));
  }
  if (const auto rss = field(fields, 24); rss && page > 0) {
    out.single("process_resident_memory_bytes", MetricType::kGauge,
               "Resident memory size in bytes.", *rss * static_cast<std::uint64_t>(page));
  }
  if (const auto vsize = field(fields, 23)) {
    out.single("process_virtual_memory_bytes", MetricType::kGauge,
               "Virtual memory size in bytes.", *vsize);
  }
  std::error_code ec;
  std::uint64_t fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++fds;
  }
  if (!ec) {
    // The directory's own descriptor, open while it is read, is not one of the process's.
    out.single("process_open_fds", MetricType::kGauge, "Number of open file descriptors.",
               fds > 0 ? fds - 1 : 0);
  }
  if (rlimit limit{}; getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    out.single("process_max_fds", MetricType::kGauge,
               "Maximum number of open file descriptors.",
               static_cast<std::uint64_t>(limit.rlim_cur));
  }
  const auto start_ticks = field(fields, 22);
  const auto boot = boot_time_s();
  if (start_ticks && boot && ticks > 0) {
    out.single("process_start_time_seconds", MetricType::kGauge,
               "Start time of the process since unix epoch in seconds.",
               static_cast<double>(*boot) +
                   static_cast<double>(*start_ticks) / static_cast<double>(ticks));
  }
}

}  // namespace gw::metrics
