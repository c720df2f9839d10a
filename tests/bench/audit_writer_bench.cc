// gw-audit-writer-bench: how many audit rows/s storage::AuditRepository::append_batch
// writes on its own (issue 4 "Benchmarks": audit >= 20,000 rows/s sustained), on a fresh
// database file opened like gctld opens its own (Database::open: WAL, migrations), one
// transaction per batch. Rows look like the decision path's: a UUID decision id, the
// current time, node, session, service, client address, MAIL, handler, policy, verdict,
// latency and four attributes.
//
// Prints one JSON object on stdout: {"rows", "batch", "seconds" (inside append_batch),
// "wall_seconds" (with building the records), "rows_per_s" (rows / seconds),
// "batch_ms": {p50, p99, max}, "db_bytes"}.
//
// With --rate R it drives controlplane::AuditWriter itself, as gctld's decision path does:
// a producer thread submits R records/s (paced every millisecond) for --seconds, then
// stop() writes the rest. At the rates a relay produces, the writer's batches are small
// (R x AuditWriter::kFlushInterval rows per transaction), so its CPU per row is above the
// bulk figure. Prints {"rate", "rows", "seconds", "writer_cpu_s", "writer_cpu_us_per_row",
// "db_bytes"}: writer CPU = the process's CPU time minus the producer thread's
// (getrusage RUSAGE_SELF / RUSAGE_THREAD), so building the records is not counted. Exit status 0, 1 when a batch fails or the
// stored count differs from the rows appended, 2 on a usage error.
#include <stdlib.h>
#include <sys/resource.h>

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/v1/policy.pb.h"
#include "controlplane/audit_writer.h"
#include "storage/audit_repository.h"
#include "storage/database.h"

namespace {

namespace v1 = gateway::v1;
using Clock = std::chrono::steady_clock;

/// A decision-path-like record; `seq` makes the decision id unique (UUID-shaped).
v1::AuditRecord make_record(std::uint64_t seq, std::int64_t now_ms) {
  char id[48];
  std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012" PRIx64, seq & std::uint64_t{0xffffffffffff});
  v1::AuditRecord r;
  r.set_decision_id(id);
  r.set_time_ms(now_ms);
  r.set_node_id("bench-relay-1");
  r.set_session_id("s-" + std::to_string(seq / 3));
  r.set_service("bench");
  r.set_interface_id(1);
  r.set_client_address("127.0.0.1:" + std::to_string(20000 + seq % 40000));
  r.set_command(v1::SMTP_COMMAND_MAIL);
  r.set_handler_id(2);
  r.set_policy("only-example-com");
  r.set_verdict(v1::VERDICT_CONTINUE);
  r.set_latency_us(180 + static_cast<std::int64_t>(seq % 200));
  auto& a = *r.mutable_attributes();
  a["smtp.helo.domain"] = "client.example";
  a["smtp.mail.from"] = "sender" + std::to_string(seq % 1000) + "@example.com";
  a["message.protocol.type"] = "smtp";
  a["monitoring.enabled"] = "false";
  return r;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size()) - 1e-9));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double cpu_seconds(int who) {
  rusage u{};
  getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/// --rate mode: AuditWriter fed at `rate` records/s for `seconds`.
int run_writer(double rate, double seconds, const std::filesystem::path& db_path) {
  gw::storage::Database::open(db_path);  // applies the migrations, as gctld's first connection
  const double process_before = cpu_seconds(RUSAGE_SELF);
  const double producer_before = cpu_seconds(RUSAGE_THREAD);
  std::uint64_t seq = 0;
  // How long each submit() took: what a decision waits for the writer (its lock).
  std::vector<double> submit_us;
  submit_us.reserve(static_cast<std::size_t>(rate * seconds) + 1000);
  {
    gw::controlplane::AuditWriter writer(db_path);
    const auto start = Clock::now();
    const auto end = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(seconds));
    for (auto tick = start; tick < end; tick += std::chrono::milliseconds(1)) {
      std::this_thread::sleep_until(tick);
      const double elapsed = std::chrono::duration<double>(tick - start).count() + 0.001;
      const auto due = static_cast<std::uint64_t>(elapsed * rate);
      const auto now_ms = wall_ms();
      while (seq < due) {
        auto record = make_record(++seq, now_ms);
        const auto before = Clock::now();
        const bool taken = writer.submit(std::move(record));
        submit_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - before).count());
        if (!taken) {
          std::fprintf(stderr, "gw-audit-writer-bench: the writer refused a record\n");
          return 1;
        }
      }
    }
    writer.stop();
    if (writer.written() != seq) {
      std::fprintf(stderr, "gw-audit-writer-bench: submitted %" PRIu64 ", written %" PRIu64 "\n",
                   seq, writer.written());
      return 1;
    }
  }
  const double writer_cpu = (cpu_seconds(RUSAGE_SELF) - process_before) -
                            (cpu_seconds(RUSAGE_THREAD) - producer_before);
  std::error_code ec;
  const auto db_bytes = std::filesystem::file_size(db_path, ec);
  nlohmann::json out = {
      {"rate", rate},
      {"rows", seq},
      {"seconds", seconds},
      {"writer_cpu_s", std::round(writer_cpu * 1000) / 1000},
      {"writer_cpu_us_per_row", std::round(writer_cpu * 1e7 / static_cast<double>(seq)) / 10},
      {"db_bytes", ec ? 0 : db_bytes},
      {"submit_us",
       {{"p50", percentile(submit_us, 50)},
        {"p99", percentile(submit_us, 99)},
        {"p99.9", percentile(submit_us, 99.9)},
        {"max", percentile(submit_us, 100)}}},
  };
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

