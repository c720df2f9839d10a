// Tests of the process_* metrics read from /proc.
#include "common/metrics/process_metrics.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <regex>
#include <string>

namespace gw::metrics {
namespace {

double value_of(const std::string& text, const std::string& name) {
  std::smatch m;
  const std::regex line("\n" + name + " ([0-9.e+]+)\n");
  if (!std::regex_search(text, m, line)) return -1;
  return std::stod(m[1]);
}

TEST(ProcessMetrics, ReadsThisProcess) {
  ExpositionWriter out;
  write_process_metrics(out);
  const std::string& text = out.text();
  EXPECT_GE(value_of(text, "process_cpu_seconds_total"), 0.0) << text;
  EXPECT_GT(value_of(text, "process_resident_memory_bytes"), 1024.0 * 1024) << text;
  EXPECT_GT(value_of(text, "process_virtual_memory_bytes"),
            value_of(text, "process_resident_memory_bytes"));
  EXPECT_GT(value_of(text, "process_max_fds"), 0.0);
  const double start = value_of(text, "process_start_time_seconds");
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_GT(start, now - 3600);
  EXPECT_LE(start, now + 1);
  // An extra open descriptor shows up.
  const double fds = value_of(text, "process_open_fds");
  const int fd = open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  ExpositionWriter again;
  write_process_metrics(again);
  EXPECT_EQ(value_of(again.text(), "process_open_fds"), fds + 1);
  close(fd);
}

}  // namespace
}  // namespace gw::metrics