int run(std::uint64_t rows, std::size_t batch, const std::filesystem::path& db_path) {
  auto db = gw::storage::Database::open(db_path);
  gw::storage::AuditRepository audit(db);
  std::vector<v1::AuditRecord> records;
  records.reserve(batch);
  std::vector<double> batch_ms;
  std::uint64_t written = 0, seq = 0;
  Clock::duration busy{};
  const auto wall_start = Clock::now();
  while (seq < rows) {
    records.clear();
    const auto now_ms = wall_ms();
    for (std::size_t i = 0; i < batch && seq < rows; ++i) records.push_back(make_record(++seq, now_ms));
    // Timed: the append only (the records are built by the decision path in gctld).
    const auto t0 = Clock::now();
    auto appended = audit.append_batch(records);
    const auto t1 = Clock::now();
    if (!appended) {
      std::fprintf(stderr, "gw-audit-writer-bench: append_batch: %s\n",
                   appended.error().message.c_str());
      return 1;
    }
    written += appended.value();
    busy += t1 - t0;
    batch_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  const double wall_seconds = std::chrono::duration<double>(Clock::now() - wall_start).count();
  auto count = db.prepare("SELECT count(*) FROM audit");
  std::int64_t stored = -1;
  if (count) {
    auto row = count.value().step();
    if (row && row.value()) stored = count.value().column_int64(0);
  }
  if (written != rows || stored != static_cast<std::int64_t>(rows)) {
    std::fprintf(stderr, "gw-audit-writer-bench: appended %" PRIu64 ", stored %" PRId64
                 ", expected %" PRIu64 "\n", written, stored, rows);
    return 1;
  }
  const double seconds = std::chrono::duration<double>(busy).count();
  std::error_code ec;
  const auto db_bytes = std::filesystem::file_size(db_path, ec);
  nlohmann::json out = {
      {"rows", rows},
      {"batch", batch},
      {"seconds", std::round(seconds * 1000) / 1000},
      {"wall_seconds", std::round(wall_seconds * 1000) / 1000},
      {"rows_per_s", std::round(static_cast<double>(rows) / seconds)},
      {"batch_ms",
       {{"p50", percentile(batch_ms, 50)},
        {"p99", percentile(batch_ms, 99)},
        {"max", percentile(batch_ms, 100)}}},
      {"db_bytes", ec ? 0 : db_bytes},
  };
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gw-audit-writer-bench: AuditRepository::append_batch rows/s on a temp database"};
  std::uint64_t rows = 200000;
  std::size_t batch = 256;
  std::string dir;
  double rate = 0, seconds = 10;
  app.add_option("--rate", rate,
                 "records/s into an AuditWriter instead of bulk append_batch calls (0: bulk)")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--seconds", seconds, "how long --rate runs")->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--rows", rows, "rows to append")->check(CLI::Range(1, 100000000))
      ->capture_default_str();
  app.add_option("--batch", batch, "rows per append_batch (one transaction)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--dir", dir,
                 "directory for the temporary database (default: a new one under $TMPDIR or "
                 "/tmp; removed afterwards)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  spdlog::set_level(spdlog::level::warn);  // no "applied migration" lines around the JSON
  std::filesystem::path base = dir.empty() ? std::filesystem::temp_directory_path()
                                           : std::filesystem::path(dir);
  std::string tmpl = (base / "gw-audit-bench.XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("gw-audit-writer-bench: mkdtemp");
    return 1;
  }
  const std::filesystem::path work = tmpl;
  int rc = 1;
  try {
    rc = rate > 0 ? run_writer(rate, seconds, work / "audit.db") : run(rows, batch, work / "audit.db");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gw-audit-writer-bench: %s\n", e.what());
  }
  std::error_code ec;
  std::filesystem::remove_all(work, ec);
  return rc;
}
